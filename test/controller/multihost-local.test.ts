/**
 * A lab of several hosts with local-scope networks, on the simulator and (as root) on the real
 * kernel: each host has its own network of the name with its own IPAM, hosts sit on the
 * underlay at their addresses, and a container's reach to a host is measured with real probes.
 */
import { expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { onBothBackends, refusal, run, runId } from "./lab-support.ts"

const cases = (makeKernel: () => Promise<KernelShape>) => {
  it("makes a local network on every host by default, each with its own IPAM: the same address on each", async () => {
    const lab = await run(Lab.make(await makeKernel(), { hosts: ["h1", "h2"], runId: runId("ml") }))
    try {
      await run(lab.createNetwork({ name: "front" }))
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "front" }] }))
      await run(lab.createContainer({ name: "c2", host: "h2", networks: [{ network: "front" }] }))
      const rows = lab.networkRows().filter((r) => r.network.name === "front")
      expect(rows.map((r) => [r.scope, r.host, r.network.subnet])).toEqual([
        ["local", "h1", "172.18.0.0/16"],
        ["local", "h2", "172.18.0.0/16"],
      ])
      expect(lab.endpoints().map((e) => [e.container, e.host, e.address])).toEqual([
        ["c1", "h1", "172.18.0.2/16"],
        ["c2", "h2", "172.18.0.2/16"],
      ])
      // each sees its own host's copy of the address: c1 finds no c2: names are per host on a local network
      const answer = await run(lab.resolve("c1", "c2"))
      expect(answer.addresses).toEqual([])
    } finally {
      await run(lab.close())
    }
  })

  it("puts hosts on the underlay at their addresses; a container reaches both hosts through its bridge (masqueraded), as measured", async () => {
    const lab = await run(Lab.make(await makeKernel(), { hosts: ["h1", { name: "h2", address: "192.168.99.20/24" }], runId: runId("mu") }))
    try {
      expect(lab.hostAddresses().map((h) => `${h.name} ${h.address}/${h.prefix}`)).toEqual(["h1 192.168.99.1/24", "h2 192.168.99.20/24"])
      await run(lab.createContainer({ name: "c1", host: "h1" }))
      const toOwn = await run(lab.probeHost("c1", "h1"))
      const toOther = await run(lab.probeHost("c1", "h2"))
      expect([toOwn.reachable, toOther.reachable]).toEqual([true, true])
      expect([toOwn.reachable, toOther.reachable]).toEqual([
        model.predictLabReachHost(lab.state, "c1", "h1"),
        model.predictLabReachHost(lab.state, "c1", "h2"),
      ])
      expect((await refusal(lab.probeHost("c1", "h9"))).code).toBe("InvalidName")
    } finally {
      await run(lab.close())
    }
  })

  it("creates a local network on the hosts given, with per-host ip ranges, and removes it from one host", async () => {
    const lab = await run(Lab.make(await makeKernel(), { hosts: ["h1", "h2", "h3"], runId: runId("mr") }))
    try {
      await run(
        lab.createNetwork({
          name: "n",
          subnet: "10.60.0.0/24",
          hosts: [{ host: "h1", ipRange: "10.60.0.0/25" }, { host: "h3", ipRange: "10.60.0.128/25" }],
        }),
      )
      expect(lab.networkRows().filter((r) => r.network.name === "n").map((r) => r.host)).toEqual(["h1", "h3"])
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "n" }] }))
      await run(lab.createContainer({ name: "c3", host: "h3", networks: [{ network: "n" }] }))
      expect(lab.endpoints().map((e) => e.address)).toEqual(["10.60.0.2/24", "10.60.0.129/24"])
      expect((await refusal(lab.createContainer({ name: "c2", host: "h2", networks: [{ network: "n" }] }))).code).toBe("NetworkNotFound")
      expect((await refusal(lab.removeNetwork("n"))).code).toBe("ActiveEndpoints")
      await run(lab.removeContainer("c1"))
      await run(lab.removeNetwork("n", "h1"))
      expect(lab.networkRows().filter((r) => r.network.name === "n").map((r) => r.host)).toEqual(["h3"])
      const h1 = lab.controllers[0] as (typeof lab.controllers)[number]
      const bridges = (await run(lab.kernel.read(h1.hostNs))).links.filter((l) => l.kind === "bridge").map((l) => l.name)
      expect(bridges).toEqual(["docker0"])
    } finally {
      await run(lab.close())
    }
  })
}

onBothBackends("multi-host lab, local networks", cases)
