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
  ) {}
}

export const linkDown = (link: SimLink, why: string): Failure =>
  new Failure("link-down", `${link.ns.name}/${link.name}: ${why}`)

export interface CtEntry {
  readonly origSrc: number
  readonly origDst: number
  /** where the answer comes from: the destination, or the DNAT target */
  replySrc: number
  /** where the answer goes: the source, or the masquerade address */
  replyDst: number
  confirmed: boolean
}

export interface Packet {
  src: number
  dst: number
  readonly proto: "icmp" | "udp"
  sport: number
  dport: number
  ttl: number
  /** an answer (echo reply, DNS response): it looks for the conntrack entry of its question */
  readonly reply: boolean
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
  proto: "icmp" | "udp",
  sport: number,
  dport: number,
  reply: boolean,
  underlay: boolean,
  question: string | undefined,
): Packet => ({
  src,
  dst,
  proto,
  sport,
  dport,
  ttl: 64,
  reply,
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
  conntrack: Map<SimNamespace, CtEntry> | undefined = undefined
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

/** conntrack: looks the packet up in `ns`, marks it new/established, undoes SNAT on answers */
export const track = (walk: Walk, ns: SimNamespace, packet: Packet): void => {
  packet.entry = undefined
  if (packet.underlay) {
    packet.ct = "new"
    return
  }
  const entry = walk.conntrack?.get(ns)
  if (packet.reply) {
    if (entry !== undefined && entry.confirmed && packet.src === entry.replySrc && packet.dst === entry.replyDst) {
      packet.ct = "established"
      packet.entry = entry
      if (entry.replyDst !== entry.origSrc) packet.dst = entry.origSrc
    } else {
      // an echo reply (or a response) with no question seen here: conntrack calls it INVALID
      packet.ct = undefined
    }
    return
  }
  packet.ct = "new"
  const created: CtEntry = {
    origSrc: packet.src,
    origDst: packet.dst,
    replySrc: packet.dst,
    replyDst: packet.src,
    confirmed: false,
  }
  if (walk.conntrack === undefined) walk.conntrack = new Map()
  walk.conntrack.set(ns, created)
  packet.entry = created
}

/** the packet leaves the namespace or is delivered in it: its flow is confirmed, DNAT undone on answers */
export const confirm = (packet: Packet): void => {
  const entry = packet.entry
  if (entry === undefined) return
  if (packet.ct === "new") entry.confirmed = true
  else if (packet.ct === "established" && entry.replySrc !== entry.origDst) packet.src = entry.origDst
}

export const masquerade = (packet: Packet, address: number): void => {
  packet.src = address
  if (packet.entry !== undefined) packet.entry.replyDst = address
}

export const destinationNat = (packet: Packet, address: number, port: number): void => {
  packet.dst = address
  if (port !== 0 && packet.proto === "udp") packet.dport = port
  if (packet.entry !== undefined) packet.entry.replySrc = address
}
