import type { ProbeHop, ProbeReason, ProbeResult } from "../kernel-types.ts"
import type { EchoResult, MeasurementPlane } from "./measurement/plane.ts"
import type { NamespaceTable } from "./namespaces.ts"
import type { NetlinkChannel } from "./netlink/channel.ts"
import { AF_INET, IFF_LOWER_UP, IFF_UP, NDA, NUD, RTA, RTM, RTN_LOCAL, RTN_UNICAST } from "./netlink/constants.ts"
import {
  attrIpv4,
  ifinfomsg,
  ipv4Bytes,
  ndmsg,
  parseIfinfomsg,
  parseNdmsg,
  parseRtmsg,
  readIpv4,
  readString,
  readU32,
  rtmsg,
} from "./netlink/wire.ts"

/** errno on send (or reported later by the socket) -> why the echo could not go out */
const SEND_ERRORS: Readonly<Record<string, ProbeReason>> = {
  ENETUNREACH: "no-route",
  EHOSTUNREACH: "unresolved",
  // an output-hook drop in our own namespace is refused to the sender with EPERM
  EPERM: "filtered",
  EACCES: "filtered",
}

/** the route the kernel of `channel`'s namespace picks for `address` (throws ENETUNREACH when none) */
const routeTo = (channel: NetlinkChannel, address: string) => {
  const reply = channel
    .request(
      RTM.GETROUTE,
      0,
      [rtmsg({ family: AF_INET, dstLength: 32, table: 0, protocol: 0, scope: 0, type: 0 }), attrIpv4(RTA.DST, address)],
      `route to ${address}`,
    )
    .find((m) => m.type === RTM.NEWROUTE)
  return reply ? parseRtmsg(reply.payload) : undefined
}

const neighbourOf = (channel: NetlinkChannel, oif: number, nextHop: string) => {
  const wanted = ipv4Bytes(nextHop)
  return channel
    .dump(RTM.GETNEIGH, [ndmsg({ family: AF_INET, index: 0, state: 0, flags: 0 })], "dump neighbours")
    .map((m) => parseNdmsg(m.payload))
    .find((n) => n.index === oif && n.attrs.get(NDA.DST)?.equals(wanted))
}

/** the kernel's default ARP retransmit interval (net.ipv4.neigh.*.retrans_time_ms) */
const ARP_RETRANSMIT_MS = 1000

/**
 * True when the next hop towards `address` is already being resolved, by an earlier probe whose ARP
 * went unanswered. The kernel then queues our echo behind that resolution: it sends its next ARP
 * request only when the retransmit timer fires, up to a second later, and when that resolution
 * runs out of attempts it drops our echo with it. A probe right after the way opened (a link
 * brought back up, a carrier back) then failed although the next ARP request was answered:
 * measured, the probe tests' "up again" steps failed in 3 of ~20 runs under load, or every time
 * when the earlier probes happened to leave the resolution on its last attempt.
 */
const resolutionPending = (namespaces: NamespaceTable, from: string, address: string): boolean => {
  try {
    const channel = namespaces.channel(from)
    const route = routeTo(channel, address)
    const oif = readU32(route?.attrs.get(RTA.OIF))
    if (!route || route.type !== RTN_UNICAST || oif === undefined) return false
    const neighbour = neighbourOf(channel, oif, readIpv4(route.attrs.get(RTA.GATEWAY)) ?? address)
    return neighbour !== undefined && (neighbour.state & NUD.INCOMPLETE) !== 0
  } catch {
    // no route, or the namespace is going: the echo itself will say so
    return false
  }
}

interface FirstHop {
  readonly dev?: string
  readonly via?: string
  readonly reason?: ProbeReason
  readonly detail: string
}

/**
 * Why did nothing come back? Asks the sending namespace's kernel about the first hop only: the
 * route it picks, whether that device is up and has carrier, and the ARP state of the next hop.
 * Beyond the first hop the real kernel tells nothing, and the answer stays "no-answer".
 */
const diagnoseFirstHop = (namespaces: NamespaceTable, from: string, address: string): FirstHop => {
  const channel = namespaces.channel(from)
  let route
  try {
    route = routeTo(channel, address)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === "ENETUNREACH") return { reason: "no-route", detail: `no route to ${address} in ${from}` }
    return { detail: `route lookup failed: ${(error as Error).message}` }
  }
  const local = route?.type === RTN_LOCAL
  if (!route || (route.type !== RTN_UNICAST && !local)) return { detail: `${address} is a special destination in ${from}` }
  const oif = readU32(route.attrs.get(RTA.OIF))
  const via = readIpv4(route.attrs.get(RTA.GATEWAY))
  if (oif === undefined) return { detail: "route without a device" }
  const link = channel.request(RTM.GETLINK, 0, [ifinfomsg({ index: oif })], `link ${oif}`).find((m) => m.type === RTM.NEWLINK)
  const parsed = link ? parseIfinfomsg(link.payload) : undefined
  const dev = readString(parsed?.attrs.get(3 /* IFLA_IFNAME */))
  const base = { ...(dev ? { dev } : {}), ...(via ? { via } : {}) }
  if (parsed && !(parsed.flags & IFF_UP)) return { ...base, reason: "link-down", detail: `${dev} is down in ${from}` }
  if (parsed && !(parsed.flags & IFF_LOWER_UP))
    return { ...base, reason: "link-down", detail: `${dev} has no carrier in ${from} (its peer is down or gone)` }
  if (local) return { ...base, detail: `${address} is local to ${from}; no echo reply` }
  const nextHop = via ?? address
  const neighbour = neighbourOf(channel, oif, nextHop)
  if (neighbour && neighbour.state & (NUD.INCOMPLETE | NUD.FAILED))
    return { ...base, reason: "unresolved", detail: `ARP for ${nextHop} on ${dev} got no answer` }
  return { ...base, detail: `sent via ${dev}${via ? ` and ${via}` : ""}; no echo reply` }
}

/**
 * One probe: the pre-send check and the diagnosis afterwards ask the kernel here, on the control
 * plane; the echo itself is sent, answered and timed out by the measurement helper, whose clock
 * nothing here can stall. `onEcho` sees what the echo got and how long it took.
 */
export const probe = async (
  namespaces: NamespaceTable,
  plane: MeasurementPlane,
  from: string,
  address: string,
  token: Buffer,
  timeoutMs: number,
  trace: boolean,
  onEcho?: (echo: EchoResult) => void,
): Promise<ProbeResult> => {
  ipv4Bytes(address)
  const at = namespaces.ref(from)
  namespaces.prepare(from, "pings")
  // an inherited resolution: wait for its next ARP request; if it gave up under us, one echo more
  // starts a fresh one, as a first probe would
  const inherited = resolutionPending(namespaces, from, address)
  const echo = await plane.probe(at, { address, token, timeoutMs, inheritedMs: inherited ? ARP_RETRANSMIT_MS : 0 })
  onEcho?.(echo)
  const { outcome } = echo
  const hop = (event: string, dev?: string): ProbeHop => ({ ns: from, ...(dev ? { dev } : {}), event })
  if (outcome.kind === "reply") {
    return { reachable: true, reason: "answered", ...(trace ? { trace: [hop(`echo reply from ${address}`)] } : {}) }
  }
  if (outcome.kind === "error") {
    const reason = SEND_ERRORS[outcome.code] ?? "no-answer"
    const detail = `sending to ${address} from ${from}: ${outcome.code}`
    return { reachable: false, reason, detail, ...(trace ? { trace: [hop(detail)] } : {}) }
  }
  const diagnosis = diagnoseFirstHop(namespaces, from, address)
  return {
    reachable: false,
    reason: diagnosis.reason ?? "no-answer",
    detail: diagnosis.detail,
    ...(trace ? { trace: [hop(diagnosis.detail, diagnosis.dev)] } : {}),
  }
}
