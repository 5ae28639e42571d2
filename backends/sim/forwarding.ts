import type { FwHook } from "../kernel-types.ts"
import { isLocalAddress } from "./addresses.ts"
import { hasCarrier } from "./carrier.ts"
import { type FwPacket, passesHook } from "./firewall.ts"
import { formatIpv4, INVALID, inPrefix, isLoopbackAddress, networkOf } from "./ipv4.ts"
import { type Frame, receiveFrame, type Sink, sendFrame } from "./l2.ts"
import { BROADCAST_MAC } from "./random.ts"
import { lookupRoute } from "./routes.ts"
import type { SimLink, SimNamespace, SimRoute } from "./state.ts"
import { arpIgnoreLevel, forwardsFrom, routesLocalnet } from "./sysctl.ts"
import { hexSpi, inboundState, policyFor, stateFor } from "./xfrm.ts"
import { ipvsSchedule } from "./ipvs.ts"
import { confirm, destinationNat, Failure, linkDown, masquerade, type Packet, sourceNat, track, type Walk } from "./walk.ts"

/**
 * Layer 3, walked rather than looked up: a packet leaves a namespace by its routing table (local
 * delivery through lo, or a route, a source address, the output and postrouting hooks, ARP for
 * the next hop, a frame), arrives on a device of another namespace (prerouting, then input if the
 * address is local there - any local address, Linux's weak host model - or forward if
 * ip_forward is on) and goes on the same way. Each function returns the namespace where the
 * packet was delivered, or why it was not.
 */

type Reached = SimNamespace | Failure

const hookPacket: FwPacket = {
  ns: undefined,
  iif: undefined,
  oif: undefined,
  bridge: undefined,
  proto: undefined,
  src: 0,
  dst: 0,
  dport: 0,
  sport: 0,
  ct: undefined,
  vni: INVALID,
  ipsec: false,
}

/** runs `hook`; applies the NAT a nat chain asked for; a Failure when dropped */
const passes = (
  walk: Walk,
  ns: SimNamespace,
  hook: FwHook,
  packet: Packet,
  iif: SimLink | undefined,
  oif: SimLink | undefined,
  natAllowed = true,
): Failure | undefined => {
  if (ns.hooks?.has(hook) !== true) return undefined
  hookPacket.ns = ns
  hookPacket.iif = iif?.name
  hookPacket.oif = oif?.name
  const sealed = packet.esp !== undefined
  hookPacket.proto = sealed ? "esp" : packet.error ? "icmp" : packet.proto
  hookPacket.src = packet.src
  hookPacket.dst = packet.dst
  hookPacket.dport = sealed ? 0 : packet.dport
  hookPacket.sport = sealed ? 0 : packet.sport
  hookPacket.ct = packet.ct
  hookPacket.vni = sealed ? INVALID : packet.vni
  hookPacket.ipsec = packet.ipsec
  const result = walk.fw
  if (!passesHook(ns, hook, hookPacket, result, natAllowed && !packet.underlay)) {
    if (walk.trace !== undefined) walk.hop(ns, iif ?? oif, `${hook} drop (${result.detail})`)
    return new Failure("filtered", `${ns.name}: ${hook} dropped by ${result.detail}`)
  }
  if (result.mark !== INVALID && result.mark !== packet.mark) {
    packet.mark = result.mark
    if (walk.trace !== undefined) walk.hop(ns, iif ?? oif, `${hook} mark 0x${result.mark.toString(16)}`)
  }
  if (result.dnatTo !== INVALID) {
    if (walk.trace !== undefined) walk.hop(ns, iif ?? oif, `${hook} dnat to ${formatIpv4(result.dnatTo)}${result.dnatPort === 0 ? "" : `:${result.dnatPort}`}`)
    destinationNat(packet, result.dnatTo, result.dnatPort)
  }
  if (result.snatTo !== INVALID) {
    if (walk.trace !== undefined) walk.hop(ns, oif ?? iif, `${hook} snat to ${formatIpv4(result.snatTo)}`)
    sourceNat(packet, result.snatTo, result.snatPort)
  }
  if (result.masquerade && oif !== undefined) {
    const primary = oif.addresses[0]
    if (primary === undefined) return new Failure("filtered", `${ns.name}: masquerade on ${oif.name}, which has no address`)
    if (walk.trace !== undefined) walk.hop(ns, oif, `masquerade to ${formatIpv4(primary.address)}`)
    masquerade(packet, primary.address)
  }
  return undefined
}

/** Linux's inet_select_addr: the route's preferred source, an address of the device in the gateway's subnet, any */
const sourceFor = (ns: SimNamespace, route: SimRoute, nextHop: number): number => {
  const preferred = route.source
  if (preferred !== undefined && route.dev.addresses.includes(preferred)) return preferred.address
  const addresses = route.dev.addresses
  for (const address of addresses) {
    if (!address.secondary && inPrefix(nextHop, networkOf(address.address, address.length), address.length)) return address.address
  }
  const first = addresses[0]
  if (first !== undefined) return first.address
  for (const link of ns.links.values()) {
    if (link.kind === "loopback") continue
    const any = link.addresses[0]
    if (any !== undefined) return any.address
  }
  return INVALID
}

/** the lo address that covers a 127/8 destination (its source, as the local route says) */
const loopbackSource = (ns: SimNamespace, dst: number): number => {
  for (const address of ns.loopback.addresses) {
    if (inPrefix(dst, networkOf(address.address, address.length), address.length)) return address.address
  }
  return INVALID
}

/** a packet made in `ns` (an echo, its reply, a DNS question, a vxlan datagram) leaves by the routing table */
export const sendFromNamespace = (walk: Walk, ns: SimNamespace, packet: Packet): Reached => {
  if (!walk.enter()) return new Failure("no-answer", `${ns.name}: the walk nests too deep (a loop)`)
  const reached = routeOut(walk, ns, packet)
  walk.leave()
  return reached
}

/**
 * `rerouted` (attempt 1): output NAT changed the destination and Linux routes the packet again;
 * the output hook does not see it a second time
 */
const routeOut = (walk: Walk, ns: SimNamespace, packet: Packet, rerouted = false): Reached => {
  for (let attempt = rerouted ? 1 : 0; attempt < 2; attempt++) {
    const dst = packet.dst
    if (isLoopbackAddress(dst) || isLocalAddress(ns, dst)) return deliverThroughLoopback(walk, ns, packet, attempt === 0)
    const route = lookupRoute(ns, dst)
    if (route === undefined) {
      if (walk.trace !== undefined) walk.hop(ns, undefined, `no route to ${formatIpv4(dst)}`)
      return new Failure("no-route", `${ns.name}: no route to ${formatIpv4(dst)}`, ns)
    }
    const nextHop = route.via === INVALID ? dst : route.via
    if (packet.src === 0) {
      const source = sourceFor(ns, route, nextHop)
      if (source === INVALID) return new Failure("no-route", `${ns.name}: no source address for ${formatIpv4(dst)}`)
      packet.src = source
    }
    // __mkroute_output: a 127/8 source (output NAT sent a loopback connection elsewhere) may leave
    // by a device only with route_localnet; the kernel drops the packet (ip_route_me_harder fails)
    if (isLoopbackAddress(packet.src) && route.dev.kind !== "loopback" && !routesLocalnet(ns, route.dev)) {
      if (walk.trace !== undefined) walk.hop(ns, route.dev, `${formatIpv4(packet.src)} may not leave by ${route.dev.name} (route_localnet=0)`)
      return new Failure("no-route", `${ns.name}/${route.dev.name}: a 127/8 source may not leave here (route_localnet=0)`)
    }
    if (walk.trace !== undefined) walk.hop(ns, route.dev, `send ${formatIpv4(packet.src)} -> ${formatIpv4(dst)} via ${formatIpv4(nextHop)}`)
    if (attempt === 0) {
      track(walk, ns, packet)
      const dropped = passes(walk, ns, "output", packet, undefined, route.dev)
      if (dropped) return dropped
      if (packet.dst !== dst) continue
    }
    // xfrm_lookup with the packet's mark as the output hooks left it (a mark rule sits in a route
    // chain, after which the kernel routes, and looks policies up, again)
    const unsealed = sealOutgoing(walk, ns, packet)
    if (unsealed) return unsealed
    const droppedAfter = passes(walk, ns, "postrouting", packet, undefined, route.dev)
    if (droppedAfter) return droppedAfter
    confirm(packet)
    return transmit(walk, ns, route.dev, nextHop, packet)
  }
  return new Failure("no-route", `${ns.name}: output NAT loops`)
}

/** a local destination: out through lo and straight back in (lo must be up, measured) */
const deliverThroughLoopback = (walk: Walk, ns: SimNamespace, packet: Packet, untracked: boolean): Reached => {
  const lo = ns.loopback
  const dst = packet.dst
  if (isLoopbackAddress(dst) && !isLocalAddress(ns, dst)) {
    return new Failure("no-route", `${ns.name}: ${formatIpv4(dst)} is not local (lo has no address for it)`)
  }
  if (packet.src === 0) packet.src = isLoopbackAddress(dst) ? loopbackSource(ns, dst) : dst
  if (!lo.up) {
    walk.hop(ns, lo, "lo is down")
    return linkDown(lo, "is down: local delivery impossible")
  }
  if (walk.trace !== undefined) walk.hop(ns, lo, `send ${formatIpv4(packet.src)} -> ${formatIpv4(dst)} via lo`)
  // `untracked`: the output hook has not seen it yet (it has when output NAT rerouted it here).
  // Back in through lo the flow is already NATed: prerouting/input nat chains are not asked again
  if (untracked) {
    track(walk, ns, packet)
    const dropped = passes(walk, ns, "output", packet, undefined, lo)
    if (dropped) return dropped
    if (packet.dst !== dst) return routeOut(walk, ns, packet, true)
  }
  const dropped =
    passes(walk, ns, "postrouting", packet, undefined, lo) ??
    passes(walk, ns, "prerouting", packet, lo, undefined, false) ??
    passes(walk, ns, "input", packet, lo, undefined, false)
  if (dropped) return dropped
  confirm(packet)
  if (walk.trace !== undefined) walk.hop(ns, lo, `deliver ${formatIpv4(packet.dst)}`)
  return ns
}

/** the packet leaves on `dev` towards `nextHop`: ARP (or a permanent neighbour), then a frame */
const transmit = (walk: Walk, ns: SimNamespace, dev: SimLink, nextHop: number, packet: Packet): Reached => {
  if (!hasCarrier(dev)) {
    walk.hop(ns, dev, "no carrier")
    return linkDown(dev, dev.up ? "no carrier" : "is down")
  }
  if (dev.kind === "ipvlan" && dev.ipvlanMode !== "l2") return transmitIpvlanL3(walk, dev, packet)
  const mac = resolve(walk, ns, dev, nextHop, arpSender(ns, dev, nextHop, packet.src))
  if (mac instanceof Failure) return mac
  let receiver: SimLink | undefined
  let blockedOnTheWay: Failure | undefined
  sendFrame(walk, dev, { srcMac: dev.mac, dstMac: mac, packet, arpTarget: INVALID }, (endpoint, blocked) => {
    if (blocked !== undefined) {
      blockedOnTheWay ??= blocked
      return false
    }
    receiver = endpoint
    return true
  })
  if (receiver === undefined) {
    return blockedOnTheWay ?? walk.hidden ?? new Failure("no-answer", `${ns.name}/${dev.name}: nobody took the frame for ${mac}`)
  }
  return receive(walk, receiver, packet)
}

/** ipvlan l3: no ARP; a sibling owning the address takes it, anything else is routed by the parent's namespace */
const transmitIpvlanL3 = (walk: Walk, dev: SimLink, packet: Packet): Reached => {
  const parent = dev.lower
  if (parent === undefined) return linkDown(dev, "has no parent")
  for (const sibling of parent.uppers ?? []) {
    if (sibling.kind === "ipvlan" && sibling.addresses.some((a) => a.address === packet.dst)) {
      if (sibling === dev || dev.ipvlanFlag !== "bridge") break
      if (!sibling.up) return linkDown(sibling, "is down")
      return receive(walk, sibling, packet)
    }
  }
  const route = lookupRoute(parent.ns, packet.dst)
  if (route === undefined) return new Failure("no-route", `${parent.ns.name}: no route to ${formatIpv4(packet.dst)} (ipvlan l3 egress)`)
  return transmit(walk, parent.ns, route.dev, route.via === INVALID ? packet.dst : route.via, packet)
}

/**
 * arp_solicit's sender address: the packet's source when it is an address of this namespace,
 * else (a forwarded packet, or one an ipvlan l3 child sent through its parent's namespace) one
 * of the device's own, preferably in the next hop's subnet
 */
const arpSender = (ns: SimNamespace, dev: SimLink, nextHop: number, source: number): number => {
  if (isLocalAddress(ns, source)) return source
  for (const address of dev.addresses) {
    if (!address.secondary && inPrefix(nextHop, networkOf(address.address, address.length), address.length)) return address.address
  }
  return dev.addresses[0]?.address ?? source
}

/** Linux answers ARP for any of its addresses on any interface (arp_ignore=0), never for 127/8 */
const answersArpFor = (endpoint: SimLink, address: number): boolean => {
  if (isLoopbackAddress(address)) return false
  const ns = endpoint.ns
  if (arpIgnoreLevel(ns, endpoint) >= 1) return endpoint.addresses.some((a) => a.address === address)
  return isLocalAddress(ns, address)
}

/**
 * The MAC of the next hop: a permanent neighbour, else ARP (a broadcast that the owner answers
 * and whose answer must make it back). Answers are cached on the link while the machine does not
 * change, which is what the kernel's neighbour cache does too; without it every probe would flood
 * every port of a big bridge.
 */
const resolve = (walk: Walk, ns: SimNamespace, dev: SimLink, nextHop: number, sender: number): string | Failure => {
  for (const neighbour of ns.neighbours ?? []) {
    if (neighbour.dev === dev && neighbour.ip === nextHop) return neighbour.mac
  }
  if (dev.arpCacheGeneration === walk.generation) {
    const cached = dev.arpCache?.get(nextHop)
    if (cached !== undefined) {
      if (walk.trace !== undefined) walk.hop(ns, dev, `arp ${formatIpv4(nextHop)} is-at ${cached} (cached)`)
      return cached
    }
  } else {
    dev.arpCache?.clear()
    dev.arpCacheGeneration = walk.generation
  }
  let answer: string | undefined
  let blockedOnTheWay: Failure | undefined
  // the reply (from `mac`) made it back to the asker
  const reachedAsker = (mac: string, send: (reply: Frame, sink: Sink) => void): boolean => {
    let backHome = false
    send({ srcMac: mac, dstMac: dev.mac, packet: undefined, arpTarget: sender }, (asker, blockedBack) => {
      if (asker !== dev) return false
      if (blockedBack !== undefined) {
        blockedOnTheWay ??= blockedBack
        return false
      }
      backHome = true
      return true
    })
    if (backHome) answer = mac
    return backHome
  }
  const request = { srcMac: dev.mac, dstMac: BROADCAST_MAC, packet: undefined, arpTarget: nextHop }
  sendFrame(
    walk,
    dev,
    request,
    (endpoint, blocked) => {
      if (endpoint === dev || !answersArpFor(endpoint, nextHop)) return false
      if (blocked !== undefined) {
        blockedOnTheWay ??= blocked
        return false
      }
      return reachedAsker(endpoint.mac, (reply, sink) => sendFrame(walk, endpoint, reply, sink))
    },
    // a vxlan with proxy ARP answers for a remote endpoint: the reply comes out of the vxlan
    (vxlan, mac) => reachedAsker(mac, (reply, sink) => receiveFrame(walk, vxlan, reply, sink)),
  )
  if (answer !== undefined) {
    if (walk.trace !== undefined) walk.hop(ns, dev, `arp ${formatIpv4(nextHop)} is-at ${answer}`)
    if (dev.arpCache === undefined) dev.arpCache = new Map()
    dev.arpCache.set(nextHop, answer)
    return answer
  }
  if (walk.trace !== undefined) walk.hop(ns, dev, `arp ${formatIpv4(nextHop)} unanswered`)
  return blockedOnTheWay ?? walk.hidden ?? new Failure("unresolved", `${ns.name}/${dev.name}: nobody answers ARP for ${formatIpv4(nextHop)}`, ns)
}

/** the packet arrived on `link`: prerouting, then input (local) or forward (ip_forward) */
const receive = (walk: Walk, link: SimLink, packet: Packet): Reached => {
  if (!walk.enter()) return new Failure("no-answer", `${link.ns.name}: the walk nests too deep (a loop)`)
  const reached = takeIn(walk, link, packet)
  walk.leave()
  return reached
}

const takeIn = (walk: Walk, link: SimLink, packet: Packet): Reached => {
  const ns = link.ns
  if (walk.trace !== undefined) walk.hop(ns, link, `receive ${formatIpv4(packet.src)} -> ${formatIpv4(packet.dst)}`)
  // ip_route_input_slow: 127/8 on the wire is a martian unless route_localnet lets the device
  // route it; the check follows prerouting, whose NAT may have made the address (a reply to a
  // loopback connection the output hook DNATed and masqueraded)
  const localnet = routesLocalnet(ns, link)
  if (!localnet && (isLoopbackAddress(packet.dst) || isLoopbackAddress(packet.src))) {
    return new Failure("no-route", `${ns.name}/${link.name}: martian packet (127/8 on the wire)`)
  }
  track(walk, ns, packet)
  const dropped = passes(walk, ns, "prerouting", packet, link, undefined)
  if (dropped) return dropped
  if (!localnet && isLoopbackAddress(packet.dst)) {
    return new Failure("no-route", `${ns.name}/${link.name}: martian destination ${formatIpv4(packet.dst)} after prerouting (route_localnet=0)`)
  }
  if (isLocalAddress(ns, packet.dst)) {
    const unopened = openIncoming(walk, ns, link, packet)
    if (unopened) return unopened
    const refused = passes(walk, ns, "input", packet, link, undefined)
    if (refused) return refused
    const balanced = ipvsSchedule(ns, packet)
    if (balanced !== undefined) return sendOnByIpvs(walk, ns, link, packet, balanced.address, balanced.port)
    confirm(packet)
    if (walk.trace !== undefined) walk.hop(ns, link, `deliver ${formatIpv4(packet.dst)}`)
    return ns
  }
  if (!forwardsFrom(ns, link)) {
    walk.hop(ns, link, "not forwarded (ip_forward=0)")
    return new Failure("not-forwarded", `${ns.name}: ${formatIpv4(packet.dst)} is not local and forwarding is off`)
  }
  const route = lookupRoute(ns, packet.dst)
  if (route === undefined) {
    if (walk.trace !== undefined) walk.hop(ns, link, `no route to ${formatIpv4(packet.dst)}`)
    return new Failure("no-route", `${ns.name}: no route to ${formatIpv4(packet.dst)}`, ns)
  }
  if (--packet.ttl <= 0) return new Failure("no-answer", `${ns.name}: TTL exceeded`)
  if (walk.trace !== undefined) walk.hop(ns, route.dev, `forward ${link.name} -> ${route.dev.name}`)
  const refused =
    passes(walk, ns, "forward", packet, link, route.dev) ?? passes(walk, ns, "postrouting", packet, link, route.dev)
  if (refused) return refused
  confirm(packet)
  return transmit(walk, ns, route.dev, route.via === INVALID ? packet.dst : route.via, packet)
}

/**
 * IPVS gave the connection to address:port (sim/ipvs.ts): NAT forwarding rewrites the destination
 * and, with conntrack, the reply the flow expects; a local destination is delivered here
 * (ip_vs_nat_send_or_cont with `local`), any other leaves through LOCAL_OUT and POSTROUTING
 * (their nat chains only where the connection has not been NATed that way: postrouting's SNAT).
 * A destination with no route is dropped, as IPVS drops what it cannot send.
 */
const sendOnByIpvs = (walk: Walk, ns: SimNamespace, link: SimLink, packet: Packet, address: number, port: number): Reached => {
  if (walk.trace !== undefined) walk.hop(ns, link, `ipvs fwmark 0x${packet.mark.toString(16)} rr to ${formatIpv4(address)}:${port}`)
  destinationNat(packet, address, port)
  if (isLocalAddress(ns, address)) {
    confirm(packet)
    if (walk.trace !== undefined) walk.hop(ns, link, `deliver ${formatIpv4(packet.dst)}`)
    return ns
  }
  const route = lookupRoute(ns, address)
  if (route === undefined) {
    if (walk.trace !== undefined) walk.hop(ns, link, `ipvs: no route to ${formatIpv4(address)}`)
    return new Failure("no-route", `${ns.name}: IPVS has no route to ${formatIpv4(address)}`)
  }
  const refused =
    passes(walk, ns, "output", packet, undefined, route.dev, false) ??
    sealOutgoing(walk, ns, packet) ??
    passes(walk, ns, "postrouting", packet, undefined, route.dev)
  if (refused) return refused
  confirm(packet)
  return transmit(walk, ns, route.dev, route.via === INVALID ? address : route.via, packet)
}

// -- IPsec (xfrm) ------------------------------------------------------------------------------

const selectorText = (packet: Packet): string =>
  `${formatIpv4(packet.src)} -> ${formatIpv4(packet.dst)} ${packet.proto}${packet.proto === "udp" ? ` dport ${packet.dport}` : ""}`

/** an out policy that selects the packet seals it with its template's state; without one the kernel drops it */
const sealOutgoing = (walk: Walk, ns: SimNamespace, packet: Packet): Failure | undefined => {
  if (ns.xfrm === undefined || packet.esp !== undefined) return undefined
  const policy = policyFor(ns, "out", packet)
  if (policy === undefined) return undefined
  const state = stateFor(ns, policy, packet.mark)
  const template = policy.spec.template
  if (state === undefined) {
    const why = `xfrm policy out ${policy.spec.selector.src} -> ${policy.spec.selector.dst} selects ${selectorText(packet)}, but no ESP state ${template.src} -> ${template.dst}${template.spi ? ` SPI ${hexSpi(template.spi)}` : ""} carries it`
    if (walk.trace !== undefined) walk.hop(ns, undefined, why)
    return new Failure("ipsec", `${ns.name}: ${why}`)
  }
  packet.esp = { spi: state.spec.spi >>> 0, key: state.spec.aead.key, src: packet.src, dst: packet.dst }
  if (walk.trace !== undefined) walk.hop(ns, undefined, `esp seal SPI ${hexSpi(state.spec.spi)} ${formatIpv4(state.src)} -> ${formatIpv4(state.dst)}`)
  return undefined
}

/** ESP for a local address is opened by the inbound state of its SPI; an in policy refuses what came in clear */
const openIncoming = (walk: Walk, ns: SimNamespace, link: SimLink, packet: Packet): Failure | undefined => {
  const seal = packet.esp
  if (seal !== undefined) {
    const state = inboundState(ns, packet.dst, seal.spi)
    if (state === undefined) {
      const why = `no xfrm state for SPI ${hexSpi(seal.spi)} (ESP ${formatIpv4(seal.src)} -> ${formatIpv4(seal.dst)})`
      if (walk.trace !== undefined) walk.hop(ns, link, `esp drop: ${why}`)
      return new Failure("ipsec", `${ns.name}: ${why}`)
    }
    if (state.spec.aead.key !== seal.key) {
      const why = `ESP integrity check failed for SPI ${hexSpi(seal.spi)}: key mismatch (the sender sealed it with another key)`
      if (walk.trace !== undefined) walk.hop(ns, link, `esp drop: ${why}`)
      return new Failure("ipsec", `${ns.name}: ${why}`)
    }
    packet.esp = undefined
    packet.ipsec = true
    if (walk.trace !== undefined) walk.hop(ns, link, `esp open SPI ${hexSpi(seal.spi)}`)
    return undefined
  }
  if (ns.xfrm === undefined || packet.ipsec) return undefined
  const policy = policyFor(ns, "in", packet)
  if (policy === undefined) return undefined
  const why = `xfrm policy in ${policy.spec.selector.src} -> ${policy.spec.selector.dst} wants ESP, ${selectorText(packet)} came in clear`
  if (walk.trace !== undefined) walk.hop(ns, link, why)
  return new Failure("ipsec", `${ns.name}: ${why}`)
}
