/**
 * A container's own server on 53/udp beside the embedded DNS: Docker's resolver holds a random
 * port on 127.0.0.11 that the sandbox DNATs 127.0.0.11:53 to, so a server bound to every address
 * answers the container's own 127.0.0.1:53 (and its endpoint addresses), while 127.0.0.11:53 stays
 * the resolver's. Run on the simulator and, when root, on linux: the listeners are the controller's.
 */
import { describe, expect, it } from "vitest"
import { loadScenarioText } from "../../scenarios/load.ts"
import type { ReportConnect } from "../../scenarios/report-connect.ts"
import { runScenario } from "../../scenarios/runner.ts"
import { scenarioOf } from "../scenarios/load-results.ts"

const scenario = scenarioOf(
  loadScenarioText(
    `version: 1
name: loopback-53
networks: [{ name: front, subnet: 10.93.0.0/24 }]
containers:
  - { name: web, networks: [front], listen: [53/udp] }
  - { name: peer, networks: [front] }
expect:
  connect:
    - { from: web, to: 127.0.0.1, port: 53, proto: udp }
    - { from: web, to: web, port: 53, proto: udp }
    - { from: peer, to: web, port: 53, proto: udp }
  resolve:
    - { from: web, name: peer, addresses: [10.93.0.3] }
`,
    "loopback-53.yaml",
  ),
)

const isRoot = process.getuid?.() === 0

describe("a container's own 53/udp server beside the embedded DNS", () => {
  for (const backend of ["sim", "linux"] as const) {
    it.skipIf(backend === "linux" && !isRoot)(`answers its own 127.0.0.1:53 and its addresses, the DNS still answers (${backend})`, async () => {
      const report = await runScenario(scenario, { backend })
      const rows = (report as typeof report & { connect: ReadonlyArray<ReportConnect> }).connect
      console.info(rows.map((row) => `${backend}: ${row.from} → ${row.to}:${row.port}/udp ${row.outcome} ${row.answeredBy ?? "-"} ${row.seenFrom ?? "-"}`).join("\n"))
      expect(rows.map((row) => [row.answeredBy, row.seenFrom])).toEqual([
        ["web", "127.0.0.1"],
        ["web", "10.93.0.2"],
        ["web", "10.93.0.3"],
      ])
      expect(report.expectations.filter((expectation) => !expectation.ok)).toEqual([])
    }, 120_000)
  }
})
