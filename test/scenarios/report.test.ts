import { existsSync, readFileSync } from "node:fs"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { renderReport } from "../../scenarios/report.ts"
import { cells, emptyReport, sectionLines } from "./report-sections.ts"
import type { Report, ReportReach } from "../../scenarios/report.ts"

/** the contract lives beside the checkout (../shared), not in it: a clone on its own has none */
const contractFile = new URL("../../../shared/spec/scenario-v1.md", import.meta.url)
const contractMissing = `the contract ${contractFile.pathname} is not beside this checkout`

/** the report example of the contract itself, so the renderer is held to the published shape */
const contractExample = (): Report => {
  const spec = readFileSync(contractFile, "utf8")
  const json = /## Report[\s\S]*?```json\n([\s\S]*?)```/.exec(spec)?.[1]
  if (json === undefined) throw new Error("the contract's report example was not found")
  return JSON.parse(json) as Report
}



describe("renderReport", () => {
  it.skipIf(!existsSync(contractFile))(`renders the contract's example with every section${existsSync(contractFile) ? "" : ` (skipped: ${contractMissing})`}`, () => {
    const text = renderReport(contractExample())
    expect(text.split("\n")[0]).toBe("seed-figure-11-3 on sim: PASSED (1 of 1 expectation held)")
    expect(sectionLines(text, "Networks").map(cells)).toEqual([
      ["NAME", "DRIVER", "SUBNET", "GATEWAY", "INTERNAL"],
      ["net-a", "bridge", "10.1.0.0/24", "10.1.0.1", "no"],
    ])
    expect(sectionLines(text, "Endpoints").map(cells)[1]).toEqual(["web", "net-a", "10.1.0.2/24", "02:42:0a:01:00:02", "eth0"])
    expect(sectionLines(text, "Reachability").map(cells)).toEqual([["FROM \\ TO", "db/10.1.0.3"], ["web", "✓"]])
    expect(sectionLines(text, "Resolve").map(cells)[1]).toEqual(["web", "db", "10.1.0.3"])
    expect(sectionLines(text, "Steps").map(cells)).toEqual([
      ["#", "OP", "RESULT"],
      ["0", "connect", "✓", "ok"],
      // the example records no expectError, but it passed: so the refusal was expected
      ["6", "createNetwork", "✓", "refused as expected: SubnetOverlap: …"],
    ])
    expect(text).toContain("Timings: setup 0.0 ms, checks 0.0 ms, teardown 0.0 ms")
  })

  it("the matrix shows every measured pair where its row and column meet", () => {
    const names = ["alpha", "beta", "gamma", "delta"]
    const reachArbitrary = fc
      .uniqueArray(
        fc.record({
          from: fc.constantFrom(...names),
          to: fc.constantFrom(...names),
          address: fc.constantFrom("10.0.0.2", "10.0.0.10", "10.1.0.3"),
          reachable: fc.boolean(),
        }),
        { selector: (cell) => `${cell.from} ${cell.to} ${cell.address}`, minLength: 1, maxLength: 30 },
      )
      .map((list) => list.filter((cell) => cell.from !== cell.to))
      .filter((list) => list.length > 0)
    fc.assert(
      fc.property(reachArbitrary, (generated) => {
        const reach: Array<ReportReach> = generated.map((cell) => ({ ...cell, network: "n" }))
        const [header, ...rows] = sectionLines(renderReport({ ...emptyReport, reach }), "Reachability").map(cells)
        const columns = header!.slice(1)
        for (const row of rows) {
          const from = row[0]!
          columns.forEach((column, index) => {
            const [to, address] = column.split("/")
            const cell = reach.find((candidate) => candidate.from === from && candidate.to === to && candidate.address === address)
            const expected = to === from ? "·" : cell === undefined ? "-" : cell.reachable ? "✓" : "✗"
            expect(row[index + 1]).toBe(expected)
          })
        }
        expect(rows.map((row) => row[0]).sort()).toEqual([...new Set(reach.map((cell) => cell.from))].sort())
      }),
      { numRuns: 100 },
    )
  })

  it("a failed expectation says which keys differed, and nothing about those that held", () => {
    const text = renderReport({
      ...emptyReport,
      ok: false,
      expectations: [
        {
          kind: "reach",
          ok: false,
          expected: { from: "web", to: "db", network: "net-a", reachable: true },
          actual: { from: "web", to: "db", network: "net-a", reachable: false },
        },
        { kind: "resolve", ok: true, expected: { from: "web", name: "db", addresses: ["10.1.0.3"] }, actual: { from: "web", name: "db", addresses: ["10.1.0.3"] } },
        { kind: "resolve", ok: false, expected: { from: "db", name: "web", addresses: [] }, actual: { from: "db", name: "web", addresses: ["10.1.0.2"] } },
      ],
    })
    expect(text.split("\n")[0]).toBe("t on sim: FAILED (1 of 3 expectations held)")
    expect(sectionLines(text, "Expectations")).toEqual([
      "  ✗ reach   web → db on net-a: reachable",
      "      reachable: expected true, got false",
      '  ✓ resolve web resolves "db": [10.1.0.3]',
      '  ✗ resolve db resolves "web": []',
      "      addresses: expected [], got [10.1.0.2]",
    ])
  })

  it("a failed check from a container that is not there says so", () => {
    const text = renderReport({
      ...emptyReport,
      ok: false,
      expectations: [
        {
          kind: "reach",
          ok: false,
          step: 2,
          expected: { from: "gone", to: "db", reachable: true },
          actual: { from: "gone", to: "db", reachable: false, addresses: [], fromExists: false },
        },
        { kind: "resolve", ok: false, expected: { from: "db", name: "web", addresses: ["10.1.0.2"] }, actual: { from: "db", name: "web", addresses: [] } },
      ],
    })
    expect(sectionLines(text, "Expectations")).toEqual([
      "  ✗ reach   step 2: gone → db: reachable",
      "      reachable: expected true, got false",
      "      (no container gone at this point)",
      '  ✗ resolve db resolves "web": [10.1.0.2]',
      "      addresses: expected [10.1.0.2], got []",
    ])
  })

  it("shows each expectError beside its step, and in-step expectations with their step", () => {
    const text = renderReport({
      ...emptyReport,
      ok: false,
      steps: [
        { index: 0, op: "createNetwork", ok: false, error: { code: "SubnetOverlap", message: "Pool overlaps" } },
        { index: 1, op: "removeNetwork", ok: true },
        { index: 2, op: "connect", ok: false, error: { code: "NetworkNotFound", message: "network x not found" } },
        { index: 3, op: "expect", ok: true },
        { index: 4, op: "disconnect", ok: false, error: { code: "NotConnected", message: "not connected" } },
        { index: 5, op: "removeContainer", ok: true },
      ],
      expectations: [
        { kind: "error", ok: true, step: 0, expected: { code: "SubnetOverlap" }, actual: { code: "SubnetOverlap", message: "Pool overlaps" } },
        { kind: "error", ok: false, step: 1, expected: { code: "ActiveEndpoints" }, actual: { code: null } },
        { kind: "error", ok: false, step: 2, expected: { code: "EndpointExists" }, actual: { code: "NetworkNotFound", message: "network x not found" } },
        { kind: "reach", ok: true, step: 3, expected: { from: "a1", to: "b1", reachable: false }, actual: { from: "a1", to: "b1", reachable: false } },
      ],
    })
    expect(sectionLines(text, "Steps").slice(1).map(cells)).toEqual([
      ["0", "createNetwork", "✓", "refused as expected: SubnetOverlap: Pool overlaps"],
      ["1", "removeNetwork", "✗", "expected ActiveEndpoints, but it succeeded"],
      ["2", "connect", "✗", "expected EndpointExists, got NetworkNotFound: network x not found"],
      ["3", "expect", "✓", "ok"],
      ["4", "disconnect", "✗", "refused: NotConnected: not connected"],
      ["5", "removeContainer", "✓", "ok"],
    ])
    expect(sectionLines(text, "Expectations")).toEqual(["  ✓ reach   step 3: a1 → b1: unreachable"])
    expect(text.split("\n")[0]).toBe("t on sim: FAILED (2 of 4 expectations held; 3 steps did not go as written)")
  })

  it("shows probe traces only when the report carries them", () => {
    const reach: Array<ReportReach> = [
      { from: "a1", to: "b1", network: "n", address: "10.0.0.3", reachable: true },
      {
        from: "b1",
        to: "a1",
        network: "n",
        address: "10.0.0.2",
        reachable: false,
        reason: "filtered",
        trace: [
          { ns: "cnm-b1", dev: "eth0", event: "echo request out" },
          { ns: "cnm-host1", event: "dropped by DOCKER-ISOLATION" },
        ],
      },
    ]
    expect(renderReport({ ...emptyReport, reach: reach.slice(0, 1) })).not.toContain("Probe traces")
    expect(sectionLines(renderReport({ ...emptyReport, reach }), "Probe traces")).toEqual([
      "  b1 → a1 10.0.0.2 on n: filtered",
      "      cnm-b1 eth0: echo request out",
      "      cnm-host1: dropped by DOCKER-ISOLATION",
    ])
  })
})
