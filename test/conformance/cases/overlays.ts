import { expect, it } from "vitest"
import type { Capabilities, KernelOp, MacMode } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { containerOnBridge, host, wire } from "../topologies.ts"

/** vxlan over an underlay, macvlan and ipvlan children of one parent (measured with ping) */
export const overlayCases = (h: () => Harness, caps: Capabilities): void => {
  /**
   * Two "hosts" joined by an underlay veth (192.168.200.1 <-> .2), each with vxlan0 (VNI 4242,
   * port 4789) carrying 10.88.0.1 and .2, and all-zero FDB entries towards the other VTEP.
   */
  const vxlanPair = (harness: Harness, withFdb: boolean): { readonly ops: Array<KernelOp>; readonly h1: string; readonly h2: string } => {
    const h1 = harness.ns("h1")
    const h2 = harness.ns("h2")
    const side = (ns: string, local: string, remote: string, overlay: string): Array<KernelOp> => [
      { op: "linkAdd", ns, link: { kind: "vxlan", name: "vxlan0", vni: 4242, port: 4789, local, dev: "u0", learning: false } },
      { op: "addrAdd", ns, dev: "vxlan0", cidr: overlay },
      { op: "linkSet", ns, name: "vxlan0", up: true },
      ...(withFdb ? [{ op: "fdbAdd", ns, dev: "vxlan0", mac: "00:00:00:00:00:00", dst: remote } as const] : []),
    ]
    return {
      h1,
      h2,
      ops: [
        ...host(h1),
        ...host(h2),
        ...wire({ ns: h1, dev: "u0", cidr: "192.168.200.1/24" }, { ns: h2, dev: "u0", cidr: "192.168.200.2/24" }),
        ...side(h1, "192.168.200.1", "192.168.200.2", "10.88.0.1/24"),
        ...side(h2, "192.168.200.2", "192.168.200.1", "10.88.0.2/24"),
      ],
    }
  }

  it.skipIf(!caps.vxlan)("vxlan between two hosts over an underlay veth, with static FDB entries, carries a ping", async () => {
    const harness = h()
    const pair = vxlanPair(harness, true)
    await harness.apply(pair.ops)
    const state = await harness.read(pair.h1)
    expect(state.links.find((link) => link.name === "vxlan0")).toMatchObject({ kind: "vxlan", vni: 4242, mtu: 1450 })
    expect(state.fdb).toContainEqual({ dev: "vxlan0", mac: "00:00:00:00:00:00", dst: "192.168.200.2" })
    expect(await harness.reachable(pair.h1, "10.88.0.2")).toBe(true)
    expect(await harness.reachable(pair.h2, "10.88.0.1")).toBe(true)
  })

  it.skipIf(!caps.vxlan)("vxlan without FDB entries towards the other VTEP carries nothing", async () => {
    const harness = h()
    const pair = vxlanPair(harness, false)
    await harness.apply(pair.ops)
    expect(await harness.reachable(pair.h1, "10.88.0.2")).toBe(false)
  })

  it.skipIf(!caps.vxlan)("a vxlan goes away with its underlay device", async () => {
    const harness = h()
    const pair = vxlanPair(harness, true)
    await harness.apply(pair.ops, { op: "linkDel", ns: pair.h1, name: "u0" })
    expect((await harness.read(pair.h1)).links.map((link) => link.name)).toEqual(["lo"])
  })

  /**
   * A host with a parent veth par0 whose peer sits in an "outside" namespace (both ends up, or the
   * children have no carrier), and macvlan children created straight into two container namespaces.
   */
  const macvlanSetup = (harness: Harness, mode: MacMode, parentUp: boolean) => {
    const hostNs = harness.ns("h")
    const outside = harness.ns("out")
    const m1 = harness.ns("m1")
    const m2 = harness.ns("m2")
    const child = (ns: string, name: string, cidr: string): Array<KernelOp> => [
      { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name, parent: "par0", mode, targetNs: ns } },
      { op: "addrAdd", ns, dev: name, cidr },
      { op: "linkSet", ns, name, up: true },
    ]
    return {
      hostNs,
      outside,
      m1,
      m2,
      ops: [
        ...host(hostNs),
        ...host(outside),
        ...host(m1),
        ...host(m2),
        { op: "linkAdd", ns: hostNs, link: { kind: "veth", name: "par0", peer: { name: "ext0", ns: outside } } },
        { op: "addrAdd", ns: hostNs, dev: "par0", cidr: "10.78.0.1/24" },
        { op: "linkSet", ns: outside, name: "ext0", up: true },
        ...(parentUp ? [{ op: "linkSet", ns: hostNs, name: "par0", up: true } as const] : []),
        ...child(m1, "mv1", "10.78.0.11/24"),
        ...child(m2, "mv2", "10.78.0.12/24"),
      ] satisfies Array<KernelOp>,
    }
  }

  it.skipIf(!caps.macvlan)("macvlan bridge-mode children of one parent reach each other, not their parent", async () => {
    const harness = h()
    const setup = macvlanSetup(harness, "bridge", true)
    await harness.apply(setup.ops)
    expect((await harness.read(setup.m1)).links.find((link) => link.name === "mv1")).toMatchObject({ kind: "macvlan", parent: "par0", index: 2 })
    expect(await harness.reachable(setup.m1, "10.78.0.12")).toBe(true)
    expect(await harness.reachable(setup.m2, "10.78.0.11")).toBe(true)
    expect(await harness.reachable(setup.m1, "10.78.0.1")).toBe(false)
  })

  it.skipIf(!caps.macvlan)("macvlan children have no carrier while their parent has none (down, or its veth peer down)", async () => {
    const harness = h()
    const setup = macvlanSetup(harness, "bridge", false)
    await harness.apply(setup.ops)
    expect(await harness.reachable(setup.m1, "10.78.0.12")).toBe(false)
    await harness.apply({ op: "linkSet", ns: setup.outside, name: "ext0", up: false }, { op: "linkSet", ns: setup.hostNs, name: "par0", up: true })
    expect(await harness.reachable(setup.m1, "10.78.0.12")).toBe(false)
    await harness.apply({ op: "linkSet", ns: setup.outside, name: "ext0", up: true })
    expect(await harness.reachable(setup.m1, "10.78.0.12")).toBe(true)
  })

  it.skipIf(!caps.macvlan)("macvlan private-mode children do not reach each other", async () => {
    const harness = h()
    const setup = macvlanSetup(harness, "private", true)
    await harness.apply(setup.ops)
    expect(await harness.reachable(setup.m1, "10.78.0.12")).toBe(false)
  })

  it.skipIf(!caps.macvlan)("deleting the parent deletes its children in the other namespaces", async () => {
    const harness = h()
    const setup = macvlanSetup(harness, "bridge", true)
    await harness.apply(setup.ops, { op: "linkDel", ns: setup.hostNs, name: "par0" })
    expect((await harness.read(setup.m1)).links.map((link) => link.name)).toEqual(["lo"])
    expect((await harness.read(setup.m2)).links.map((link) => link.name)).toEqual(["lo"])
  })

  it.skipIf(!caps.macvlan)("a macvlan on a bridge reaches a container behind one of the bridge's ports, both ways", async () => {
    const harness = h()
    const hostNs = harness.ns("h")
    const x = harness.ns("x")
    const m = harness.ns("m")
    await harness.apply(
      host(hostNs),
      host(m),
      { op: "linkAdd", ns: hostNs, link: { kind: "bridge", name: "br0", up: true } },
      containerOnBridge({ hostNs, bridge: "br0", hostEnd: "vx", container: x, cidr: "10.80.0.5/24" }),
      { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name: "m1", parent: "br0", mode: "bridge", targetNs: m } },
      { op: "addrAdd", ns: m, dev: "m1", cidr: "10.80.0.11/24" },
      { op: "linkSet", ns: m, name: "m1", up: true },
    )
    expect(await harness.reachable(m, "10.80.0.5")).toBe(true)
    expect(await harness.reachable(x, "10.80.0.11")).toBe(true)
  })

  it.skipIf(!caps.ipvlan)("ipvlan l2 children of one parent reach each other (skipped where capabilities.ipvlan is false)", async () => {
    const harness = h()
    const hostNs = harness.ns("h")
    const outside = harness.ns("out")
    const i1 = harness.ns("i1")
    const i2 = harness.ns("i2")
    const child = (ns: string, name: string, cidr: string): Array<KernelOp> => [
      { op: "linkAdd", ns: hostNs, link: { kind: "ipvlan", name, parent: "par0", mode: "l2", targetNs: ns } },
      { op: "addrAdd", ns, dev: name, cidr },
      { op: "linkSet", ns, name, up: true },
    ]
    await harness.apply(
      host(hostNs),
      host(outside),
      host(i1),
      host(i2),
      { op: "linkAdd", ns: hostNs, link: { kind: "veth", name: "par0", up: true, peer: { name: "ext0", ns: outside } } },
      { op: "linkSet", ns: outside, name: "ext0", up: true },
      child(i1, "ipv1", "10.79.0.11/24"),
      child(i2, "ipv2", "10.79.0.12/24"),
    )
    const parentMac = (await harness.read(hostNs)).links.find((link) => link.name === "par0")?.mac
    // ipvlan children share their parent's MAC
    expect((await harness.read(i1)).links.find((link) => link.name === "ipv1")?.mac).toBe(parentMac)
    expect(await harness.reachable(i1, "10.79.0.12")).toBe(true)
    expect(await harness.reachable(i2, "10.79.0.11")).toBe(true)
  })
}
