import type { FwChain, FwTable, KernelOp } from "../../backends/kernel-types.ts"
import type { Harness } from "./harness.ts"

/**
 * Operation lists for the small topologies the cases build, written the way a driver would send
 * them (and the way the measurements on a real kernel were made).
 */

/** table "lb": `rules` in one nat chain on prerouting ("pre", at nat's priority) */
export const natPrerouting = (rules: FwChain["rules"]): FwTable => ({
  name: "lb",
  chains: [{ name: "pre", hook: "prerouting", type: "nat", priority: -100, rules }],
})

/** a balancer: new TCP connections to local port 7070 spread round robin over `backends`' port 80 (table "lb", chain "pre") */
export const balancerOn7070 = (backends: ReadonlyArray<string>): FwTable =>
  natPrerouting([{ match: { dstLocal: true, proto: "tcp", dport: 7070 }, verdict: { kind: "dnatBalance", to: backends, port: 80 } }])

/** a namespace with lo up */
export const host = (ns: string): Array<KernelOp> => [
  { op: "nsAdd", ns },
  { op: "linkSet", ns, name: "lo", up: true },
]

/** a bridge, up, holding `cidr` */
export const bridge = (ns: string, name: string, cidr: string): Array<KernelOp> => [
  { op: "linkAdd", ns, link: { kind: "bridge", name } },
  { op: "addrAdd", ns, dev: name, cidr },
  { op: "linkSet", ns, name, up: true },
]

export interface ContainerOnBridge {
  readonly hostNs: string
  readonly bridge: string
  /** the host end of the veth pair */
  readonly hostEnd: string
  readonly container: string
  /** eth0's address */
  readonly cidr: string
  readonly gateway?: string
}

/** a container namespace attached to a bridge through a veth pair: eth0 inside, lo up, default route */
export const containerOnBridge = (c: ContainerOnBridge): Array<KernelOp> => [
  { op: "nsAdd", ns: c.container },
  {
    op: "linkAdd",
    ns: c.hostNs,
    link: { kind: "veth", name: c.hostEnd, master: c.bridge, up: true, peer: { name: "eth0", ns: c.container } },
  },
  { op: "linkSet", ns: c.container, name: "lo", up: true },
  { op: "addrAdd", ns: c.container, dev: "eth0", cidr: c.cidr },
  { op: "linkSet", ns: c.container, name: "eth0", up: true },
  ...(c.gateway === undefined ? [] : [{ op: "routeAdd", ns: c.container, route: { dst: "default", via: c.gateway } } as const]),
]

/** two namespaces joined by a veth pair, both ends up with an address (a point-to-point wire) */
export const wire = (
  a: { readonly ns: string; readonly dev: string; readonly cidr: string },
  b: { readonly ns: string; readonly dev: string; readonly cidr: string },
): Array<KernelOp> => [
  { op: "linkAdd", ns: a.ns, link: { kind: "veth", name: a.dev, peer: { name: b.dev, ns: b.ns } } },
  { op: "addrAdd", ns: a.ns, dev: a.dev, cidr: a.cidr },
  { op: "addrAdd", ns: b.ns, dev: b.dev, cidr: b.cidr },
  { op: "linkSet", ns: a.ns, name: a.dev, up: true },
  { op: "linkSet", ns: b.ns, name: b.dev, up: true },
]

/**
 * A host with two bridges and one container on each:
 *   c1 (10.31.0.2) - br0 (10.31.0.1) | host | br1 (10.32.0.1) - c2 (10.32.0.2)
 * plus c3 (10.31.0.3) next to c1 on br0. Forwarding stays off.
 */
export const twoBridges = (ns: (suffix: string) => string): {
  readonly ops: Array<KernelOp>
  readonly host: string
  readonly c1: string
  readonly c2: string
  readonly c3: string
} => {
  const h = ns("h")
  const c1 = ns("c1")
  const c2 = ns("c2")
  const c3 = ns("c3")
  return {
    host: h,
    c1,
    c2,
    c3,
    ops: [
      ...host(h),
      ...bridge(h, "br0", "10.31.0.1/24"),
      ...bridge(h, "br1", "10.32.0.1/24"),
      ...containerOnBridge({ hostNs: h, bridge: "br0", hostEnd: "vc1", container: c1, cidr: "10.31.0.2/24", gateway: "10.31.0.1" }),
      ...containerOnBridge({ hostNs: h, bridge: "br1", hostEnd: "vc2", container: c2, cidr: "10.32.0.2/24", gateway: "10.32.0.1" }),
      ...containerOnBridge({ hostNs: h, bridge: "br0", hostEnd: "vc3", container: c3, cidr: "10.31.0.3/24", gateway: "10.31.0.1" }),
    ],
  }
}

/**
 * Two "hosts" joined by an underlay veth (192.168.200.1 <-> .2), each with vxlan0 (VNI 4242,
 * port 4789) carrying 10.88.0.1 and .2, and all-zero FDB entries towards the other VTEP.
 */
export const vxlanPair = (harness: Harness, withFdb: boolean): { readonly ops: Array<KernelOp>; readonly h1: string; readonly h2: string } => {
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
