/**
 * The runner on files that declare hosts, with local-scope (bridge) networks only, so that it
 * needs no multi-host driver: networks listed per host with scope and host, endpoints with their
 * host, reachHosts measured with probes, toHost checks, a network on some hosts only, removal
 * per host, and the run-time codes of what only the run can judge. A single-host file's report
 * keeps exactly the keys it always had. Docker's own answers for these are the swarm fixtures
 * (overlay-no-swarm, overlay-remove-in-use, swarm-ingress-gwbridge).
 */
import { describe, expect, it } from "vitest"
import { outcomes, runInline as run } from "./run-inline.ts"


const twoHosts = `hosts:
  - name: host1
  - name: host2
    address: 192.168.99.20/24
networks:
  - { name: br }
  - { name: only2, hosts: [host2] }
containers:
  - { name: b1, host: host1, networks: [br] }
  - { name: b2, host: host2, networks: [br, only2] }
`

describe("a file with two hosts and local networks", () => {
  it("lists each local network once per host it is on, with scope and host", async () => {
    const report = await run(twoHosts)
    const rows = report.networks.map((n) => `${n.name} ${n.scope} ${n.host} ${n.subnet}`)
    expect(rows).toEqual(
      expect.arrayContaining([
        "bridge local host1 172.17.0.0/16",
        "bridge local host2 172.17.0.0/16",
        "br local host1 172.18.0.0/16",
        "br local host2 172.18.0.0/16",
        "only2 local host2 172.19.0.0/16",
      ]),
    )
    expect(rows.filter((row) => row.startsWith("only2 "))).toHaveLength(1)
    expect(report.networks.every((n) => n.scope === "local" && n.host !== undefined)).toBe(true)
  })

  it("gives each endpoint its host, and two hosts hand out the same address", async () => {
    const report = await run(twoHosts)
    expect(report.endpoints.map((e) => `${e.container} ${e.host} ${e.network} ${e.address}`)).toEqual([
      "b1 host1 br 172.18.0.2/16",
      "b2 host2 br 172.18.0.2/16",
      "b2 host2 only2 172.19.0.2/16",
    ])
  })

  it("measures every container against every host's underlay address, a given address included", async () => {
    const report = await run(`${twoHosts}expect:
  reach:
    - { from: b1, toHost: host2, reachable: true }
    - { from: b2, toHost: host2, reachable: true }
`)
    expect(report.reachHosts?.map((r) => `${r.from} ${r.host} ${r.address}`)).toEqual([
      "b1 host1 192.168.99.1",
      "b1 host2 192.168.99.20",
      "b2 host1 192.168.99.1",
      "b2 host2 192.168.99.20",
    ])
    // bridge containers reach every host: their own directly, the others through masquerading (docs/docker-20.10.md §9.1)
    expect(report.reachHosts?.every((r) => r.reachable)).toBe(true)
    const hostChecks = report.expectations.filter((e) => e.kind === "reach")
    expect(hostChecks.map((e) => [e.ok, e.actual["address"]])).toEqual([
      [true, "192.168.99.20"],
      [true, "192.168.99.20"],
    ])
    expect(report.ok).toBe(true)
  })

  it("a toHost check that does not hold fails the run, with what was measured", async () => {
    const report = await run(`${twoHosts}expect:\n  reach:\n    - { from: b1, toHost: host1, reachable: false }\n`)
    expect(report.ok).toBe(false)
    expect(report.expectations[0]).toMatchObject({
      kind: "reach",
      ok: false,
      expected: { from: "b1", toHost: "host1", reachable: false },
      actual: { from: "b1", toHost: "host1", address: "192.168.99.1", reachable: true },
    })
  })

  it("a toHost check from a container that is not there reaches nothing", async () => {
    const report = await run(`${twoHosts}steps:
  - removeContainer: { name: b1 }
  - expect:
      reach:
        - { from: b1, toHost: host2, reachable: false }
`)
    expect(report.expectations[0]).toMatchObject({ ok: true, step: 1, actual: { reachable: false, fromExists: false } })
    expect(report.reachHosts?.map((r) => r.from)).toEqual(["b2", "b2"])
  })

  it("removes a local network per host, and refuses where it still has a container", async () => {
    const report = await run(`${twoHosts}steps:
  - removeNetwork: { name: br, host: host1 }
    expectError: ActiveEndpoints
  - removeContainer: { name: b1 }
  - removeNetwork: { name: br, host: host1 }
  - removeNetwork: { name: br, host: host1 }
    expectError: NetworkNotFound
  - removeNetwork: { name: only2, host: host1 }
    expectError: NetworkNotFound
  - createContainer: { name: late, host: host1, networks: [br] }
    expectError: NetworkNotFound
`)
    expect(outcomes(report)).toEqual([
      "0 removeNetwork ActiveEndpoints",
      "1 removeContainer ok",
      "2 removeNetwork ok",
      "3 removeNetwork NetworkNotFound",
      "4 removeNetwork NetworkNotFound",
      "5 createContainer NetworkNotFound",
    ])
    expect(report.ok).toBe(true)
    expect(report.networks.filter((n) => n.name === "br").map((n) => n.host)).toEqual(["host2"])
  })

  it("an overlay network without swarm: true is SwarmRequired, and changes nothing", async () => {
    const report = await run(`${twoHosts}steps:
  - createNetwork: { name: ov, driver: overlay }
    expectError: SwarmRequired
  - createNetwork: { name: after }
`)
    expect(outcomes(report)).toEqual(["0 createNetwork SwarmRequired", "1 createNetwork ok"])
    // the next local pool on each host is the one it would have been
    expect(report.networks.filter((n) => n.name === "after").map((n) => `${n.host} ${n.subnet}`)).toEqual([
      "host1 172.19.0.0/16",
      "host2 172.20.0.0/16",
    ])
  })
})

describe("a single-host file", () => {
  it("gives the report it always gave: no scope, no host, no reachHosts", async () => {
    const report = await run("networks:\n  - { name: a }\ncontainers:\n  - { name: c1, networks: [a] }\n  - { name: c2, networks: [a] }\n")
    expect(Object.keys(report)).not.toContain("reachHosts")
    expect(report.networks.map((n) => Object.keys(n).sort())).toContainEqual(["driver", "gateway", "internal", "name", "subnet"])
    expect(report.networks.every((n) => !("scope" in n) && !("host" in n))).toBe(true)
    expect(report.endpoints.map((e) => Object.keys(e).sort())).toEqual([
      ["address", "container", "interface", "mac", "network"],
      ["address", "container", "interface", "mac", "network"],
    ])
  })
})
