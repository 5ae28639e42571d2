/**
 * A connect row to a container's name is looked up as a Docker client does it (and as the services
 * recorder did): a container with a user network asks its embedded DNS and connects to the first
 * answer, so the address tried is the one the resolver's network order gives (internal networks
 * last, then by name), and a name the resolver does not answer sends nothing. Only a client without
 * the embedded DNS (default bridge only, a host, outside) takes the container's address directly.
 * Run on the simulator: the rule is the runner's, the same for both backends.
 */
import { describe, expect, it } from "vitest"
import { loadScenarioText } from "../../scenarios/load.ts"
import { runScenario } from "../../scenarios/runner.ts"
import type { ReportConnect } from "../../scenarios/report-connect.ts"
import { scenarioOf } from "./load-results.ts"

const scenario = scenarioOf(
  loadScenarioText(
    `version: 1
name: names
networks:
  - { name: aaa-inner, subnet: 10.98.0.0/24, internal: true }
  - { name: zzz, subnet: 10.99.0.0/24 }
  - { name: other, subnet: 10.97.0.0/24 }
containers:
  - { name: web, networks: [aaa-inner, zzz], listen: [80/tcp] }
  - { name: client, networks: [zzz, aaa-inner], listen: [80/tcp] }
  - { name: stranger, networks: [other] }
  - { name: legacy, networks: [bridge, zzz], listen: [80/tcp] }
  - { name: plain, networks: [bridge] }
expect:
  connect:
    - { from: client, to: web, port: 80 }
    - { from: web, to: client, port: 80 }
    - { from: client, to: web, port: 80, network: aaa-inner }
    - { from: stranger, to: web, port: 80 }
    - { from: plain, to: legacy, port: 80 }
    - { from: host1, to: web, port: 80 }
`,
    "names.yaml",
  ),
)

describe("a connect row to a container's name", () => {
  it("asks the client's embedded DNS; without it, takes the address directly", async () => {
    const report = await runScenario(scenario, { backend: "sim" })
    const rows = (report as typeof report & { connect: ReadonlyArray<ReportConnect> }).connect
    const row = (from: string, to: string, index = 0) => rows.filter((entry) => entry.from === from && entry.to === to)[index]
    console.info(rows.map((entry) => `${entry.from} → ${entry.to}: ${entry.address ?? "-"} ${entry.outcome} ${entry.answeredBy ?? "-"} ${entry.seenFrom ?? "-"}`).join("\n"))
    // the internal network is asked last: web's address on zzz, seen from client's address there
    expect(row("client", "web")).toMatchObject({ address: "10.99.0.2", answeredBy: "web", seenFrom: "10.99.0.3" })
    expect(row("web", "client")).toMatchObject({ address: "10.99.0.3", answeredBy: "client", seenFrom: "10.99.0.2" })
    // `network` names the address: no DNS
    expect(row("client", "web", 1)).toMatchObject({ address: "10.98.0.2", answeredBy: "web", seenFrom: "10.98.0.3" })
    // no network in common: the resolver has no answer and nothing is sent
    expect(row("stranger", "web")).toMatchObject({ address: null, answeredBy: null, outcome: "unreachable" })
    // the default bridge has no embedded DNS: the address on the shared network
    expect(row("plain", "legacy")).toMatchObject({ answeredBy: "legacy", outcome: "answer" })
    expect(row("host1", "web")).toMatchObject({ answeredBy: "web", outcome: "answer" })
  })
})
