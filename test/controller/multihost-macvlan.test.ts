/**
 * macvlan across hosts, on the simulator and (as root) on the real kernel: children on the
 * hosts' eth0 (the underlay) reach each other and every other host, never their own host (the
 * kernel passes nothing between a macvlan and its lower device), measured with real probes.
 */
import { describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { onBothBackends, run, runId } from "./lab-support.ts"

const cases = (makeKernel: () => Promise<KernelShape>) => {
  it("a macvlan child does not reach its own host but reaches the other host and the other children", async () => {
    const lab = await run(Lab.make(await makeKernel(), { hosts: ["h1", "h2"], runId: runId("mm") }))
    try {
      await run(
        lab.createNetwork({
          name: "mv",
          driver: "macvlan",
          subnet: "192.168.99.0/24",
          gateway: "192.168.99.254",
          options: { parent: "eth0" },
          hosts: [
            { host: "h1", ipRange: "192.168.99.128/27" },
            { host: "h2", ipRange: "192.168.99.160/27" },
          ],
        }),
      )
      await run(lab.createContainer({ name: "m1", host: "h1", networks: [{ network: "mv" }] }))
      await run(lab.createContainer({ name: "m2", host: "h2", networks: [{ network: "mv" }] }))
      await run(lab.createContainer({ name: "m3", host: "h1", networks: [{ network: "mv" }] }))
      const address = (name: string) => model.stripPrefix(lab.endpoints().find((e) => e.container === name)?.address as string)
      expect(["m1", "m2", "m3"].map(address)).toEqual(["192.168.99.128", "192.168.99.160", "192.168.99.129"])
      const measured = {
        ownHost: (await run(lab.probeHost("m1", "h1"))).reachable,
        otherHost: (await run(lab.probeHost("m1", "h2"))).reachable,
        otherHostsChild: (await run(lab.probe("m1", address("m2")))).reachable,
        sameHostChild: (await run(lab.probe("m1", address("m3")))).reachable,
      }
      expect(measured).toEqual({ ownHost: false, otherHost: true, otherHostsChild: true, sameHostChild: true })
      expect(measured).toEqual({
        ownHost: model.predictLabReachHost(lab.state, "m1", "h1"),
        otherHost: model.predictLabReachHost(lab.state, "m1", "h2"),
        otherHostsChild: model.predictLabReach(lab.state, "m1", "m2", address("m2")),
        sameHostChild: model.predictLabReach(lab.state, "m1", "m3", address("m3")),
      })
      await run(lab.removeContainers(["m1", "m3"]))
      await run(lab.removeNetwork("mv", "h1"))
      expect(lab.networkRows().filter((r) => r.network.name === "mv").map((r) => r.host)).toEqual(["h2"])
    } finally {
      await run(lab.close())
    }
  })
}

onBothBackends("multi-host lab, macvlan on the underlay", cases)

// 802.1Q links are missing on this machine's kernel (capability vlan): the simulator only
describe("multi-host lab, a made parent shared by macvlan and ipvlan, on the simulator", () => {
  it("keeps an 802.1Q parent the removed network made while the other driver's network still stands on it", async () => {
    const lab = await run(Lab.make(makeSimKernel(), { hosts: ["h1", "h2"], runId: runId("mp") }))
    try {
      await run(lab.createNetwork({ name: "iv", driver: "ipvlan", internal: true, options: { parent: "eth0.10", ipvlan_mode: "l3" } }))
      await run(lab.createNetwork({ name: "mv", driver: "macvlan", subnet: "10.110.0.0/24", options: { parent: "eth0.10" } }))
      await run(lab.createContainer({ name: "m1", host: "h1", networks: [{ network: "mv" }] }))
      await run(lab.removeNetwork("iv"))
      // the model hands the parent over to mv (model/lab-network-ops.ts dropVlan): the kernel must still hold it, and m1 its child
      expect(model.vlanInfo(lab.state, "h1", "mv")?.createdParent).toBe(true)
      const links = async (ns: string) => (await run(lab.kernel.read(ns))).links.map((l) => l.name)
      expect(await links(lab.controllers[0]?.hostNs as string)).toContain("eth0.10")
      expect(await links(lab.controllerOf("m1")?.sandboxOf("m1") as string)).toContain("eth0")
      await run(lab.removeContainer("m1"))
      await run(lab.removeNetwork("mv"))
      expect(await links(lab.controllers[0]?.hostNs as string)).not.toContain("eth0.10")
    } finally {
      await run(lab.close())
    }
  })
})
