/**
 * The text report of a file that declares hosts: networks with scope and host, endpoints with
 * their host, the hosts' underlay addresses as a matrix, toHost expectations; and a report without
 * those fields renders its tables exactly as a single-host report always did.
 */
import { describe, expect, it } from "vitest"
import { renderReport } from "../../scenarios/report.ts"
import { cells, sectionLines } from "./report-sections.ts"
import type { Report } from "../../scenarios/report.ts"

const report: Report = {
  version: 1,
  scenario: "two-hosts",
  backend: "sim",
  ok: false,
  networks: [
    { name: "bridge", driver: "bridge", subnet: "172.17.0.0/16", gateway: "172.17.0.1", internal: false, scope: "local", host: "host1" },
    { name: "bridge", driver: "bridge", subnet: "172.17.0.0/16", gateway: "172.17.0.1", internal: false, scope: "local", host: "host2" },
    { name: "ov", driver: "overlay", subnet: "10.0.1.0/24", gateway: "10.0.1.1", internal: false, scope: "swarm" },
  ],
  endpoints: [
    { container: "c1", network: "ov", address: "10.0.1.2/24", mac: "02:42:0a:00:01:02", interface: "eth0", host: "host1" },
    { container: "i1", network: "iv", address: "192.168.99.128/24", interface: "eth0", host: "host2" },
  ],
  reach: [],
  reachHosts: [
    { from: "c1", host: "host1", address: "192.168.99.1", reachable: true },
    { from: "c1", host: "host2", address: "192.168.99.2", reachable: false },
  ],
  resolve: [],
  steps: [],
  expectations: [
    {
      kind: "reach",
      ok: false,
      expected: { from: "c1", toHost: "host2", reachable: true },
      actual: { from: "c1", toHost: "host2", address: "192.168.99.2", reachable: false },
    },
  ],
  timings: { setupMs: 1, checkMs: 2, teardownMs: 3 },
}


describe("renderReport for several hosts", () => {
  const text = renderReport(report)

  it("networks carry scope and host, a swarm network once for all hosts", () => {
    expect(sectionLines(text, "Networks").map(cells)).toEqual([
      ["NAME", "DRIVER", "SUBNET", "GATEWAY", "INTERNAL", "SCOPE", "HOST"],
      ["bridge", "bridge", "172.17.0.0/16", "172.17.0.1", "no", "local", "host1"],
      ["bridge", "bridge", "172.17.0.0/16", "172.17.0.1", "no", "local", "host2"],
      ["ov", "overlay", "10.0.1.0/24", "10.0.1.1", "no", "swarm", "(all)"],
    ])
  })

  it("endpoints carry their host; an ipvlan child shows no MAC", () => {
    expect(sectionLines(text, "Endpoints").map(cells)).toEqual([
      ["CONTAINER", "NETWORK", "ADDRESS", "MAC", "INTERFACE", "HOST"],
      ["c1", "ov", "10.0.1.2/24", "02:42:0a:00:01:02", "eth0", "host1"],
      ["i1", "iv", "192.168.99.128/24", "-", "eth0", "host2"],
    ])
  })

  it("the hosts' underlay addresses as a matrix", () => {
    expect(sectionLines(text, "Hosts' underlay addresses").map(cells)).toEqual([
      ["FROM \\ HOST", "host1/192.168.99.1", "host2/192.168.99.2"],
      ["c1", "✓", "✗"],
    ])
  })

  it("a toHost expectation names the host and what was measured", () => {
    const lines = sectionLines(text, "Expectations")
    expect(lines[0]).toContain("✗ reach   c1 → host host2: reachable")
    expect(lines).toContain("      reachable: expected true, got false")
  })

  it("without scope and host the tables have exactly the single-host columns", () => {
    const single = renderReport({
      ...report,
      networks: report.networks.map(({ scope: _scope, host: _host, ...rest }) => rest),
      endpoints: report.endpoints.map(({ host: _host, ...rest }) => rest),
      reachHosts: undefined,
    } as Report)
    expect(cells(sectionLines(single, "Networks")[0] as string)).toEqual(["NAME", "DRIVER", "SUBNET", "GATEWAY", "INTERNAL"])
    expect(cells(sectionLines(single, "Endpoints")[0] as string)).toEqual(["CONTAINER", "NETWORK", "ADDRESS", "MAC", "INTERFACE"])
    expect(single).not.toContain("Hosts' underlay addresses")
  })
})
