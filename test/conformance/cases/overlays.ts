import { expect, it } from "vitest"
import type { Capabilities, KernelOp, MacMode } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { containerOnBridge, host, vxlanPair, wire } from "../topologies.ts"

/** vxlan over an underlay, macvlan and ipvlan children of one parent (measured with ping) */
export const overlayCases = (h: () => Harness, caps: Capabilities): void => {
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
   * Docker's overlay layout: two hosts on an underlay (192.168.201.1 <-> .2), each making a vxlan
   * (VNI 4300) straight into a namespace of its own ("o1", "o2") where it holds 10.89.0.1 and .2.
   * Each side's MAC is fixed, so peers can be programmed: a neighbour entry and an FDB entry
   * towards the other host, as Docker's peerAdd does.
   */
  const MAC_1 = "02:42:0a:59:00:01"
  const MAC_2 = "02:42:0a:59:00:02"
  const overlayPair = (harness: Harness, options: { readonly proxy: boolean }) => {
    const h1 = harness.ns("h1")
    const h2 = harness.ns("h2")
    const o1 = harness.ns("o1")
    const o2 = harness.ns("o2")
    const side = (hostNs: string, overlayNs: string, local: string, mac: string, cidr: string): Array<KernelOp> => [
      ...host(overlayNs),
      {
        op: "linkAdd",
        ns: hostNs,
        link: { kind: "vxlan", name: "vxlan0", vni: 4300, port: 4789, local, mac, learning: true, proxy: options.proxy, l2miss: true, l3miss: true, targetNs: overlayNs },
      },
      { op: "addrAdd", ns: overlayNs, dev: "vxlan0", cidr },
      { op: "linkSet", ns: overlayNs, name: "vxlan0", up: true },
    ]
    const peer = (overlayNs: string, ip: string, mac: string, vtep: string): Array<KernelOp> => [
      { op: "neighAdd", ns: overlayNs, dev: "vxlan0", ip, mac },
      { op: "fdbAdd", ns: overlayNs, dev: "vxlan0", mac, dst: vtep },
    ]
    return {
      h1,
      h2,
      o1,
      o2,
      ops: [
        ...host(h1),
        ...host(h2),
        ...wire({ ns: h1, dev: "u0", cidr: "192.168.201.1/24" }, { ns: h2, dev: "u0", cidr: "192.168.201.2/24" }),
        ...side(h1, o1, "192.168.201.1", MAC_1, "10.89.0.1/24"),
        ...side(h2, o2, "192.168.201.2", MAC_2, "10.89.0.2/24"),
      ] satisfies Array<KernelOp>,
      peers: [...peer(o1, "10.89.0.2", MAC_2, "192.168.201.2"), ...peer(o2, "10.89.0.1", MAC_1, "192.168.201.1")],
      /** all-zero FDB entries: flooding towards the other host, which Docker never sets */
      flooding: [
        { op: "fdbAdd", ns: o1, dev: "vxlan0", mac: "00:00:00:00:00:00", dst: "192.168.201.2" },
        { op: "fdbAdd", ns: o2, dev: "vxlan0", mac: "00:00:00:00:00:00", dst: "192.168.201.1" },
      ] satisfies Array<KernelOp>,
    }
  }

  it.skipIf(!caps.vxlan)("a vxlan made into another namespace lives there, keeps its socket in the host's and carries a ping over the host's underlay", async () => {
    const harness = h()
    const pair = overlayPair(harness, { proxy: true })
    await harness.apply(pair.ops, pair.peers)
    expect((await harness.read(pair.o1)).links.find((link) => link.name === "vxlan0")).toMatchObject({ kind: "vxlan", vni: 4300, mac: MAC_1 })
    expect((await harness.read(pair.h1)).links.map((link) => link.name)).toEqual(["lo", "u0"])
    expect(await harness.reachable(pair.o1, "10.89.0.2")).toBe(true)
    expect(await harness.reachable(pair.o2, "10.89.0.1")).toBe(true)
  })

  it.skipIf(!caps.vxlan)("proxy ARP answers from the neighbour entries and sends no ARP across: an all-zero FDB entry does not help without them", async () => {
    const harness = h()
    const pair = overlayPair(harness, { proxy: true })
    await harness.apply(pair.ops, pair.flooding)
    expect(await harness.reachable(pair.o1, "10.89.0.2")).toBe(false)
    await harness.apply(pair.peers)
    expect(await harness.reachable(pair.o1, "10.89.0.2")).toBe(true)
  })

  it.skipIf(!caps.vxlan)("without proxy ARP the same vxlans resolve across the tunnel through an all-zero FDB entry", async () => {
    const harness = h()
    const pair = overlayPair(harness, { proxy: false })
    await harness.apply(pair.ops, pair.flooding)
    expect(await harness.reachable(pair.o1, "10.89.0.2")).toBe(true)
  })

  it.skipIf(!caps.vxlan)("after the peer's neighbour and FDB entries are deleted, the tunnel carries nothing to it", async () => {
    const harness = h()
    const pair = overlayPair(harness, { proxy: true })
    await harness.apply(pair.ops, pair.peers)
    expect(await harness.reachable(pair.o1, "10.89.0.2")).toBe(true)
    await harness.apply(
      { op: "neighDel", ns: pair.o1, dev: "vxlan0", ip: "10.89.0.2" },
      { op: "fdbDel", ns: pair.o1, dev: "vxlan0", mac: MAC_2, dst: "192.168.201.2" },
      { op: "neighDel", ns: pair.o2, dev: "vxlan0", ip: "10.89.0.1" },
      { op: "fdbDel", ns: pair.o2, dev: "vxlan0", mac: MAC_1, dst: "192.168.201.1" },
    )
    const state = await harness.read(pair.o1)
    expect(state.neighs).toEqual([])
    expect(state.fdb.filter((entry) => entry.dst !== undefined)).toEqual([])
    expect(await harness.reachable(pair.o1, "10.89.0.2")).toBe(false)
  })

  it.skipIf(!caps.vxlan)("a VNI is taken in the namespace of the vxlan's socket: the same host cannot make it twice, another host can", async () => {
    const harness = h()
    const pair = overlayPair(harness, { proxy: true })
    const o3 = harness.ns("o3")
    await harness.apply(pair.ops, host(o3))
    await harness.expectRefused("AlreadyExists", {
      op: "linkAdd",
      ns: pair.h1,
      link: { kind: "vxlan", name: "vxlan0", vni: 4300, port: 4789, targetNs: o3 },
    })
    expect((await harness.read(o3)).links.map((link) => link.name)).toEqual(["lo"])
  })

  it.skipIf(!caps.vxlan)("deleting the namespace of a vxlan's socket deletes the vxlan in the other namespace", async () => {
    const harness = h()
    const pair = overlayPair(harness, { proxy: true })
    await harness.apply(pair.ops, { op: "nsDel", ns: pair.h1 })
    expect((await harness.read(pair.o1)).links.map((link) => link.name)).toEqual(["lo"])
    expect((await harness.read(pair.o2)).links.map((link) => link.name)).toEqual(["lo", "vxlan0"])
  })

  /**
   * Two hosts whose u0 ends meet on a VLAN-unaware bridge in a "switch" namespace, each with
   * 802.1Q sub-interfaces of u0 holding addresses.
   */
  const vlanSetup = (harness: Harness) => {
    const h1 = harness.ns("h1")
    const h2 = harness.ns("h2")
    const sw = harness.ns("sw")
    const leg = (hostNs: string, port: string): Array<KernelOp> => [
      { op: "linkAdd", ns: hostNs, link: { kind: "veth", name: "u0", up: true, peer: { name: port, ns: sw } } },
      { op: "linkSet", ns: sw, name: port, master: "sw0", up: true },
    ]
    return {
      h1,
      h2,
      ops: [
        ...host(h1),
        ...host(h2),
        ...host(sw),
        { op: "linkAdd", ns: sw, link: { kind: "bridge", name: "sw0", up: true } },
        ...leg(h1, "p1"),
        ...leg(h2, "p2"),
      ] satisfies Array<KernelOp>,
      sub: (ns: string, name: string, id: number, cidr: string): Array<KernelOp> => [
        { op: "linkAdd", ns, link: { kind: "vlan", name, parent: "u0", id } },
        { op: "addrAdd", ns, dev: name, cidr },
        { op: "linkSet", ns, name, up: true },
      ],
    }
  }

  it.skipIf(!caps.vlan)("802.1Q sub-interfaces with one tag reach each other across a bridge; another tag, or none, does not", async () => {
    const harness = h()
    const setup = vlanSetup(harness)
    await harness.apply(
      setup.ops,
      setup.sub(setup.h1, "u0.10", 10, "10.90.0.1/24"),
      setup.sub(setup.h2, "u0.10", 10, "10.90.0.2/24"),
      setup.sub(setup.h1, "u0.20", 20, "10.91.0.1/24"),
      setup.sub(setup.h2, "u0.30", 30, "10.91.0.2/24"),
      { op: "addrAdd", ns: setup.h2, dev: "u0", cidr: "10.92.0.2/24" },
      setup.sub(setup.h1, "u0.40", 40, "10.92.0.1/24"),
    )
    expect((await harness.read(setup.h1)).links.find((link) => link.name === "u0.10")).toMatchObject({ kind: "vlan", parent: "u0", vlanId: 10 })
    expect(await harness.reachable(setup.h1, "10.90.0.2")).toBe(true)
    expect(await harness.reachable(setup.h2, "10.90.0.1")).toBe(true)
    expect(await harness.reachable(setup.h1, "10.91.0.2")).toBe(false)
    expect(await harness.reachable(setup.h1, "10.92.0.2")).toBe(false)
  })

  it.skipIf(!caps.vlan)("a second sub-interface with the same tag on one parent is refused; deleting the parent deletes its sub-interfaces", async () => {
    const harness = h()
    const setup = vlanSetup(harness)
    await harness.apply(setup.ops, setup.sub(setup.h1, "u0.10", 10, "10.90.0.1/24"))
    await harness.expectRefused("AlreadyExists", { op: "linkAdd", ns: setup.h1, link: { kind: "vlan", name: "again", parent: "u0", id: 10 } })
    await harness.apply({ op: "linkDel", ns: setup.h1, name: "u0" })
    expect((await harness.read(setup.h1)).links.map((link) => link.name)).toEqual(["lo"])
  })

  it.skipIf(!caps.vlan || !caps.macvlan)("macvlan children of sub-interfaces with one tag on two hosts reach each other", async () => {
    const harness = h()
    const setup = vlanSetup(harness)
    const m1 = harness.ns("m1")
    const m2 = harness.ns("m2")
    const child = (hostNs: string, ns: string, cidr: string): Array<KernelOp> => [
      ...host(ns),
      { op: "linkAdd", ns: hostNs, link: { kind: "vlan", name: "u0.10", parent: "u0", id: 10, up: true } },
      { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name: "mv", parent: "u0.10", mode: "bridge", targetNs: ns } },
      { op: "addrAdd", ns, dev: "mv", cidr },
      { op: "linkSet", ns, name: "mv", up: true },
    ]
    await harness.apply(setup.ops, child(setup.h1, m1, "10.93.0.11/24"), child(setup.h2, m2, "10.93.0.12/24"))
    expect(await harness.reachable(m1, "10.93.0.12")).toBe(true)
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

  /**
   * Docker derives a macvlan child's MAC from its address, so one address handed out on two hosts
   * gives two children one MAC. Linux's macvlan looks a broadcast's source MAC up among the
   * parent's children: one that arrives from the wire with a private child's MAC goes back to that
   * child alone, so the ARP request never reaches its siblings.
   */
  const fromTheWire = async (twin: boolean): Promise<boolean> => {
    const harness = h()
    const setup = macvlanSetup(harness, "private", true)
    await harness.apply(setup.ops)
    const mac = (await harness.read(setup.m1)).links.find((link) => link.name === "mv1")?.mac as string
    await harness.apply(
      ...(twin ? [{ op: "linkSet", ns: setup.outside, name: "ext0", mac } as const] : []),
      { op: "addrAdd", ns: setup.outside, dev: "ext0", cidr: "10.78.0.50/24" },
    )
    return harness.reachable(setup.outside, "10.78.0.12")
  }

  it.skipIf(!caps.macvlan)("a private macvlan child answers a station on the wire", async () => {
    expect(await fromTheWire(false)).toBe(true)
  })

  it.skipIf(!caps.macvlan)("a broadcast from the wire with a private child's MAC reaches that child alone: its sibling never hears the ARP request", async () => {
    expect(await fromTheWire(true)).toBe(false)
  })

  it.skipIf(!caps.macvlan)("a passthru macvlan is its parent's only child: a second one, or a passthru child of a parent with children, is refused", async () => {
    const harness = h()
    const hostNs = harness.ns("h")
    await harness.apply(
      host(hostNs),
      { op: "linkAdd", ns: hostNs, link: { kind: "veth", name: "p0", peer: { name: "p1" } } },
      { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name: "m1", parent: "p0", mode: "passthru" } },
      { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name: "m3", parent: "p1", mode: "bridge" } },
    )
    await harness.expectRefused("InvalidArgument", { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name: "m2", parent: "p0", mode: "passthru" } })
    await harness.expectRefused("InvalidArgument", { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name: "m4", parent: "p0", mode: "bridge" } })
    await harness.expectRefused("InvalidArgument", { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name: "m5", parent: "p1", mode: "passthru" } })
  })

  it.skipIf(!caps.macvlan)("a passthru child takes its parent's MAC, whatever was asked, and everything arriving there: the parent's own address stops answering", async () => {
    const harness = h()
    const hostNs = harness.ns("h")
    const outside = harness.ns("out")
    const m1 = harness.ns("m1")
    await harness.apply(
      host(hostNs),
      host(outside),
      host(m1),
      wire({ ns: hostNs, dev: "par0", cidr: "10.78.0.1/24" }, { ns: outside, dev: "ext0", cidr: "10.78.0.9/24" }),
    )
    expect(await harness.reachable(outside, "10.78.0.1")).toBe(true)
    await harness.apply(
      { op: "linkAdd", ns: hostNs, link: { kind: "macvlan", name: "mv1", parent: "par0", mode: "passthru", mac: "02:42:0a:4e:00:0b", targetNs: m1 } },
      { op: "addrAdd", ns: m1, dev: "mv1", cidr: "10.78.0.11/24" },
      { op: "linkSet", ns: m1, name: "mv1", up: true },
    )
    const parentMac = (await harness.read(hostNs)).links.find((link) => link.name === "par0")?.mac
    expect((await harness.read(m1)).links.find((link) => link.name === "mv1")?.mac).toBe(parentMac)
    expect(await harness.reachable(outside, "10.78.0.11")).toBe(true)
    expect(await harness.reachable(outside, "10.78.0.1")).toBe(false)
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

  it.skipIf(!caps.ipvlan)("ipvlan l3 children leave by their parent namespace's routes: a host beyond answers once it has a route back (skipped where capabilities.ipvlan is false)", async () => {
    const harness = h()
    const hostNs = harness.ns("h")
    const outside = harness.ns("out")
    const i1 = harness.ns("i1")
    await harness.apply(
      host(hostNs),
      host(outside),
      host(i1),
      wire({ ns: hostNs, dev: "par0", cidr: "10.79.1.1/24" }, { ns: outside, dev: "ext0", cidr: "10.79.1.2/24" }),
      { op: "linkAdd", ns: hostNs, link: { kind: "ipvlan", name: "ipv1", parent: "par0", mode: "l3", targetNs: i1 } },
      { op: "addrAdd", ns: i1, dev: "ipv1", cidr: "10.79.2.11/24" },
      { op: "linkSet", ns: i1, name: "ipv1", up: true },
      { op: "routeAdd", ns: i1, route: { dst: "default", dev: "ipv1", scope: "link" } },
    )
    expect(await harness.reachable(i1, "10.79.1.2")).toBe(false)
    await harness.apply({ op: "routeAdd", ns: outside, route: { dst: "10.79.2.0/24", via: "10.79.1.1" } })
    expect(await harness.reachable(i1, "10.79.1.2")).toBe(true)
  })
}
