/**
 * Names the file defines are checked when the step runs, on the state of that moment (the
 * contract's "Names and when they are checked"): a step on something that is not there fails with
 * its error code and the run goes on; a check from a container that is not there answers nothing.
 * Docker's own answers for these cases are the fixtures test/fixtures/docker/names-*.yaml; these
 * tests hold the report's shape and the run's verdict.
 */
import { describe, expect, it } from "vitest"
import { outcomes, runInline as run } from "./run-inline.ts"


const twoNetworks = `networks:
  - { name: n0, subnet: 10.60.0.0/24 }
  - { name: n1, subnet: 10.61.0.0/24 }
containers:
  - { name: c0, networks: [n0] }
  - { name: c1, networks: [n1] }
`

describe("a name the file defines, used when the step runs", () => {
  it("a disconnect from a network whose removal failed is NotConnected, and the run goes on to report it (ok: false)", async () => {
    const report = await run(`${twoNetworks}steps:
  - removeNetwork: { name: n0 }
  - disconnect: { container: c1, network: n0 }
  - disconnect: { container: c0, network: n0 }
  - removeNetwork: { name: n0 }
  - connect: { container: c1, network: n0 }
`)
    expect(outcomes(report)).toEqual([
      "0 removeNetwork ActiveEndpoints",
      "1 disconnect NotConnected",
      "2 disconnect ok",
      "3 removeNetwork ok",
      "4 connect NetworkNotFound",
    ])
    expect(report.ok).toBe(false)
    expect(report.networks.map((network) => network.name)).not.toContain("n0")
  })

  it("the same steps with their expectError hold", async () => {
    const report = await run(`${twoNetworks}steps:
  - { removeNetwork: { name: n0 }, expectError: ActiveEndpoints }
  - { disconnect: { container: c1, network: n0 }, expectError: NotConnected }
  - { removeContainer: { name: c0 } }
  - { removeContainer: { name: c0 }, expectError: ContainerNotFound }
  - { connect: { container: c0, network: n1 }, expectError: ContainerNotFound }
  - { connect: { container: late, network: n1 }, expectError: ContainerNotFound }
  - { createContainer: { name: late, networks: [n1] } }
`)
    expect(report.expectations.filter((expectation) => !expectation.ok)).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.endpoints.map((endpoint) => `${endpoint.container} ${endpoint.address}`)).toEqual(["c1 10.61.0.2/24", "late 10.61.0.3/24"])
  })
})

describe("a check from or to a container that does not exist at that point", () => {
  const scenario = `${twoNetworks}steps:
  - removeContainer: { name: c0 }
  - expect:
      reach:
        - { from: c0, to: c1, reachable: false }
        - { from: c1, to: c0, reachable: false }
        - { from: late, to: c1, reachable: true }
      resolve:
        - { from: c0, name: c1, addresses: [] }
        - { from: late, name: c1 }
  - createContainer: { name: late, networks: [n1] }
expect:
  reach:
    - { from: c0, to: late, reachable: false }
  resolve:
    - { from: c0, name: late, addresses: [] }
    - { from: late, name: c1, addresses: [10.61.0.2] }
`

  it("from it: nothing is probed or asked; it reaches nothing and resolves nothing, in-step and final", async () => {
    const report = await run(scenario)
    const fromAbsent = report.expectations.filter((expectation) => expectation.actual["fromExists"] === false)
    expect(fromAbsent.map((e) => [e.kind, e.step ?? "final", e.expected["from"], e.ok, e.actual["addresses"]])).toEqual([
      ["reach", 1, "c0", true, []],
      ["reach", 1, "late", false, []],
      ["resolve", 1, "c0", true, []],
      ["reach", "final", "c0", true, []],
      ["resolve", "final", "c0", true, []],
    ])
    // the answer is still reported for a query without expected addresses
    expect(report.resolve.filter((row) => row.from !== "c1")).toEqual([
      { from: "c0", name: "c1", addresses: [] },
      { from: "late", name: "c1", addresses: [] },
      { from: "c0", name: "late", addresses: [] },
      { from: "late", name: "c1", addresses: ["10.61.0.2"] },
    ])
    expect(report.reach.filter((cell) => cell.from === "c0" || cell.to === "c0")).toEqual([])
    expect(report.ok).toBe(false)
  })

  it("to it: there is no address to reach, so it is unreachable", async () => {
    const report = await run(scenario)
    const toAbsent = report.expectations.find((e) => e.kind === "reach" && e.expected["to"] === "c0")
    expect(toAbsent).toMatchObject({ ok: true, actual: { from: "c1", to: "c0", reachable: false, addresses: [] } })
    expect(toAbsent?.actual).not.toHaveProperty("fromExists")
  })
})
