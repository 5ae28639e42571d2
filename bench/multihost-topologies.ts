/**
 * The topologies the multi-host data-plane benchmark sends traffic through, as operation lists on
 * the kernel interface, shaped the way Docker 20.10 builds them (../shared/reference/
 * multihost-20.10.md):
 * - two hosts on an underlay: a bridge in a namespace of its own, each host's eth0 on it
 *   (198.18.0.0/24, as controller/Lab.ts makes its underlay), MTU 1500;
 * - overlay: on each host a namespace holding br0 (the subnet's gateway) and vxlan0 (VNI 4097,
 *   port 4789, learning off), the vxlan's UDP socket in the host namespace; each sandbox's eth0 a
 *   veth on br0, MTU 1450 on both ends; towards the other host a permanent FDB entry
 *   `<mac> dst <host>` and a neighbour entry on vxlan0;
 * - macvlan: bridge-mode children of each host's eth0, one per sandbox;
 * - bridge: two sandboxes on one host's bridge, through veths;
 * - the baseline: two namespaces joined by one veth pair, nothing else.
 */
import type { KernelOp } from "../backends/kernel-types.ts"
import { host, wire } from "../test/conformance/topologies.ts"

export const VNI = 4097
export const VXLAN_PORT = 4789
export const UNDERLAY_MTU = 1500
/** Docker's overlay MTU: the underlay's minus the 50 bytes of VXLAN over IPv4 */
export const OVERLAY_MTU = UNDERLAY_MTU - 50

/** the two namespaces traffic flows between, and the receiver's address */
export interface Path {
  readonly sender: string
  readonly receiver: string
  readonly receiverAddress: string
}

/** Docker's MAC for an address: 02:42 and the address's four bytes */
export const macOf = (address: string): string =>
  `02:42:${address
    .split(".")
    .map((b) => Number(b).toString(16).padStart(2, "0"))
    .join(":")}`

const plain = (cidr: string): string => cidr.split("/")[0] as string

/** a sandbox: a namespace whose eth0 is the peer of `hostEnd` on `bridge` in `ns`, with Docker's MAC */
const sandboxOnBridge = (ns: string, bridge: string, hostEnd: string, sandbox: string, cidr: string, mtu?: number): KernelOp[] => [
  ...host(sandbox),
  {
    op: "linkAdd",
    ns,
    link: { kind: "veth", name: hostEnd, master: bridge, up: true, ...(mtu ? { mtu } : {}), peer: { name: "eth0", ns: sandbox, mac: macOf(plain(cidr)), ...(mtu ? { mtu } : {}) } },
  },
  { op: "addrAdd", ns: sandbox, dev: "eth0", cidr },
  { op: "linkSet", ns: sandbox, name: "eth0", up: true },
]

export const barePair = (prefix: string): { readonly ops: KernelOp[]; readonly path: Path } => {
  const a = `${prefix}-bare-a`
  const b = `${prefix}-bare-b`
  return {
    ops: [...host(a), ...host(b), ...wire({ ns: a, dev: "eth0", cidr: "10.250.0.1/24" }, { ns: b, dev: "eth0", cidr: "10.250.0.2/24" })],
    path: { sender: a, receiver: b, receiverAddress: "10.250.0.2" },
  }
}

export interface TwoHosts {
  readonly underlay: string
  readonly hosts: readonly [string, string]
  /** each host's eth0 address, without prefix */
  readonly addresses: readonly [string, string]
}

export const twoHosts = (prefix: string): { readonly ops: KernelOp[]; readonly hosts: TwoHosts } => {
  const underlay = `${prefix}-underlay`
  const hosts = [`${prefix}-h1`, `${prefix}-h2`] as const
  const addresses = ["198.18.0.1", "198.18.0.2"] as const
  return {
    hosts: { underlay, hosts, addresses },
    ops: [
      ...host(underlay),
      { op: "linkAdd", ns: underlay, link: { kind: "bridge", name: "ul0", up: true } },
      ...hosts.flatMap((ns, i): KernelOp[] => [
        ...host(ns),
        { op: "linkAdd", ns: underlay, link: { kind: "veth", name: `ul-${i + 1}`, master: "ul0", up: true, peer: { name: "eth0", ns } } },
        { op: "addrAdd", ns, dev: "eth0", cidr: `${addresses[i]}/24` },
        { op: "linkSet", ns, name: "eth0", up: true },
      ]),
    ],
  }
}

/**
 * The overlay. Each host's vxlan device is made from the host namespace straight into the
 * overlay namespace (its UDP socket, `local` and `dev` stay on the host), as Docker makes it on
 * the host and moves it; proxy ARP on, so the sandbox's ARP is answered from the neighbour entry.
 */
export const overlay = (prefix: string, hosts: TwoHosts) => {
  const overlayNs = [`${prefix}-ov1`, `${prefix}-ov2`] as const
  const sandboxes = [`${prefix}-os1`, `${prefix}-os2`] as const
  const addresses = ["10.0.1.2", "10.0.1.3"] as const
  const ops: KernelOp[] = overlayNs.flatMap((ns, i): KernelOp[] => {
    const remote = addresses[1 - i] as string
    return [
      ...host(ns),
      { op: "linkAdd", ns, link: { kind: "bridge", name: "br0", mtu: OVERLAY_MTU, up: true } },
      { op: "addrAdd", ns, dev: "br0", cidr: "10.0.1.1/24" },
      {
        op: "linkAdd",
        ns: hosts.hosts[i] as string,
        link: {
          kind: "vxlan",
          name: "vxlan0",
          vni: VNI,
          port: VXLAN_PORT,
          local: hosts.addresses[i] as string,
          dev: "eth0",
          learning: false,
          proxy: true,
          mtu: OVERLAY_MTU,
          targetNs: ns,
          master: "br0",
          up: true,
        },
      },
      ...sandboxOnBridge(ns, "br0", "veth0", sandboxes[i] as string, `${addresses[i]}/24`, OVERLAY_MTU),
      // the peer as Docker's peerdb programs it: where the remote MAC lives, and its neighbour entry
      { op: "fdbAdd", ns, dev: "vxlan0", mac: macOf(remote), dst: hosts.addresses[1 - i] as string },
      { op: "neighAdd", ns, dev: "vxlan0", ip: remote, mac: macOf(remote) },
    ]
  })
  return { overlayNs, ops, path: { sender: sandboxes[0], receiver: sandboxes[1], receiverAddress: addresses[1] } satisfies Path }
}

/** a macvlan bridge-mode child of each host's eth0, made inside a sandbox of its own */
export const macvlan = (prefix: string, hosts: TwoHosts): { readonly ops: KernelOp[]; readonly path: Path } => {
  const sandboxes = [`${prefix}-ms1`, `${prefix}-ms2`] as const
  const addresses = ["198.18.0.11", "198.18.0.12"] as const
  return {
    ops: hosts.hosts.flatMap((ns, i): KernelOp[] => {
      const sandbox = sandboxes[i] as string
      return [
        ...host(sandbox),
        { op: "linkAdd", ns, link: { kind: "macvlan", name: `mv${i + 1}`, parent: "eth0", mode: "bridge", targetNs: sandbox, mac: macOf(addresses[i] as string) } },
        { op: "linkSet", ns: sandbox, name: `mv${i + 1}`, newName: "eth0" },
        { op: "addrAdd", ns: sandbox, dev: "eth0", cidr: `${addresses[i]}/24` },
        { op: "linkSet", ns: sandbox, name: "eth0", up: true },
      ]
    }),
    path: { sender: sandboxes[0], receiver: sandboxes[1], receiverAddress: addresses[1] },
  }
}

/** two sandboxes on a bridge of the first host, as a bridge network's containers */
export const bridge = (prefix: string, hosts: TwoHosts): { readonly ops: KernelOp[]; readonly path: Path } => {
  const ns = hosts.hosts[0]
  const sandboxes = [`${prefix}-bs1`, `${prefix}-bs2`] as const
  return {
    ops: [
      { op: "linkAdd", ns, link: { kind: "bridge", name: "br-bench", up: true } },
      { op: "addrAdd", ns, dev: "br-bench", cidr: "172.30.0.1/16" },
      ...sandboxOnBridge(ns, "br-bench", "vb1", sandboxes[0], "172.30.0.2/16"),
      ...sandboxOnBridge(ns, "br-bench", "vb2", sandboxes[1], "172.30.0.3/16"),
    ],
    path: { sender: sandboxes[0], receiver: sandboxes[1], receiverAddress: "172.30.0.3" },
  }
}
