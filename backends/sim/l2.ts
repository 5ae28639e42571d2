import { hasCarrier } from "./carrier.ts"
import { type FwPacket, hasHook, passesHook } from "./firewall.ts"
// a cycle on purpose: a vxlan hands its frames to the IP walk, which hands frames back to layer 2
import { sendFromNamespace } from "./forwarding.ts"
import { formatIpv4, INVALID } from "./ipv4.ts"
import { BROADCAST_MAC, ZERO_MAC } from "./random.ts"
import type { SimLink } from "./state.ts"
import { Failure, linkDown, newPacket, type Packet, type Walk } from "./walk.ts"

/**
 * Layer 2: where a frame put on a device ends up. veth pairs, bridges (learning, flooding,
 * static FDB entries, the bridge-family forward hook), macvlan/ipvlan children of one parent,
 * 802.1Q sub-interfaces (a tagged frame passes bridges and veths as it is and reaches only the
 * sub-interface of its tag), and vxlan (FDB towards remote VTEPs, carried as UDP over the
 * underlay by the IP walk; with proxy on, ARP requests are answered from its neighbours).
 *
 * A frame that meets a failure (a down link, a drop rule) keeps going "in the shadow": it delivers
 * nothing, but when it reaches a device that would have taken it, the sink learns why it did not
 * arrive, so a probe reports "filtered by table/chain/rule" instead of a bare "unresolved".
 */

export interface Frame {
  readonly srcMac: string
  readonly dstMac: string
  /** IPv4 packet carried; undefined for ARP */
  readonly packet: Packet | undefined
  /** ARP: the address asked for (request) or the asker's address (reply); INVALID for IP */
  readonly arpTarget: number
  /** the 802.1Q tag it carries on the wire; absent: untagged */
  readonly vlan?: number
}

/** an L3 device the frame reached; `blocked` says why it cannot really be there */
export type Sink = (endpoint: SimLink, blocked: Failure | undefined) => boolean

/**
 * a vxlan with proxy on answers an ARP request itself: `mac` is its neighbour entry's answer, and
 * the reply comes back out of `device`; true when it reached the asker
 */
export type ProxyAnswer = (device: SimLink, mac: string) => boolean

class Flight {
  /** loop guard: links reached cleanly, and links reached only past a failure */
  private readonly reached = new Set<SimLink>()
  private shadowReached: Set<SimLink> | undefined = undefined
  private scratch: FwPacket | undefined = undefined

  constructor(
    private readonly walk: Walk,
    private readonly frame: Frame,
    private readonly sink: Sink,
    private readonly proxy: ProxyAnswer | undefined,
  ) {}

  /** the same frame with another tag (or none), going on from here */
  private retagged(vlan: number | undefined): Flight {
    const { vlan: _old, ...untagged } = this.frame
    return new Flight(this.walk, vlan === undefined ? untagged : { ...untagged, vlan }, this.sink, this.proxy)
  }

  private firstVisit(link: SimLink, blocked: Failure | undefined): boolean {
    if (this.reached.has(link)) return false
    if (blocked === undefined) {
      this.reached.add(link)
      return true
    }
    const shadow = this.shadowReached ?? (this.shadowReached = new Set())
    if (shadow.has(link)) return false
    shadow.add(link)
    return true
  }

  /** `link` puts the frame on its wire */
  transmit(link: SimLink, blocked: Failure | undefined): boolean {
    if (!link.up) blocked ??= linkDown(link, "is down")
    switch (link.kind) {
      case "veth": {
        const peer = link.peer
        if (peer === undefined) return false
        if (!peer.up) blocked ??= linkDown(link, `no carrier (peer ${peer.ns.name}/${peer.name} is down)`)
        return this.arrive(peer, blocked)
      }
      case "bridge":
        return this.bridgeSend(link, blocked)
      case "vxlan":
        return this.vxlanSend(link, blocked)
      case "macvlan":
        return this.macvlanSend(link, blocked)
      case "ipvlan":
        return this.ipvlanSend(link, blocked)
      case "vlan": {
        const lower = link.lower
        if (lower === undefined || link.vlanId === undefined) return false
        if (!hasCarrier(lower)) blocked ??= linkDown(link, `parent ${lower.name} has no carrier`)
        return this.retagged(link.vlanId).transmit(lower, blocked)
      }
      default:
        return false
    }
  }

  /** the frame comes in on `link` from its wire */
  arrive(link: SimLink, blocked: Failure | undefined): boolean {
    if (!this.firstVisit(link, blocked)) return false
    if (!link.up) blocked ??= linkDown(link, "is down")
    const tag = this.frame.vlan
    if (tag !== undefined) {
      // vlan_do_receive comes before any rx handler: the sub-interface of the tag takes it untagged;
      // a bridge without one passes it on as it is (VLAN-unaware); anything else drops it
      const sub = link.uppers?.find((upper) => upper.kind === "vlan" && upper.vlanId === tag)
      if (sub !== undefined) return this.retagged(undefined).arrive(sub, blocked)
      if (link.master !== undefined) return this.bridgeReceive(link.master, link, blocked)
      return false
    }
    if (link.master !== undefined) return this.bridgeReceive(link.master, link, blocked)
    if (hasChildren(link)) return this.parentReceive(link, blocked)
    return this.offer(link, blocked)
  }

  /** an L3 device takes frames for its MAC and broadcasts */
  private offer(link: SimLink, blocked: Failure | undefined): boolean {
    const dst = this.frame.dstMac
    if (dst !== link.mac && dst !== BROADCAST_MAC) return false
    return this.sink(link, blocked)
  }

  private deliverTo(link: SimLink, blocked: Failure | undefined): boolean {
    if (!this.firstVisit(link, blocked)) return false
    if (!link.up) blocked ??= linkDown(link, "is down")
    return this.sink(link, blocked)
  }

  // -- bridges --------------------------------------------------------------------------------

  private portFor(bridgeLink: SimLink, mac: string): SimLink | undefined {
    const bridge = bridgeLink.bridge
    if (bridge === undefined) return undefined
    const port = bridge.staticMacs.get(mac) ?? bridge.learned.get(mac)
    return port !== undefined && port.master === bridgeLink && !port.deleted ? port : undefined
  }

  private bridgeReceive(bridgeLink: SimLink, inPort: SimLink, blocked: Failure | undefined): boolean {
    const bridge = bridgeLink.bridge
    if (bridge === undefined) return false
    if (!bridgeLink.up) blocked ??= linkDown(bridgeLink, "bridge is down")
    if (blocked === undefined) bridge.learned.set(this.frame.srcMac, inPort)
    const dst = this.frame.dstMac
    // frames for the bridge itself (and for macvlan/ipvlan children stacked on it) go up, broadcasts
    // too; a tagged frame is only switched
    if (this.frame.vlan !== undefined) {
      // flooded or forwarded below
    } else if (hasChildren(bridgeLink)) {
      if (this.parentReceive(bridgeLink, blocked)) return true
      if (dst !== BROADCAST_MAC && ownedByParentOrChild(bridgeLink, dst)) return false
    } else if (dst === BROADCAST_MAC || dst === bridgeLink.mac) {
      if (this.deliverTo(bridgeLink, blocked)) return true
      if (dst === bridgeLink.mac) return false
    }
    if (dst === BROADCAST_MAC) {
      for (const port of bridge.ports) {
        if (port !== inPort && this.forward(bridgeLink, inPort, port, blocked)) return true
      }
      return false
    }
    const known = this.portFor(bridgeLink, dst)
    if (known === inPort) return false
    if (known !== undefined) return this.forward(bridgeLink, inPort, known, blocked)
    for (const port of bridge.ports) {
      if (port !== inPort && this.forward(bridgeLink, inPort, port, blocked)) return true
    }
    return false
  }

  /** a frame switched from one port to another: the bridge-family forward hook sees it */
  private forward(bridgeLink: SimLink, inPort: SimLink, outPort: SimLink, blocked: Failure | undefined): boolean {
    if (blocked === undefined && !hasCarrier(outPort)) blocked = linkDown(outPort, "bridge port has no carrier")
    const ns = bridgeLink.ns
    // every bridge-family rule is for IPv4 frames only (the linux backend's `meta protocol ip`):
    // ARP crosses an icc=false bridge, as it does with Docker's iptables rules
    const packet = this.frame.packet
    if (blocked === undefined && packet !== undefined && hasHook(ns, "bridge-forward")) {
      const seen = this.scratch ?? (this.scratch = emptyFwPacket())
      seen.ns = ns
      seen.iif = inPort.name
      seen.oif = outPort.name
      seen.bridge = bridgeLink.name
      const sealed = packet?.esp !== undefined
      seen.proto = sealed ? "esp" : packet.error ? "icmp" : packet.proto
      seen.src = packet.src
      seen.dst = packet.dst
      seen.dport = sealed ? 0 : packet.dport
      seen.sport = sealed ? 0 : packet.sport
      seen.vni = packet.vni ?? INVALID
      seen.ipsec = packet.ipsec ?? false
      // bridged flows: the question is new, its answer established (the answer crossed the same bridge)
      seen.ct = packet.reply ? (packet.error ? "related" : "established") : "new"
      if (!passesHook(ns, "bridge-forward", seen, this.walk.fw)) {
        const where = `${ns.name}: bridge ${bridgeLink.name} ${inPort.name} -> ${outPort.name}`
        blocked = new Failure("filtered", `${where} dropped by ${this.walk.fw.detail}`)
      }
    }
    if (this.walk.trace !== undefined && blocked === undefined) {
      this.walk.hop(ns, bridgeLink, `bridge ${inPort.name} -> ${outPort.name}`)
    }
    return this.transmit(outPort, blocked)
  }

  /** the bridge device itself sends (its own IP stack): out of the port the MAC is behind, or all */
  private bridgeSend(bridgeLink: SimLink, blocked: Failure | undefined): boolean {
    const bridge = bridgeLink.bridge
    if (bridge === undefined) return false
    const dst = this.frame.dstMac
    const known = dst === BROADCAST_MAC ? undefined : this.portFor(bridgeLink, dst)
    if (known !== undefined) return this.transmit(known, blocked)
    for (const port of bridge.ports) if (this.transmit(port, blocked)) return true
    return false
  }

  // -- macvlan / ipvlan -----------------------------------------------------------------------

  /** a frame from the wire reaches a parent: its children take what is theirs */
  private parentReceive(parent: SimLink, blocked: Failure | undefined): boolean {
    const dst = this.frame.dstMac
    const children = parent.uppers ?? []
    // passthru: the parent is promiscuous and hands everything to its one child, keeping nothing
    for (const child of children) {
      if (child.kind === "macvlan" && child.macvlanMode === "passthru") {
        return this.firstVisit(child, blocked) && this.offer(child, child.up ? blocked : (blocked ?? linkDown(child, "is down")))
      }
    }
    if (dst === BROADCAST_MAC) {
      // Linux's macvlan_handle_frame looks the frame's source MAC up among the parent's children: a
      // broadcast that left one of them (a VEPA switch sends it back, or another host's child
      // shares its MAC) goes back to a private child alone; from a vepa child it floods the vepa and
      // bridge children but that one; from a bridge child only the vepa ones (the bridge ones saw it
      // on the way out). Docker derives a child's MAC from its address, so one address handed out
      // on two hosts gives two children one MAC.
      const source = children.find((child) => child.kind === "macvlan" && child.mac === this.frame.srcMac)
      if (source !== undefined && source.macvlanMode !== "vepa" && source.macvlanMode !== "bridge") return this.deliverTo(source, blocked)
      if (this.offer(parent, blocked)) return true
      for (const child of children) {
        if (child === source) continue
        if (child.kind === "macvlan") {
          const floods =
            source === undefined ||
            child.macvlanMode === "vepa" ||
            (source.macvlanMode === "vepa" && child.macvlanMode === "bridge")
          if (floods && this.deliverTo(child, blocked)) return true
        } else if (child.kind === "ipvlan" && child.ipvlanMode === "l2") {
          if (this.deliverTo(child, blocked)) return true
        }
      }
      return false
    }
    for (const child of children) {
      if (child.kind === "macvlan" && child.mac === dst) return this.deliverTo(child, blocked)
    }
    if (dst === parent.mac) {
      const owner = ipvlanOwner(parent, this.addressedTo())
      if (owner !== undefined) return this.deliverTo(owner, blocked)
    }
    return this.offer(parent, blocked)
  }

  private addressedTo(): number {
    return this.frame.packet?.dst ?? this.frame.arpTarget
  }

  private macvlanSend(child: SimLink, blocked: Failure | undefined): boolean {
    const parent = child.lower
    if (parent === undefined) return false
    if (!hasCarrier(parent)) blocked ??= linkDown(child, `parent ${parent.name} has no carrier`)
    const dst = this.frame.dstMac
    const bridged = child.macvlanMode === "bridge"
    if (bridged) {
      for (const sibling of parent.uppers ?? []) {
        if (sibling === child || sibling.kind !== "macvlan" || sibling.macvlanMode !== "bridge") continue
        if (dst === BROADCAST_MAC || sibling.mac === dst) {
          if (this.deliverTo(sibling, blocked)) return true
          if (dst !== BROADCAST_MAC) return false
        }
      }
    }
    // everything else leaves through the parent's wire (never to the parent itself)
    return this.transmit(parent, blocked)
  }

  private ipvlanSend(child: SimLink, blocked: Failure | undefined): boolean {
    const parent = child.lower
    if (parent === undefined) return false
    if (!hasCarrier(parent)) blocked ??= linkDown(child, `parent ${parent.name} has no carrier`)
    const dst = this.frame.dstMac
    const sharesSiblings = child.ipvlanFlag === "bridge"
    if (dst === BROADCAST_MAC) {
      if (sharesSiblings) {
        for (const sibling of parent.uppers ?? []) {
          if (sibling !== child && sibling.kind === "ipvlan" && sibling.ipvlanMode === "l2" && this.deliverTo(sibling, blocked)) return true
        }
      }
      return this.transmit(parent, blocked)
    }
    if (dst === parent.mac) {
      // children share the parent's MAC: ipvlan switches on the IP address
      const owner = ipvlanOwner(parent, this.addressedTo())
      if (owner !== undefined && owner !== child && sharesSiblings) return this.deliverTo(owner, blocked)
      return false
    }
    return this.transmit(parent, blocked)
  }

  // -- vxlan ----------------------------------------------------------------------------------

  private vxlanSend(vxlan: SimLink, blocked: Failure | undefined): boolean {
    const config = vxlan.vxlan
    // a frame that has already failed is not worth a tunnel
    if (config === undefined || blocked !== undefined || !vxlan.up) return false
    if (config.proxy && this.frame.packet === undefined) return this.proxyArp(vxlan)
    for (const remote of remoteVteps(vxlan, this.frame.dstMac)) {
      const outer = newPacket(config.local === INVALID ? 0 : config.local, remote, "udp", 0, config.port, false, true, undefined)
      outer.vni = config.vni
      if (this.walk.trace !== undefined) this.walk.hop(vxlan.ns, vxlan, `vxlan ${config.vni} encapsulate to ${formatIpv4(remote)}:${config.port}`)
      // the datagram leaves from the namespace of the vxlan's socket, which may not be the device's
      const reached = sendFromNamespace(this.walk, config.net, outer)
      if (reached instanceof Failure) {
        this.walk.hidden ??= new Failure(reached.reason, `vxlan ${config.vni} underlay: ${reached.detail}`)
        continue
      }
      const receiver = vxlanFor(reached.vxlanSockets ?? [], config.vni, config.port)
      if (receiver === undefined) {
        this.walk.hidden ??= new Failure("no-answer", `${reached.name}: no vxlan ${config.vni} on port ${config.port}`)
        continue
      }
      if (receiver.vxlan?.learning === true) {
        if (receiver.learnedVteps === undefined) receiver.learnedVteps = new Map()
        receiver.learnedVteps.set(this.frame.srcMac, outer.src)
      }
      if (this.walk.trace !== undefined) this.walk.hop(reached, receiver, `vxlan ${config.vni} decapsulate`)
      if (this.arrive(receiver, undefined)) return true
    }
    return false
  }

  /**
   * arp_reduce: no ARP crosses the tunnel. A request for an address the device has a neighbour
   * entry for is answered on the spot; any other request, and every reply, ends here.
   */
  private proxyArp(vxlan: SimLink): boolean {
    if (this.frame.dstMac !== BROADCAST_MAC || this.proxy === undefined) return false
    const target = this.frame.arpTarget
    const neighbour = vxlan.ns.neighbours?.find((entry) => entry.dev === vxlan && entry.ip === target)
    if (neighbour === undefined) {
      if (this.walk.trace !== undefined) this.walk.hop(vxlan.ns, vxlan, `proxy arp: no neighbour ${formatIpv4(target)}`)
      return false
    }
    if (this.walk.trace !== undefined) this.walk.hop(vxlan.ns, vxlan, `proxy arp ${formatIpv4(target)} is-at ${neighbour.mac}`)
    return this.proxy(vxlan, neighbour.mac)
  }
}

const hasChildren = (link: SimLink): boolean => {
  const uppers = link.uppers
  if (uppers === undefined) return false
  for (const upper of uppers) if (upper.kind === "macvlan" || upper.kind === "ipvlan") return true
  return false
}

const ownedByParentOrChild = (parent: SimLink, mac: string): boolean =>
  mac === parent.mac || (parent.uppers ?? []).some((child) => child.kind === "macvlan" && child.mac === mac)

const ipvlanOwner = (parent: SimLink, address: number): SimLink | undefined => {
  if (address === INVALID) return undefined
  for (const child of parent.uppers ?? []) {
    if (child.kind === "ipvlan" && child.addresses.some((a) => a.address === address)) return child
  }
  return undefined
}

const vxlanFor = (links: ReadonlyArray<SimLink>, vni: number, port: number): SimLink | undefined => {
  for (const link of links) {
    if (link.vxlan !== undefined && link.vxlan.vni === vni && link.vxlan.port === port && link.up) return link
  }
  return undefined
}

/** FDB lookup on a vxlan: the MAC's own entries, else what was learned, else the all-zero (BUM) entries */
const remoteVteps = (vxlan: SimLink, mac: string): Array<number> => {
  const entries = vxlan.fdb ?? []
  const remotes: Array<number> = []
  if (mac !== BROADCAST_MAC) {
    for (const entry of entries) if (entry.mac === mac) remotes.push(entry.dst)
    if (remotes.length > 0) return remotes
    const learned = vxlan.learnedVteps?.get(mac)
    if (learned !== undefined) return [learned]
  }
  for (const entry of entries) if (entry.mac === ZERO_MAC) remotes.push(entry.dst)
  return remotes
}

const emptyFwPacket = (): FwPacket => ({
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
})

/**
 * puts `frame` on `from`'s wire; the sink sees every L3 device that takes it, until it says stop.
 * `proxy` takes the answers of vxlans that answer ARP themselves.
 */
export const sendFrame = (walk: Walk, from: SimLink, frame: Frame, sink: Sink, proxy?: ProxyAnswer): boolean =>
  new Flight(walk, frame, sink, proxy).transmit(from, undefined)

/** `frame` comes in on `on` as if from its wire (a reply a device made up itself) */
export const receiveFrame = (walk: Walk, on: SimLink, frame: Frame, sink: Sink): boolean =>
  new Flight(walk, frame, sink, undefined).arrive(on, undefined)
