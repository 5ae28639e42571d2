import type { DnsRecords } from "../dns-records.ts"
import type { Capabilities, DnsView, IpvlanFlag, IpvlanMode, LinkKind, MacMode } from "../kernel-types.ts"
import type { CompiledTable, HookChains } from "./firewall.ts"
import type { SimIpvsService } from "./ipvs.ts"
import type { SeededRandom } from "./random.ts"
import type { SimXfrm } from "./xfrm.ts"

/**
 * The simulated machine: mutable, object-linked state (a link points at its namespace, master,
 * peer and lower device), so that every operation is a few map lookups and pointer writes.
 * Names are resolved only at the edges (operations in, NsState out).
 *
 * What every container's namespace holds is made of class instances and of arrays made by a
 * builtin, never of object or array literals: V8 moves a literal's allocations to the old
 * generation for good once those made for a lab's standing containers survived, and the
 * namespaces of every later container then burden the garbage collector (measured on the
 * controller benchmark; the same holds for the model, see model/arrays.ts).
 */

/** never changed, only copied (not frozen: slicing a frozen array is ten times slower) */
const none: ReadonlyArray<never> = []

/** an empty array that is not a literal (see above) */
export const emptyList = <A>(): Array<A> => none.slice()

export class SimAddress {
  constructor(
    readonly address: number,
    readonly length: number,
    /** another address of the same subnet came first on this link: no route of its own */
    readonly secondary: boolean,
  ) {}
}

export interface SimVxlan {
  readonly vni: number
  readonly port: number
  /** INVALID (-1) when not set */
  readonly local: number
  readonly learning: boolean
  /** answers ARP from the device's permanent neighbours (IFLA_VXLAN_PROXY) */
  readonly proxy: boolean
  /**
   * where its UDP socket lives: the namespace the creating request was sent in, which stays its
   * home for the underlay even when the device itself was created in another one
   */
  readonly net: SimNamespace
}

/** a permanent FDB entry: on a vxlan (remote VTEP `dst`) or on a bridge port (dst INVALID) */
export interface SimFdbEntry {
  readonly mac: string
  readonly dst: number
}

export class SimLink {
  index: number
  mac: string
  mtu: number
  up = false
  group = 0
  master: SimLink | undefined = undefined
  /** veth: the other end (possibly in another namespace) */
  peer: SimLink | undefined = undefined
  /** macvlan/ipvlan: parent; vxlan: underlay device (IFLA_VXLAN_LINK) */
  lower: SimLink | undefined = undefined
  /** devices stacked on this one (macvlan/ipvlan children, vxlans using it as underlay), any namespace */
  uppers: Array<SimLink> | undefined = undefined
  readonly addresses: Array<SimAddress> = emptyList()
  /** permanent FDB entries on this device */
  fdb: Array<SimFdbEntry> | undefined = undefined
  /** bridge only */
  bridge: SimBridge | undefined = undefined
  vxlan: SimVxlan | undefined = undefined
  /** vlan: the 802.1Q tag it adds and strips */
  vlanId: number | undefined = undefined
  macvlanMode: MacMode | undefined = undefined
  ipvlanMode: IpvlanMode | undefined = undefined
  ipvlanFlag: IpvlanFlag | undefined = undefined
  /** ARP answers seen from this link, valid while the machine is unchanged (see SimMachine.generation) */
  arpCache: Map<number, string> | undefined = undefined
  arpCacheGeneration = -1
  /** routes of its namespace that go through it: deleting a link that has none scans no table */
  routeCount = 0
  /** learned remote VTEP per MAC (vxlan with learning) */
  learnedVteps: Map<string, number> | undefined = undefined
  deleted = false

  constructor(
    public ns: SimNamespace,
    public name: string,
    readonly kind: LinkKind | "loopback",
    index: number,
    mac: string,
    mtu: number,
  ) {
    this.index = index
    this.mac = mac
    this.mtu = mtu
  }
}

export class SimBridge {
  /**
   * In the order they joined. An array, not a Set: a bridge has a few dozen ports, and a Set keyed
   * by links makes V8 give every new veth an identity hash, the dearest step of attaching one.
   */
  readonly ports: Array<SimLink> = emptyList()
  /** MAC -> port, learned from frames passing through (what the kernel's FDB learns) */
  readonly learned = new Map<string, SimLink>()
  /** the user set the MAC: the bridge no longer takes its ports' lowest MAC */
  macFixed = false
  /** the user set the MTU: the bridge no longer follows its ports' smallest MTU */
  mtuFixed = false
  /** permanent FDB entries of its ports (NTF_MASTER): MAC -> port */
  readonly staticMacs = new Map<string, SimLink>()
  /** how many ports have each MTU, so the smallest is found without a scan */
  readonly portMtus = new Map<number, number>()
}

export class SimRoute {
  constructor(
    readonly dst: number,
    readonly length: number,
    /** INVALID (-1) when on-link */
    readonly via: number,
    readonly dev: SimLink,
    readonly scope: "link" | "universe",
    readonly origin: "kernel" | "static",
    /** kernel routes: the address that made it (its preferred source) */
    readonly source: SimAddress | undefined,
  ) {}
}

export interface SimNeighbour {
  readonly dev: SimLink
  readonly ip: number
  mac: string
}

export class SimNamespace {
  readonly links = new Map<string, SimLink>()
  nextIndex = 1
  readonly routes: Array<SimRoute> = emptyList()
  neighbours: Array<SimNeighbour> | undefined = undefined
  /** vxlan devices whose UDP socket is in this namespace, wherever the devices themselves are */
  vxlanSockets: Array<SimLink> | undefined = undefined
  /** every address of every link, for namespaces with many links (see local-addresses.ts) */
  localIndex: Set<number> | undefined = undefined
  // the collections below are made on first use: most namespaces (containers) never need them,
  // and a benchmark creates hundreds of thousands of namespaces
  /** sysctls set through sysctlSet, in the order first set, as written (normalized) */
  sysctls: Map<string, string> | undefined = undefined
  /** net.ipv4.ip_forward and net.ipv4.conf.all.forwarding are one switch in Linux */
  forwarding = false
  /** net.ipv4.conf.<dev>.forwarding set after the global switch */
  forwardingByDev: Map<SimLink, boolean> | undefined = undefined
  echoIgnoreAll = false
  arpIgnoreAll = 0
  tables: Map<string, CompiledTable> | undefined = undefined
  /** base chains of every table, per hook, ordered by priority; rebuilt when a table changes */
  hooks: HookChains | undefined = undefined
  /** DNS servers: bound address (0 = any) -> what it answers from */
  dns: Map<number, DnsView> | undefined = undefined
  /** listening sockets and proxies (sockets.ts) */
  sockets: Array<SimSocket> | undefined = undefined
  /** IPsec states and policies, made on first use */
  xfrm: SimXfrm | undefined = undefined
  /** IPVS fwmark services by mark (Capabilities.ipvs), made with the first */
  ipvs: Map<number, SimIpvsService> | undefined = undefined
  readonly loopback: SimLink
  deleted = false

  constructor(readonly name: string) {
    this.loopback = new SimLink(this, "lo", "loopback", this.nextIndex++, "00:00:00:00:00:00", 65536)
    this.links.set("lo", this.loopback)
  }
}

/** a bound socket: a server answering with `answer`, or a docker-proxy relaying to `to` */
export interface SimSocket {
  readonly proto: "tcp" | "udp"
  /** 0: any address of the namespace */
  readonly bound: number
  readonly port: number
  readonly serve: { readonly kind: "listen"; readonly answer: string } | { readonly kind: "proxy"; readonly to: number; readonly toPort: number }
}

export interface SimMachine {
  readonly namespaces: Map<string, SimNamespace>
  /**
   * The two namespaces looked up last (see namespaceOf): a container's operations go back and
   * forth between its sandbox and its host, and a lookup in a map of a thousand namespaces is
   * the dearest part of many operations.
   */
  recent: [SimNamespace | undefined, SimNamespace | undefined]
  /** bumped by every apply: what was computed from the state (ARP answers) holds while it stays */
  generation: number
  readonly random: SeededRandom
  readonly capabilities: Capabilities
  /** the embedded DNS's names, per resolver (see updateDns) */
  readonly resolvers: Map<string, DnsRecords>
  /** the next ephemeral source port a connection takes (ip_local_port_range 32768-60999) */
  nextPort: number
}
