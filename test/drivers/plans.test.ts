import { describe, expect, it } from "vitest"
import type { HostContext } from "../../drivers/Driver.ts"
import { ipvlanDriver } from "../../drivers/ipvlan/driver.ts"
import { macvlanDriver } from "../../drivers/macvlan/driver.ts"
import { overlayDriver } from "../../drivers/overlay/driver.ts"
import type { VlanInfo } from "../../model/lab-types.ts"
import type { Endpoint } from "../../model/types.ts"
import { networkOf } from "./world.ts"

/** what the drivers plan, read without a kernel: scopes, gateways, step names and their undo */

const hostWith = (vlan: VlanInfo | undefined): HostContext => ({
  ns: "cnm-plan-h1",
  host: "h1",
  underlay: { dev: "eth0", address: "198.18.0.1", mtu: 1500 },
  overlayOf: () => ({ vni: 4097, mtu: 1450, encrypted: false }),
  vlanOf: () => vlan,
  networks: [],
})

const endpoint: Endpoint = {
  container: "c1",
  network: "n",
  address: "10.20.0.2/24",
  mac: "02:42:0a:14:00:02",
  aliases: [],
  ifname: "eth1",
  staticAddress: false,
}
const at = { sandboxNs: "cnm-plan-c1", hostIf: "vethc7" }
const onEth0 = (mode: VlanInfo["mode"]): VlanInfo => ({ parent: "eth0", mode, parentKind: "link", createdParent: false })

describe("driver plans", () => {
  it("declare their scope and name as libnetwork registers them", () => {
    expect([overlayDriver, macvlanDriver, ipvlanDriver].map((d) => [d.name, d.scope])).toEqual([
      ["overlay", "global"],
      ["macvlan", "local"],
      ["ipvlan", "local"],
    ])
    expect(overlayDriver.peerAdd).toBeTypeOf("function")
    expect(macvlanDriver.peerAdd).toBeUndefined()
  })

  it("gateways: macvlan and ipvlan l2 offer the network's, on a dummy parent too (20.10: an empty parent is not internal); internal networks, ipvlan l3 and overlay offer none", () => {
    const net = networkOf("n", "macvlan", "10.20.0.0/24", "10.20.0.1")
    const internal = networkOf("n", "macvlan", "10.20.0.0/24", "10.20.0.1", { internal: true })
    const dummy: VlanInfo = { parent: "dm-000000000000", mode: "bridge", parentKind: "dummy", createdParent: true }
    expect(macvlanDriver.join(net, endpoint, hostWith(onEth0("bridge")), at).gateway).toBe("10.20.0.1")
    expect(macvlanDriver.join(internal, endpoint, hostWith(onEth0("bridge")), at).gateway).toBeUndefined()
    expect(macvlanDriver.join(net, endpoint, hostWith(dummy), at).gateway).toBe("10.20.0.1")
    const ipvlan = networkOf("n", "ipvlan", "10.20.0.0/24", "10.20.0.1")
    expect(ipvlanDriver.join(ipvlan, endpoint, hostWith(onEth0("l2")), at).gateway).toBe("10.20.0.1")
    const l3 = ipvlanDriver.join(ipvlan, endpoint, hostWith(onEth0("l3")), at)
    expect(l3.gateway).toBeUndefined()
    expect(l3.steps.flatMap((s) => s.do)).toContainEqual({ op: "routeAdd", ns: at.sandboxNs, route: { dst: "default", dev: "eth1", scope: "link" } })
    const ov = networkOf("ov", "overlay", "10.0.1.0/24", "10.0.1.1")
    expect(overlayDriver.join(ov, endpoint, hostWith(undefined), at).gateway).toBeUndefined()
  })

  it("children: macvlan keeps the endpoint's MAC, ipvlan takes the parent's; both are made straight in the sandbox", () => {
    const child = (driver: typeof macvlanDriver, mode: VlanInfo["mode"]) =>
      driver.join(networkOf("n", driver.name, "10.20.0.0/24", "10.20.0.1"), endpoint, hostWith(onEth0(mode)), at).steps[0]?.do[0]
    expect(child(macvlanDriver, "vepa")).toEqual({
      op: "linkAdd",
      ns: "cnm-plan-h1",
      link: { kind: "macvlan", name: "eth1", parent: "eth0", mode: "vepa", targetNs: at.sandboxNs, group: 0x636e, mac: endpoint.mac },
    })
    expect(child(ipvlanDriver, "l2")).toEqual({
      op: "linkAdd",
      ns: "cnm-plan-h1",
      link: { kind: "ipvlan", name: "eth1", parent: "eth0", mode: "l2", targetNs: at.sandboxNs, group: 0x636e },
    })
  })

  it("parents: only a parent the network made is made and deleted with it", () => {
    const net = networkOf("n", "macvlan", "10.20.0.0/24", "10.20.0.1")
    const tagged: VlanInfo = { parent: "eth0.10", mode: "bridge", parentKind: "vlan", createdParent: true, vlanOf: { link: "eth0", id: 10 } }
    expect(macvlanDriver.createNetwork(net, hostWith(onEth0("bridge")))).toEqual([])
    expect(macvlanDriver.deleteNetwork(net, hostWith(onEth0("bridge")))).toEqual([])
    const made = macvlanDriver.createNetwork(net, hostWith(tagged))
    expect(made.map((s) => s.do)).toEqual([
      [{ op: "linkAdd", ns: "cnm-plan-h1", link: { kind: "vlan", name: "eth0.10", parent: "eth0", id: 10, up: true, group: 0x636e } }],
    ])
    expect(made[0]?.undo).toEqual([{ op: "linkDel", ns: "cnm-plan-h1", name: "eth0.10" }])
    expect(macvlanDriver.deleteNetwork(net, hostWith(tagged)).flatMap((s) => s.do)).toEqual([{ op: "linkDel", ns: "cnm-plan-h1", name: "eth0.10" }])
  })

  it("overlay peers: peerDelete does what peerAdd's undo does, and the other way round, and makes the bridge forget the MAC behind vxlan0", () => {
    const ov = networkOf("ov", "overlay", "10.0.1.0/24", "10.0.1.1")
    const peer = { address: "10.0.1.3", prefix: 24, mac: "02:42:0a:00:01:03", vtep: "198.18.0.2" }
    const added = overlayDriver.peerAdd?.(ov, peer, hostWith(undefined)) ?? []
    const deleted = overlayDriver.peerDelete?.(ov, peer, hostWith(undefined)) ?? []
    expect(added.map((s) => s.name)).toEqual(["overlay.peer.neighbour", "overlay.peer.fdb"])
    // what the bridge learned cannot be put back: the forgetting has no undo
    const forgetting = deleted.filter((s) => s.name === "overlay.peer.learned")
    expect(forgetting.flatMap((s) => s.do)).toEqual([{ op: "fdbForget", ns: expect.any(String), dev: "vxlan0", mac: peer.mac }])
    expect(forgetting.flatMap((s) => s.undo)).toEqual([])
    const undoable = deleted.filter((s) => s.name !== "overlay.peer.learned")
    expect([...added].reverse().flatMap((s) => s.undo)).toEqual(undoable.flatMap((s) => s.do))
    expect([...undoable].reverse().flatMap((s) => s.undo)).toEqual(added.flatMap((s) => s.do))
  })

  it("a network the controller gave no VNI or parent for is a programming error, said with the network and host", () => {
    const ov = networkOf("ov", "overlay", "10.0.1.0/24", "10.0.1.1")
    const bare: HostContext = { ns: "cnm-plan-h1", host: "h1", networks: [] }
    expect(() => overlayDriver.createNetwork(ov, bare)).toThrow("network ov has no VNI on host h1")
    expect(() => macvlanDriver.createNetwork(networkOf("mv", "macvlan", "10.20.0.0/24", "10.20.0.1"), bare)).toThrow(
      "network mv has no parent on host h1",
    )
  })
})
