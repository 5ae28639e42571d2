import type { CtState, ProbeHop, ProbeReason } from "../kernel-types.ts"
import { FwResult } from "./firewall.ts"
import { INVALID } from "./ipv4.ts"
import type { SimLink, SimNamespace } from "./state.ts"
import type { EspSeal } from "./xfrm.ts"

/**
 * What one probe (or DNS question) carries while it is walked through the machine: the packet,
 * the conntrack entries it made in each namespace, the trace when one was asked for.
 */

export class Failure {
  constructor(
    readonly reason: ProbeReason,
    readonly detail: string,
    /**
     * where a forwarding namespace gave up on the packet and Linux answers with an ICMP error
     * (net unreachable for no route, host unreachable for an unanswered ARP): a connection walks
     * that error back to learn whether its client hears it
     */
    readonly at?: SimNamespace,
  ) {}
}

export const linkDown = (link: SimLink, why: string): Failure =>
  new Failure("link-down", `${link.ns.name}/${link.name}: ${why}`)

export type PacketProto = "icmp" | "udp" | "tcp"

/** one flow as conntrack holds it in one namespace: the original tuple and the reply it expects */
export interface CtEntry {
  readonly ns: SimNamespace
  readonly proto: PacketProto
  readonly origSrc: number
  readonly origDst: number
  readonly origSport: number
  readonly origDport: number
  /** where the answer comes from: the destination, or the DNAT target */
  replySrc: number
  replySport: number
  /** where the answer goes: the source, or the masquerade/SNAT address */
  replyDst: number
  replyDport: number
  confirmed: boolean
}

export interface Packet {
  src: number
  dst: number
  readonly proto: PacketProto
  /** ports (udp/tcp); an ICMP echo carries its id as sport of the request and dport of the reply */
  sport: number
  dport: number
  ttl: number
  /** an answer (echo reply, DNS response, SYN-ACK, reset): it looks for the conntrack entry of its question */
  readonly reply: boolean
  /**
   * an ICMP error about the flow (port, host or net unreachable): it travels as a reply of the
   * flow (conntrack: related), and the firewall sees it as icmp
   */
  readonly error: boolean
  /** vxlan encapsulation: a flow of its own, not the probe's */
  readonly underlay: boolean
  /** the DNS name asked, when this is a DNS question */
  readonly question: string | undefined
  /** conntrack state in the namespace the packet is in now; undefined = INVALID */
  ct: CtState | undefined
  entry: CtEntry | undefined
  /** the packet mark (skb->mark), set by a firewall `mark` rule */
  mark: number
  /** a VXLAN datagram's VNI, INVALID for anything else */
  vni: number
  /** sealed as ESP by an xfrm state: the wire shows ESP with this SPI, not the datagram inside */
  esp: EspSeal | undefined
  /** opened by an inbound xfrm state (its secpath): what `meta ipsec exists` sees */
  ipsec: boolean
}

export const newPacket = (
  src: number,
  dst: number,
  proto: PacketProto,
  sport: number,
  dport: number,
  reply: boolean,
  underlay: boolean,
  question: string | undefined,
  error = false,
): Packet => ({
  src,
  dst,
  proto,
  sport,
  dport,
  ttl: 64,
  reply,
  error,
  underlay,
  question,
  ct: undefined,
  entry: undefined,
  mark: 0,
  vni: INVALID,
  esp: undefined,
  ipsec: false,
})

/**
 * Hops nest (each one calls the next), so a walk nested deeper than this is a loop the TTL cannot
 * see: an overlay carried over itself.
 */
const MAX_DEPTH = 200

export class Walk {
  readonly trace: Array<ProbeHop> | undefined
  readonly fw = new FwResult()
  /** the flow's conntrack entries, in every namespace it passed (a hairpin passes one twice) */
  conntrack: Array<CtEntry> | undefined = undefined
  depth = 0
  /** a failure seen inside a tunnel, reported when nothing better explains the outcome */
  hidden: Failure | undefined = undefined

  constructor(
    trace: boolean,
    /** the machine's generation: ARP answers cached in it are still true */
    readonly generation: number,
  ) {
    this.trace = trace ? [] : undefined
  }

  hop(ns: SimNamespace, dev: SimLink | undefined, event: string): void {
    this.trace?.push(dev === undefined ? { ns: ns.name, event } : { ns: ns.name, dev: dev.name, event })
  }

  enter(): boolean {
    if (this.depth >= MAX_DEPTH) return false
    this.depth++
    return true
  }

  leave(): void {
    this.depth--
  }
}

const expects = (entry: CtEntry, ns: SimNamespace, packet: Packet): boolean =>
  entry.ns === ns &&
  entry.confirmed &&
  entry.proto === packet.proto &&
  packet.src === entry.replySrc &&
  packet.dst === entry.replyDst &&
  packet.sport === entry.replySport &&
  packet.dport === entry.replyDport

/** conntrack: looks the packet up in `ns`, marks it new/established/related, undoes SNAT on answers */
export const track = (walk: Walk, ns: SimNamespace, packet: Packet): void => {
  packet.entry = undefined
  if (packet.underlay) {
    packet.ct = "new"
    return
  }
  if (packet.reply) {
    // an answer with no question seen here (or not the one expected): conntrack calls it INVALID
    packet.ct = undefined
    for (const entry of walk.conntrack ?? []) {
      if (!expects(entry, ns, packet)) continue
      packet.ct = packet.error ? "related" : "established"
      packet.entry = entry
      packet.dst = entry.origSrc
      packet.dport = entry.origSport
      return
    }
    return
  }
  packet.ct = "new"
  const created: CtEntry = {
    ns,
    proto: packet.proto,
    origSrc: packet.src,
    origDst: packet.dst,
    origSport: packet.sport,
    origDport: packet.dport,
    replySrc: packet.dst,
    replySport: packet.dport,
    replyDst: packet.src,
    replyDport: packet.sport,
    confirmed: false,
  }
  if (walk.conntrack === undefined) walk.conntrack = []
  walk.conntrack.push(created)
  packet.entry = created
}

/** the packet leaves the namespace or is delivered in it: its flow is confirmed, DNAT undone on answers */
export const confirm = (packet: Packet): void => {
  const entry = packet.entry
  if (entry === undefined) return
  if (packet.ct === "new") entry.confirmed = true
  else if (packet.ct === "established" || packet.ct === "related") {
    packet.src = entry.origDst
    packet.sport = entry.origDport
  }
}

export const masquerade = (packet: Packet, address: number): void => sourceNat(packet, address, 0)

/** SNAT/masquerade: the source becomes address (and port, when given); answers are addressed there */
export const sourceNat = (packet: Packet, address: number, port: number): void => {
  packet.src = address
  if (port !== 0 && packet.proto !== "icmp") packet.sport = port
  if (packet.entry !== undefined) {
    packet.entry.replyDst = address
    packet.entry.replyDport = packet.sport
  }
}

export const destinationNat = (packet: Packet, address: number, port: number): void => {
  packet.dst = address
  if (port !== 0 && packet.proto !== "icmp") packet.dport = port
  if (packet.entry !== undefined) {
    packet.entry.replySrc = address
    packet.entry.replySport = packet.dport
  }
}
