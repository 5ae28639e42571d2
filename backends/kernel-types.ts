/**
 * The kernel interface as data: what a Linux network stack holds (namespaces, links, addresses,
 * routes, neighbours, bridge FDB, sysctls, nftables-shaped firewall) and the operations on it.
 * No I/O here. Shaped after what rtnetlink and nftables really offer, so that the simulator and
 * the real kernel can both implement it without translation tricks.
 *
 * Names: a namespace is named by the caller (on linux it becomes /run/netns/<name>); links are
 * named inside their namespace (at most 15 bytes, as IFNAMSIZ demands). Addresses are IPv4 CIDR
 * strings ("10.1.0.2/24"); MACs are lower-case colon hex.
 */

import type { IpvsServiceState } from "./ipvs-types.ts"

export type MacMode = "bridge" | "private" | "vepa" | "passthru"
export type IpvlanMode = "l2" | "l3" | "l3s"
export type IpvlanFlag = "bridge" | "private" | "vepa"

/** Fields every link kind accepts at creation. */
export interface LinkCommon {
  readonly name: string
  readonly mac?: string
  readonly mtu?: number
  /** name of a bridge in the same namespace to enslave to */
  readonly master?: string
  readonly up?: boolean
  /** IFLA_GROUP: lets a whole set of links be deleted in one request */
  readonly group?: number
}

export interface VethPeer {
  readonly name: string
  /** namespace the peer is created in (IFLA_NET_NS_FD at creation); default: the same one */
  readonly ns?: string
  readonly mac?: string
  readonly mtu?: number
}

export type LinkSpec =
  | (LinkCommon & { readonly kind: "veth"; readonly peer: VethPeer })
  | (LinkCommon & { readonly kind: "bridge" })
  | (LinkCommon & { readonly kind: "dummy" })
  | (LinkCommon & {
      readonly kind: "vxlan"
      readonly vni: number
      readonly port: number
      readonly local?: string
      /** underlay device (IFLA_VXLAN_LINK) */
      readonly dev?: string
      readonly learning?: boolean
      /**
       * IFLA_VXLAN_PROXY: ARP requests sent into the device are answered from its permanent
       * neighbour entries and never cross the tunnel (Docker's overlay sets it)
       */
      readonly proxy?: boolean
      /**
       * IFLA_VXLAN_L2MISS / L3MISS: tell netlink listeners about FDB and neighbour misses (Docker
       * sets both, for a KV-store mode that resolved misses; nothing listens here, so the data
       * path is the same either way)
       */
      readonly l2miss?: boolean
      readonly l3miss?: boolean
      /**
       * create the device straight inside this namespace (IFLA_NET_NS_FD). Its UDP socket, its
       * `local` address and its `dev` stay in the namespace the request is sent in: a vxlan that
       * Docker creates on the host and moves into an overlay network's namespace
       */
      readonly targetNs?: string
    })
  /** an 802.1Q sub-interface of `parent` (`eth0.10`): frames it sends carry the tag `id` */
  | (LinkCommon & { readonly kind: "vlan"; readonly parent: string; readonly id: number })
  | (LinkCommon & {
      readonly kind: "macvlan"
      /** parent link, in the namespace the request is sent in */
      readonly parent: string
      readonly mode: MacMode
      /** create the child directly in this namespace (IFLA_NET_NS_FD) */
      readonly targetNs?: string
    })
  | (LinkCommon & {
      readonly kind: "ipvlan"
      readonly parent: string
      readonly mode: IpvlanMode
      readonly flag?: IpvlanFlag
      readonly targetNs?: string
    })

export type LinkKind = LinkSpec["kind"]

export interface RouteSpec {
  /** "default" or an IPv4 CIDR */
  readonly dst: string
  readonly via?: string
  readonly dev?: string
  /** link: on-link (connected) route; universe: via a gateway. Default: universe with via, link without */
  readonly scope?: "link" | "universe"
}

// ---------------------------------------------------------------------------------------------
// Firewall: nftables-shaped. A namespace holds named tables; a table holds chains; a base chain
// hangs on a hook. Every table's base chain on a hook sees the packet (ordered by priority):
// a drop anywhere drops, an accept only ends that chain. That is nftables' own semantics.
// ---------------------------------------------------------------------------------------------

/**
 * Hooks. "forward", "input", "output", "prerouting", "postrouting" are the IPv4 (inet) hooks, where
 * iif/oif are layer-3 devices (a bridge, not its ports). "bridge-forward" is the bridge family's
 * forward hook: frames switched between two ports of one bridge, where `bridge` is the bridge's
 * name and iif/oif are the ports.
 */
export type FwHook = "prerouting" | "input" | "forward" | "output" | "postrouting" | "bridge-forward"

export type CtState = "new" | "established" | "related"

export interface FwMatch {
  readonly iif?: string
  readonly iifNot?: string
  readonly oif?: string
  readonly oifNot?: string
  /** bridge-forward only: the bridge the frame is switched in */
  readonly bridge?: string
  readonly src?: string
  readonly srcNot?: string
  readonly dst?: string
  readonly dstNot?: string
  readonly proto?: "icmp" | "tcp" | "udp"
  /** the transport's destination port (tcp/udp; with `proto` absent, either of them) */
  readonly dport?: number
  /** the transport's source port */
  readonly sport?: number
  /**
   * the destination is (true) or is not (false) an address of this namespace: iptables
   * `-m addrtype --dst-type LOCAL`, nftables `fib daddr type local`. Docker's nat DOCKER chain is
   * reached this way, so a published port answers on every host address.
   */
  readonly dstLocal?: boolean
  /** the source is (true) or is not (false) an address of this namespace (`--src-type LOCAL`, `fib saddr type local`) */
  readonly srcLocal?: boolean
  readonly ctState?: ReadonlyArray<CtState>
  /**
   * a VXLAN datagram of this VNI: the 24 bits after the first 4 bytes of the UDP payload
   * (nftables `@th,96,24 <vni>`; Docker 20.10 matches them with iptables u32/bpf)
   */
  readonly vni?: number
  /**
   * whether the packet came through IPsec (an xfrm state decrypted it): nftables `meta ipsec
   * exists|missing`, iptables `-m policy --dir in --pol ipsec|none`
   */
  readonly ipsec?: boolean
}

export type FwVerdict =
  | { readonly kind: "accept" }
  | { readonly kind: "drop" }
  | { readonly kind: "jump"; readonly chain: string }
  | { readonly kind: "return" }
  /** nat postrouting: rewrite the source to the outgoing device's address */
  | { readonly kind: "masquerade" }
  /** nat postrouting: rewrite the source to this address (port kept unless given) */
  | { readonly kind: "snat"; readonly to: string; readonly port?: number }
  /** nat prerouting/output: rewrite the destination */
  | { readonly kind: "dnat"; readonly to: string; readonly port?: number }
  /**
   * nat prerouting/output: rewrite the destination to one of `to`, taken in turn for each new
   * connection (round robin: nftables `dnat to numgen inc mod N map { 0 : a, 1 : b … }`). The
   * counter belongs to the rule, counts every new flow the rule matches (an echo too), and starts
   * at 0 whenever its table is set, changed or not. A service VIP. Where the kernel has ip_vs
   * (Capabilities.ipvs: linux with ip_vs, the simulator made with it) a rule in a prerouting nat
   * chain is carried out by IPVS instead (a fwmark service, round robin, in the same order; the
   * form is backends/ipvs-form.ts), which takes only connections to local addresses and gives
   * echoes no turn.
   */
  | { readonly kind: "dnatBalance"; readonly to: ReadonlyArray<string>; readonly port?: number }
  /**
   * set the packet mark and go on with the next rule (nftables `meta mark set`, not a verdict
   * there); in a `route` chain on output the kernel routes the packet again with its new mark,
   * and xfrm policies that select the mark apply to it
   */
  | { readonly kind: "mark"; readonly value: number }

export interface FwRule {
  readonly match: FwMatch
  readonly verdict: FwVerdict
  readonly comment?: string
}

export interface FwChain {
  readonly name: string
  /** base chains have a hook; regular chains are reached by jump */
  readonly hook?: FwHook
  /** route: an output chain whose changes to the packet (its mark) make the kernel route it again */
  readonly type?: "filter" | "nat" | "route"
  readonly priority?: number
  readonly policy?: "accept" | "drop"
  readonly rules: ReadonlyArray<FwRule>
}

export interface FwTable {
  readonly name: string
  readonly chains: ReadonlyArray<FwChain>
}

// ---------------------------------------------------------------------------------------------
// IPsec through xfrm, shaped after NETLINK_XFRM (linux/xfrm.h): security associations (states)
// keyed by destination, SPI and protocol; security policies that select packets by addresses,
// protocol, port and mark, and name the state that must carry them (a template). Only what
// Docker's encrypted overlay uses: ESP in transport mode with an AEAD, IPv4.
// ---------------------------------------------------------------------------------------------

/** XFRMA_MARK: a packet (or a lookup) matches when (mark & mask) === value */
export interface XfrmMark {
  readonly value: number
  readonly mask: number
}

/** an AEAD algorithm with its key (XFRMA_ALG_AEAD) */
export interface XfrmAead {
  /** the kernel's crypto name; Docker's is "rfc4106(gcm(aes))" */
  readonly name: string
  /** lower-case hex, no 0x: for rfc4106 the AES key followed by the 4-byte salt */
  readonly key: string
  /** integrity check value length in bits (Docker: 64) */
  readonly icvBits: number
}

/** one security association: how packets between src and dst under this SPI are sealed and opened */
export interface XfrmStateSpec {
  /** plain IPv4 addresses */
  readonly src: string
  readonly dst: string
  readonly proto: "esp"
  /** the security parameter index, 32 bits, never 0 */
  readonly spi: number
  readonly mode: "transport"
  /** ties the state to policy templates asking for the same reqid (0: any) */
  readonly reqid?: number
  readonly aead: XfrmAead
  readonly mark?: XfrmMark
}

/** which packets a policy is about; an address is a CIDR ("10.0.0.1/32") */
export interface XfrmSelector {
  readonly src: string
  readonly dst: string
  readonly proto?: "icmp" | "tcp" | "udp"
  readonly dport?: number
}

/** what a policy asks for: the state (by its addresses, protocol and, if set, SPI/reqid) that must carry the packet */
export interface XfrmTemplate {
  readonly src: string
  readonly dst: string
  readonly proto: "esp"
  readonly mode: "transport"
  /** 0 or absent: any SPI */
  readonly spi?: number
  readonly reqid?: number
}

export type XfrmDirection = "in" | "out" | "fwd"

export interface XfrmPolicySpec {
  readonly selector: XfrmSelector
  readonly dir: XfrmDirection
  readonly mark?: XfrmMark
  /** lower wins (the kernel's order); default 0 */
  readonly priority?: number
  readonly template: XfrmTemplate
}

// ---------------------------------------------------------------------------------------------
// Operations. `apply` runs a list of them in order and stops at the first refusal.
// ---------------------------------------------------------------------------------------------

export type KernelOp =
  | { readonly op: "nsAdd"; readonly ns: string }
  | { readonly op: "nsDel"; readonly ns: string }
  | { readonly op: "linkAdd"; readonly ns: string; readonly link: LinkSpec }
  | { readonly op: "linkDel"; readonly ns: string; readonly name: string }
  /** delete every link of a group in one request (RTM_DELLINK + IFLA_GROUP) */
  | { readonly op: "linkDelGroup"; readonly ns: string; readonly group: number }
  | {
      readonly op: "linkSet"
      readonly ns: string
      readonly name: string
      readonly up?: boolean
      /** a bridge name, or null to release */
      readonly master?: string | null
      readonly mtu?: number
      readonly mac?: string
      readonly newName?: string
    }
  | { readonly op: "addrAdd"; readonly ns: string; readonly dev: string; readonly cidr: string }
  | { readonly op: "addrDel"; readonly ns: string; readonly dev: string; readonly cidr: string }
  | { readonly op: "routeAdd"; readonly ns: string; readonly route: RouteSpec }
  | { readonly op: "routeDel"; readonly ns: string; readonly route: RouteSpec }
  /** a permanent IPv4 neighbour (ARP) entry */
  | { readonly op: "neighAdd"; readonly ns: string; readonly dev: string; readonly ip: string; readonly mac: string }
  | { readonly op: "neighDel"; readonly ns: string; readonly dev: string; readonly ip: string }
  /**
   * a permanent bridge FDB entry. On a vxlan device (`dst` set): NTF_SELF, the remote VTEP for that
   * MAC. On a bridge port: NTF_MASTER, the MAC lives behind that port.
   */
  | { readonly op: "fdbAdd"; readonly ns: string; readonly dev: string; readonly mac: string; readonly dst?: string }
  | { readonly op: "fdbDel"; readonly ns: string; readonly dev: string; readonly mac: string; readonly dst?: string }
  /**
   * forget what the bridge learned of a MAC behind this port (its dynamic NTF_MASTER entry), if it
   * learned anything: no error when it did not. libnetwork deletes that entry with a peer (osl
   * DeleteNeighbor, "Delete the dynamic entry in the bridge"), so a MAC that comes back on a local
   * port is not sent into the tunnel it was learned from.
   */
  | { readonly op: "fdbForget"; readonly ns: string; readonly dev: string; readonly mac: string }
  /** a per-namespace sysctl, dotted ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding") */
  | { readonly op: "sysctlSet"; readonly ns: string; readonly key: string; readonly value: string }
  /** create or atomically replace one firewall table */
  | { readonly op: "firewallSet"; readonly ns: string; readonly table: FwTable }
  | { readonly op: "firewallDel"; readonly ns: string; readonly table: string }
  /** XFRM_MSG_NEWSA: AlreadyExists for the same (dst, SPI, proto, mark); a kernel without ESP or the AEAD refuses */
  | { readonly op: "xfrmStateAdd"; readonly ns: string; readonly state: XfrmStateSpec }
  /** XFRM_MSG_DELSA, by what identifies a state in the kernel: destination, SPI, protocol (esp), mark */
  | { readonly op: "xfrmStateDel"; readonly ns: string; readonly dst: string; readonly spi: number; readonly mark?: XfrmMark }
  /** XFRM_MSG_NEWPOLICY: AlreadyExists for the same selector, direction and mark */
  | { readonly op: "xfrmPolicyAdd"; readonly ns: string; readonly policy: XfrmPolicySpec }
  /** XFRM_MSG_DELPOLICY, by selector, direction and mark */
  | {
      readonly op: "xfrmPolicyDel"
      readonly ns: string
      readonly selector: XfrmSelector
      readonly dir: XfrmDirection
      readonly mark?: XfrmMark
    }

export type KernelOpName = KernelOp["op"]

// ---------------------------------------------------------------------------------------------
// State read back
// ---------------------------------------------------------------------------------------------

export interface LinkState {
  readonly name: string
  readonly index: number
  readonly kind: LinkKind | "loopback"
  readonly mac: string
  readonly mtu: number
  /** administratively up (IFF_UP) */
  readonly up: boolean
  readonly master?: string
  readonly group: number
  /** veth: the peer's name and namespace */
  readonly peer?: { readonly name: string; readonly ns: string }
  readonly parent?: string
  readonly vni?: number
  /** vlan: the 802.1Q tag */
  readonly vlanId?: number
}

export interface AddrState {
  readonly dev: string
  readonly cidr: string
}

export interface RouteState {
  /** "default" or CIDR (network address form) */
  readonly dst: string
  readonly via?: string
  readonly dev: string
  readonly scope: "link" | "universe" | "host"
  /** kernel: made by an address; static: added by a request */
  readonly origin: "kernel" | "static"
}

export interface NeighState {
  readonly dev: string
  readonly ip: string
  readonly mac: string
}

export interface FdbState {
  readonly dev: string
  readonly mac: string
  readonly dst?: string
}

export interface NsState {
  readonly ns: string
  readonly links: ReadonlyArray<LinkState>
  readonly addrs: ReadonlyArray<AddrState>
  readonly routes: ReadonlyArray<RouteState>
  /** permanent neighbour entries only (learned ones are the kernel's business) */
  readonly neighs: ReadonlyArray<NeighState>
  /** permanent FDB entries only */
  readonly fdb: ReadonlyArray<FdbState>
  /** the sysctls that were set through `sysctlSet`, read back from the kernel */
  readonly sysctls: Readonly<Record<string, string>>
  readonly firewall: ReadonlyArray<FwTable>
  /** xfrm states (`ip xfrm state`), in the kernel's dump order */
  readonly xfrmStates: ReadonlyArray<XfrmStateSpec>
  /** xfrm policies (`ip xfrm policy`) */
  readonly xfrmPolicies: ReadonlyArray<XfrmPolicySpec>
  /**
   * the IPVS fwmark services (`ipvsadm -Ln`) that carry out the namespace's balancing rules where
   * the kernel has ip_vs (Capabilities.ipvs), by mark; absent where there are none
   */
  readonly ipvs?: ReadonlyArray<IpvsServiceState>
}

// ---------------------------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------------------------

export type ProbeReason =
  /** an echo reply came back */
  | "answered"
  /** no route to the destination in some namespace on the way */
  | "no-route"
  /** ARP for the next hop got no answer */
  | "unresolved"
  /** a firewall rule dropped it (the sim names the table/chain/rule) */
  | "filtered"
  /** a namespace on the way does not forward (ip_forward = 0) */
  | "not-forwarded"
  /** a link on the way is down */
  | "link-down"
  /** the real kernel: sent, nothing came back in time */
  | "no-answer"
  /**
   * IPsec dropped it (the sim names why): an out policy selected it and no state carries it, no
   * inbound state for its SPI, or the integrity check failed (the keys differ)
   */
  | "ipsec"

export interface ProbeHop {
  readonly ns: string
  readonly dev?: string
  readonly event: string
}

export interface ProbeResult {
  readonly reachable: boolean
  readonly reason: ProbeReason
  readonly detail?: string
  readonly trace?: ReadonlyArray<ProbeHop>
  /**
   * linux: links ("ns/name") the kernel was still bringing up when the echo went out, because
   * the wait for them gave up (backends/linux/settle.ts); absent when everything had settled
   */
  readonly unsettled?: ReadonlyArray<string>
}

// ---------------------------------------------------------------------------------------------
// Sockets: what a container serves and what a client gets back. A server answers every TCP
// connection (then closes it) and every UDP datagram with one line, its `answer` and the source
// address it saw, so a client learns who answered and from where. On linux they are real sockets
// of the measurement helper inside the namespace (as its DNS servers are); the simulator walks the
// handshake (or the datagram and its answer) through routing, firewall, conntrack and NAT.
// ---------------------------------------------------------------------------------------------

export type Proto = "tcp" | "udp"

/** a server socket in `ns` bound to address:port (address default 0.0.0.0, any address of `ns`) */
export interface ListenSpec {
  readonly ns: string
  readonly address?: string
  readonly port: number
  readonly proto: Proto
  /** what it answers with: the container's name */
  readonly answer: string
}

/** which socket `unlisten` / `unproxy` close: ns, address (default 0.0.0.0), port, proto */
export interface SocketRef {
  readonly ns: string
  readonly address?: string
  readonly port: number
  readonly proto: Proto
}

/**
 * Docker's userland proxy (docker-proxy) in `ns`: bound to address:port, it accepts a TCP
 * connection (or takes a datagram), opens its own from `ns` to `to` (so the server sees an
 * address of `ns` as the source) and relays. A TCP client is accepted before the proxy tries
 * `to`, so when `to` refuses the client sees `closed`, not `refused`. UDP answers go back from the
 * proxy's socket, whose source address the routing picks when it is bound to 0.0.0.0.
 */
export interface ProxySpec {
  readonly ns: string
  readonly address?: string
  readonly port: number
  readonly proto: Proto
  readonly to: { readonly address: string; readonly port: number }
}

/** one TCP connection (a handshake, then the server's answer) or one UDP exchange from `from` */
export interface ConnectSpec {
  readonly from: string
  readonly address: string
  readonly port: number
  readonly proto: Proto
  /** the sim: the hop-by-hop walk of the packets */
  readonly trace?: boolean
}

/**
 * - answer: the server's answer came back
 * - refused: a TCP reset or an ICMP port unreachable came back (nobody listens there)
 * - closed: the connection was accepted, then closed without an answer (docker-proxy when its
 *   target refuses)
 * - unreachable: ICMP host or network unreachable came back, or the client had no route (an
 *   unanswered ARP ends this way on Linux too, after about 3 s)
 * - timeout: nothing came back (dropped on the way there or back)
 */
export type ConnectOutcome = "answer" | "refused" | "closed" | "unreachable" | "timeout"

export interface ConnectResult {
  readonly outcome: ConnectOutcome
  /** outcome answer: the server's `answer` (a container's name) */
  readonly answeredBy?: string
  /** outcome answer: the source address the server saw, without prefix length */
  readonly seenFrom?: string
  /** why, in words: the sim names the namespace, hook and rule; linux the errno */
  readonly detail?: string
  /** the sim, when asked: the walk of both directions, the proxy's own connection included */
  readonly trace?: ReadonlyArray<ProbeHop>
  /** linux: links still settling when the connection was made (as ProbeResult.unsettled) */
  readonly unsettled?: ReadonlyArray<string>
}

// ---------------------------------------------------------------------------------------------
// DNS: the embedded resolver. The kernel holds each resolver's names (one resolver per Docker
// host, kept up to date by its controller through updateDns) and its servers answer from them
// by libnetwork's rules (backends/dns-records.ts), each for the networks of its sandbox in order.
// Data, not a callback: the linux backend answers in a process of its own, which cannot call back
// into the control plane (see backends/linux/README.md, "Measurement plane").
// ---------------------------------------------------------------------------------------------

export type DnsRcode = "NOERROR" | "NXDOMAIN" | "SERVFAIL" | "REFUSED"

export interface DnsAnswer {
  readonly rcode: DnsRcode
  readonly addresses: ReadonlyArray<string>
}

/** the names one endpoint answers to on one network (its container's name and its aliases) */
export interface DnsEntry {
  readonly network: string
  readonly names: ReadonlyArray<string>
  /** the endpoint's address, without prefix length */
  readonly address: string
}

/** what a server answers from: one resolver's names, asked on these networks in this order */
export interface DnsView {
  readonly resolver: string
  readonly networks: ReadonlyArray<string>
}

/** a change to one resolver's names, and to the networks running servers answer for */
export interface DnsUpdate {
  readonly resolver: string
  readonly remove?: ReadonlyArray<DnsEntry>
  readonly add?: ReadonlyArray<DnsEntry>
  /** namespaces whose servers now answer for other networks (their sandbox joined or left one) */
  readonly networks?: ReadonlyArray<{ readonly ns: string; readonly networks: ReadonlyArray<string> }>
}

/**
 * What a query from inside a namespace got: an answer, or nothing within the timeout; with
 * `unsettled` as a probe has it, when the query went out before the links had settled.
 */
export type DnsQueryResult = (DnsAnswer | { readonly rcode: "TIMEOUT"; readonly addresses: readonly [] }) & {
  readonly unsettled?: ReadonlyArray<string>
}

export interface Capabilities {
  readonly veth: boolean
  readonly bridge: boolean
  readonly vxlan: boolean
  readonly macvlan: boolean
  readonly ipvlan: boolean
  readonly dummy: boolean
  /** 802.1Q sub-interfaces (link kind vlan) */
  readonly vlan: boolean
  /** firewall tables can be set */
  readonly firewall: boolean
  /**
   * IPsec ESP security associations can be installed (XFRM_MSG_NEWSA, transport mode,
   * rfc4106(gcm(aes))): what Docker's encrypted overlay needs between hosts
   */
  readonly esp: boolean
  /**
   * the kernel has IP virtual server (ip_vs), which Docker balances service VIPs with. A driver
   * balances through the one verdict dnatBalance either way; a backend carries it out by IPVS
   * when this is true, by nftables numgen otherwise (as on this kernel, and in the simulator unless
   * it is made with ipvs). Linux: true only when the IPVS generic netlink family resolves and takes
   * a trial service (backends/linux/README.md, "Load balancing: numgen or IPVS").
   */
  readonly ipvs: boolean
}

/** the embedded DNS address inside every sandbox, as in Docker */
export const EMBEDDED_DNS_ADDRESS = "127.0.0.11"

/** IFLA_GROUP of every link cnmlab creates ("cn" in ASCII), so leftovers are recognisable */
export const CNMLAB_LINK_GROUP = 0x636e
