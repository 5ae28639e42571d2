/**
 * Which addresses answer a ping from a container in a lab, as Docker 20.10 on Linux would show:
 * the model's prediction that both kernels are checked against, across hosts.
 *
 * A ping goes where the container's routes send it: out of the endpoint whose subnet holds the
 * address (the longest prefix), else by its default route, through the gateway endpoint libnetwork
 * chose (non-internal before internal, then by network name, the docker_gwbridge leg last). Then:
 *
 * - overlay: every endpoint of the network answers, on any host (VXLAN between the hosts'
 *   underlay addresses); the overlay gives no default route;
 * - bridge: members answer unless ICC is off; the host answers for every address it owns, even
 *   from an internal network; beyond that the host forwards only from non-internal bridges, not
 *   into another bridge (isolation), but out of eth0, masqueraded: so a bridge container (or an
 *   overlay container through its gateway leg) reaches other hosts and the macvlan children on
 *   them;
 * - macvlan and ipvlan l2: whoever answers ARP on the child's segment (the underlay, one of its
 *   VLANs, or a dummy of its own), never the child's own host; siblings on one parent only in
 *   macvlan bridge mode and ipvlan l2 (private and vepa keep them apart); the default route leads
 *   to whoever holds the gateway address, and only that host's own addresses answer beyond it;
 * - ipvlan l3: only the siblings on its parent (the outside gets no route back, Docker
 *   distributes none);
 * - `host`: the host itself: its bridges' members, and the underlay on-link;
 * - `none`: nothing.
 *
 * Where the answer depends on a race, the prediction is `undefined`: an address (and with it a
 * macvlan MAC) held twice on one segment, as two hosts without disjoint ip-ranges hand out.
 */
import { cidrContains, parseIPv4, stripPrefix } from "./cidr.ts"
import type { LabState } from "./lab-types.ts"
import { hostState } from "./lab-store.ts"
import { masqueradeEnabled } from "./options.ts"
import { isGatewayLeg } from "./lab-sandboxes.ts"
import { labEndpoints } from "./lab-queries.ts"
import {
  type NetworkView,
  type Station,
  type Topology,
  type VlanView,
  buildTopology,
  iccOf,
  onHostLink,
  underlaySegment,
} from "./lab-topology.ts"
import { type ContainerRecord, type NetworkRecord, containerRecord, networkRecord } from "./representation.ts"
import * as IntTrie from "./int-trie.ts"
import * as StringMap from "./string-map.ts"
import type { Endpoint, Network } from "./types.ts"

/** true: answered; false: not; undefined: it depends on which of two holders of an address wins a race */
export type Reach = boolean | undefined

/** the one outcome of several that must agree, else undefined */
const agreed = (outcomes: ReadonlyArray<Reach>): Reach =>
  outcomes.every((outcome) => outcome === outcomes[0]) ? outcomes[0] : undefined

/** the container as a source of pings: its host, and every endpoint with an address (its gateway leg too) */
interface Source {
  readonly host: number
  readonly name: string
  readonly record: ContainerRecord
}

interface Route {
  readonly endpoint: Endpoint
  readonly network: Network
  readonly address: number
}

const networkOf = (topology: Topology, host: number, name: string): Network =>
  (networkRecord(hostState(topology.lab, host), name) as NetworkRecord).network

const routesOf = (topology: Topology, source: Source): Array<Route> =>
  source.record.endpoints.flatMap((endpoint) =>
    endpoint.address === undefined
      ? []
      : [{ endpoint, network: networkOf(topology, source.host, endpoint.network), address: parseIPv4(stripPrefix(endpoint.address)) as number }],
  )

const bridgeView = (topology: Topology, host: number, name: string): NetworkView | undefined => topology.bridges[host]?.get(name)
const vlanView = (topology: Topology, host: number, name: string): VlanView | undefined => topology.vlans[host]?.get(name)

const isL3 = (view: VlanView): boolean => view.driver === "ipvlan" && view.info.mode === "l3"

/** the station is the source itself (its own address on the segment) */
const isSource = (station: Station, host: number, sandbox: string | undefined): boolean =>
  station.host === host && station.child?.sandbox === sandbox

/** can `station` answer an ARP request that a child of `from` (on `from.host`) sends? */
const hearsChild = (from: VlanView, station: Station): boolean => {
  if (station.host !== from.host) return station.child === undefined || !isL3(station.child.view)
  // a macvlan or ipvlan child never reaches its own host; siblings on one parent per mode
  if (station.child === undefined) return false
  const mode = from.info.mode
  return mode === "bridge" || mode === "l2" || mode === "l3"
}

/** can `station` answer an ARP request that `listener` sends (a child, or a host from its eth0)? */
const hears = (listener: Station, station: Station): boolean =>
  listener.child === undefined
    ? station.host !== listener.host && (station.child === undefined || !isL3(station.child.view))
    : hearsChild(listener.child.view, station)

/** the station's echo reply finds the way back to `address` on-link */
const repliesTo = (topology: Topology, station: Station, address: number): boolean =>
  station.child === undefined ? onHostLink(topology, station.host, address) : cidrContains(station.child.view.subnet, address)

/**
 * The outcome among the stations that hear the request: none, false; several, a race unless none
 * could answer; one, its answer, unless someone else that station hears also holds the source's
 * address (its reply may then go there). That includes a MAC twin of the source on a third host:
 * Linux would send the reply to the one MAC, which the underlay's bridge has just learned from the
 * source's own request, but the simulator's replier asks ARP for the source again (it does not
 * learn the sender of a request addressed to it, as Linux's neigh_event_ns does) and both twins
 * answer: measured with static addresses in the multi-host model-based test.
 */
const settle = (
  topology: Topology,
  segment: string,
  candidates: ReadonlyArray<Station>,
  outcome: (station: Station) => boolean,
  sourceAddress: number,
  isSelf: (station: Station) => boolean,
): Reach => {
  if (candidates.length === 0) return false
  const outcomes = candidates.map(outcome)
  if (candidates.length > 1) return outcomes.every((answer) => !answer) ? false : undefined
  const replier = candidates[0] as Station
  const shared = (topology.segments.get(segment)?.get(sourceAddress) ?? []).some((station) => !isSelf(station) && hears(replier, station))
  return outcomes[0] === true && shared ? undefined : outcomes[0]
}

const stationsFor = (topology: Topology, segment: string, address: number): ReadonlyArray<Station> =>
  topology.segments.get(segment)?.get(address) ?? []

/**
 * Another host's macvlan child holds the source's address, so it has the source's MAC (Docker
 * derives it from the address). Linux's macvlan looks a broadcast's source MAC up among the
 * parent's children (macvlan_handle_frame): on the twin's host, an ARP request that arrives with
 * that MAC goes back to the twin alone (private, passthru: the host misses it too), or floods to
 * some modes only (vepa, bridge). So whether a station on the twin's host hears the source's
 * request depends on the twin's mode and on neighbour entries cached before the twin appeared: a
 * race for the model, where the replier is there. A replier on another host hears the request as
 * before; where its reply goes is settle's concern (the twin holds the source's address).
 */
const twinBesideReplier = (topology: Topology, view: VlanView, sandbox: string, address: number, repliers: ReadonlyArray<Station>): boolean =>
  stationsFor(topology, view.segment, address).some((twin) => isMacTwin(view, sandbox, twin) && repliers.some((replier) => replier.host === twin.host))

/** another host's macvlan child holding the address of a macvlan child of `view`: the same MAC (Docker derives it from the address) */
const isMacTwin = (view: VlanView, sandbox: string, station: Station): boolean =>
  view.driver === "macvlan" &&
  station.host !== view.host &&
  station.child !== undefined &&
  station.child.view.driver === "macvlan" &&
  !isSource(station, view.host, sandbox)

/** a settled `true` becomes a race when the source has a MAC twin on a replier's host (see twinBesideReplier) */
const unlessTwin = (reach: Reach, topology: Topology, view: VlanView, sandbox: string, address: number, repliers: ReadonlyArray<Station>): Reach =>
  reach === true && twinBesideReplier(topology, view, sandbox, address, repliers) ? undefined : reach

/** a child of `view` pings `target` on its segment */
const childOnLink = (topology: Topology, view: VlanView, sandbox: string, address: number, target: number): Reach =>
  unlessTwin(childOnLinkSettled(topology, view, sandbox, address, target), topology, view, sandbox, address, stationsFor(topology, view.segment, target))

const childOnLinkSettled = (topology: Topology, view: VlanView, sandbox: string, address: number, target: number): Reach => {
  const holders = stationsFor(topology, view.segment, target).filter((station) => !isSource(station, view.host, sandbox))
  const candidates = holders.filter((station) => hearsChild(view, station))
  // a holder the source cannot hear (a private or vepa sibling) still holds the target's MAC on
  // the segment: where the underlay's bridge sends that MAC is whichever port it learned last
  if (candidates.length === 1 && holders.length > 1) return repliesTo(topology, candidates[0] as Station, address) ? undefined : false
  return settle(
    topology,
    view.segment,
    candidates,
    (station) => repliesTo(topology, station, address),
    address,
    (station) => isSource(station, view.host, sandbox),
  )
}

/** a child of `view` sends a ping for `target` to its gateway: only a host holding the gateway takes it, and answers for its own addresses */
const childViaGateway = (topology: Topology, view: VlanView, sandbox: string, address: number, target: number): Reach =>
  unlessTwin(childViaGatewaySettled(topology, view, sandbox, address, target), topology, view, sandbox, address, stationsFor(topology, view.segment, view.gateway))

const childViaGatewaySettled = (topology: Topology, view: VlanView, sandbox: string, address: number, target: number): Reach => {
  const candidates = stationsFor(topology, view.segment, view.gateway).filter(
    (station) => !isSource(station, view.host, sandbox) && hearsChild(view, station),
  )
  return settle(
    topology,
    view.segment,
    candidates,
    (station) =>
      station.child === undefined &&
      repliesTo(topology, station, address) &&
      (topology.ownAddresses[station.host] as ReadonlySet<number>).has(target),
    address,
    (station) => isSource(station, view.host, sandbox),
  )
}

/** ipvlan l3: the packet is routed by the parent's port to a sibling, or lost */
const l3Reach = (topology: Topology, view: VlanView, target: number): boolean =>
  [...(topology.vlans[view.host] as ReadonlyMap<string, VlanView>).values()].some(
    (other) => other.info.parent === view.info.parent && other.driver === "ipvlan" && other.holders.has(target),
  )

/** the host sends from its underlay address out of eth0 (its own ping, or one it masquerades) */
const hostOnUnderlay = (topology: Topology, host: number, target: number): Reach => {
  if (topology.underlayTaken[host] === true) return false
  const source = (topology.underlay[host] as { address: number }).address
  const candidates = stationsFor(topology, underlaySegment, target).filter(
    (station) => station.host !== host && (station.child === undefined || !isL3(station.child.view)),
  )
  const reach = settle(
    topology,
    underlaySegment,
    candidates,
    (station) => repliesTo(topology, station, source),
    source,
    (station) => station.host === host && station.child === undefined,
  )
  return reach === true && twinOnAsker(topology, host, target, candidates) ? undefined : reach
}

/**
 * The replier is a macvlan child with a MAC twin on the asking host (a child there holds the same
 * address): the replier's own ARP request for the host arrives there with the twin's MAC, and
 * macvlan_handle_frame hands it to the twin alone (private, passthru) or floods it to some modes
 * only, so whether the host hears it depends on the twin's mode and on what the replier had
 * cached: a race, as twinBesideReplier is for a child's own request.
 */
const twinOnAsker = (topology: Topology, host: number, target: number, repliers: ReadonlyArray<Station>): boolean =>
  repliers.some((replier) => replier.child?.view.driver === "macvlan") &&
  stationsFor(topology, underlaySegment, target).some((station) => station.host === host && station.child?.view.driver === "macvlan")

/**
 * The host's route for an address it does not own: the longest prefix among its bridges and its
 * eth0. `from`: the host's own ping (a `host` container), which enters any bridge; or one it
 * forwards from a bridge, dropped at another bridge (isolation) and sent out of eth0 with the
 * host's address only when that bridge masquerades (a reply to a container's own address finds
 * no way back).
 */
const hostRoutes = (topology: Topology, host: number, target: number, from: "host" | "masqueraded" | "forwarded"): Reach => {
  const originated = from === "host"
  let best = -1
  let outcomes: Array<Reach> = []
  const consider = (prefix: number, outcome: () => Reach) => {
    if (prefix < best) return
    if (prefix > best) outcomes = []
    best = prefix
    outcomes.push(outcome())
  }
  for (const view of (topology.bridges[host] as ReadonlyMap<string, NetworkView>).values()) {
    if (cidrContains(view.subnet, target)) consider(view.subnet.prefix, () => originated && view.holders.has(target))
  }
  if (onHostLink(topology, host, target)) {
    const prefix = (topology.underlay[host] as { onLink: { prefix: number } }).onLink.prefix
    consider(prefix, () => from !== "forwarded" && hostOnUnderlay(topology, host, target))
  }
  return outcomes.length === 0 ? false : agreed(outcomes)
}

/** a ping that reached the host through a bridge (its gateway) */
const throughBridgeHost = (topology: Topology, host: number, bridge: Network, target: number): Reach => {
  if ((topology.ownAddresses[host] as ReadonlySet<number>).has(target)) return true
  if (bridge.internal) return false
  return hostRoutes(topology, host, target, masqueradeEnabled(bridge.options) ? "masqueraded" : "forwarded")
}

/** the underlay addresses of two hosts are held twice (a child took one): VXLAN between them is a race */
const underlayShared = (topology: Topology, host: number): boolean =>
  stationsFor(topology, underlaySegment, (topology.underlay[host] as { address: number }).address).length > 1

/** VXLAN between two hosts, remembered per pair of hosts: a matrix asks it for most of its cells */
const vxlanBetween = (topology: Topology, a: number, b: number): Reach => {
  const key = a * 4096 + b
  if (topology.pairs.has(key)) return topology.pairs.get(key)
  const reach = vxlanPath(topology, a, b)
  topology.pairs.set(key, reach)
  return reach
}

/** each host reaches the other on-link, and each receives on its eth0 */
const vxlanPath = (topology: Topology, a: number, b: number): Reach => {
  const address = (host: number) => (topology.underlay[host] as { address: number }).address
  const works =
    onHostLink(topology, a, address(b)) &&
    onHostLink(topology, b, address(a)) &&
    topology.underlayTaken[a] !== true &&
    topology.underlayTaken[b] !== true
  return works && (underlayShared(topology, a) || underlayShared(topology, b)) ? undefined : works
}

const overlayOnLink = (topology: Topology, view: NetworkView, host: number, target: number): Reach => {
  if (target === view.gateway) return true
  const holder = view.holders.get(target)
  if (holder === undefined) return false
  return holder.host === host ? true : vxlanBetween(topology, host, holder.host)
}

const bridgeOnLink = (topology: Topology, view: NetworkView, host: number, target: number): Reach => {
  const holder = view.holders.get(target)
  const hostOwns = (topology.ownAddresses[host] as ReadonlySet<number>).has(target)
  if (holder !== undefined && hostOwns) return undefined
  if (hostOwns) return true
  return holder === undefined ? false : iccOf(view)
}

const viewOfRoute = (topology: Topology, source: Source, route: Route): NetworkView | undefined =>
  route.network.scope === "swarm"
    ? topology.swarm.get(route.network.name)
    : (bridgeView(topology, source.host, route.network.name) ?? vlanView(topology, source.host, route.network.name))

/** out of one endpoint whose subnet holds the target */
const onLink = (topology: Topology, source: Source, route: Route, target: number): Reach => {
  const { network } = route
  if (network.scope === "swarm") {
    const view = topology.swarm.get(network.name)
    return view === undefined ? false : overlayOnLink(topology, view, source.host, target)
  }
  const bridge = bridgeView(topology, source.host, network.name)
  if (bridge !== undefined) return bridgeOnLink(topology, bridge, source.host, target)
  const vlan = vlanView(topology, source.host, network.name)
  if (vlan === undefined) return false
  return isL3(vlan) ? l3Reach(topology, vlan, target) : childOnLink(topology, vlan, source.name, route.address, target)
}

/**
 * The endpoints that set a gateway at join (bridge, internal ones too; macvlan and ipvlan l2
 * unless internal). A network without a parent sets its gateway too, through its dummy, which
 * leads nowhere: libnetwork 20.10 (a543cbc4) no longer makes it internal (3a4b08f0)
 */
const setsGateway = (topology: Topology, source: Source, network: Network): boolean => {
  if (network.driver === "bridge") return true
  const vlan = vlanView(topology, source.host, network.name)
  return vlan !== undefined && !network.internal && !isL3(vlan)
}

/** libnetwork's gateway endpoint: the sandbox's endpoint order (epHeap: leg last, internal last, then name), first with a gateway */
const gatewayRoute = (topology: Topology, source: Source, routes: ReadonlyArray<Route>): Route | undefined => {
  const rank = (route: Route) => [isGatewayLeg(topology.lab, source.name, route.endpoint) ? 1 : 0, route.network.internal ? 1 : 0]
  return routes
    .filter((route) => setsGateway(topology, source, route.network))
    .sort((a, b) => {
      const [legA, internalA] = rank(a) as [number, number]
      const [legB, internalB] = rank(b) as [number, number]
      return legA - legB || internalA - internalB || (a.network.name < b.network.name ? -1 : a.network.name > b.network.name ? 1 : 0)
    })[0]
}

const viaDefaultRoute = (topology: Topology, source: Source, routes: ReadonlyArray<Route>, target: number): Reach => {
  const gateway = gatewayRoute(topology, source, routes)
  const l3 = routes.filter((route) => {
    const vlan = vlanView(topology, source.host, route.network.name)
    // a network without a parent routes `default dev` too, onto its dummy (lab-sandboxes.ts, routesDefaultItself)
    return vlan !== undefined && isL3(vlan) && !route.network.internal
  })
  // two default routes (an ipvlan l3 `default dev` and a gateway): which one the kernel keeps is not Docker's to say
  if (gateway !== undefined && l3.length > 0) return undefined
  if (l3.length > 0) return l3.length > 1 ? undefined : l3Reach(topology, vlanView(topology, source.host, (l3[0] as Route).network.name) as VlanView, target)
  if (gateway === undefined) return false
  const vlan = vlanView(topology, source.host, gateway.network.name)
  if (vlan !== undefined) return childViaGateway(topology, vlan, source.name, gateway.address, target)
  return throughBridgeHost(topology, source.host, gateway.network, target)
}

const sourceOf = (lab: LabState, name: string): Source | undefined => {
  const host = StringMap.get(lab.placement, name)
  if (host === undefined) return undefined
  const record = containerRecord(hostState(lab, host), name)
  return record === undefined ? undefined : { host, name, record }
}

/** what a source's pings depend on, worked out once for all its targets */
interface PreparedSource {
  readonly source: Source
  readonly onHostNetwork: boolean
  readonly routes: ReadonlyArray<Route>
  /** the block each route reaches on-link */
  readonly blocks: ReadonlyArray<{ readonly route: Route; readonly base: number; readonly last: number; readonly prefix: number }>
}

const prepare = (topology: Topology, from: string): PreparedSource | undefined => {
  const source = sourceOf(topology.lab, from)
  if (source === undefined) return undefined
  const onHostNetwork = source.record.endpoints.some((endpoint) => networkOf(topology, source.host, endpoint.network).driver === "host")
  const routes = routesOf(topology, source)
  const blocks = routes.flatMap((route) => {
    const block = viewOfRoute(topology, source, route)?.subnet
    return block === undefined ? [] : [{ route, base: block.base, last: block.base + 2 ** (32 - block.prefix) - 1, prefix: block.prefix }]
  })
  return { source, onHostNetwork, routes, blocks }
}

const reachPrepared = (topology: Topology, prepared: PreparedSource, target: number): Reach => {
  const { source, routes } = prepared
  if (prepared.onHostNetwork) {
    if ((topology.ownAddresses[source.host] as ReadonlySet<number>).has(target)) return true
    return hostRoutes(topology, source.host, target, "host")
  }
  for (const route of routes) if (route.address === target) return true
  // the longest prefix holding the target; a tie (overlapping subnets of two address spaces) must agree
  let best = -1
  let first: Route | undefined
  let tied: Array<Route> | undefined
  for (const block of prepared.blocks) {
    if (target < block.base || target > block.last || block.prefix < best) continue
    if (block.prefix > best) {
      first = block.route
      tied = undefined
    } else {
      tied = [...(tied ?? [first as Route]), block.route]
    }
    best = block.prefix
  }
  if (tied !== undefined) return agreed(tied.map((route) => onLink(topology, source, route, target)))
  if (first !== undefined) return onLink(topology, source, first, target)
  return viaDefaultRoute(topology, source, routes, target)
}

/** can container `from` ping `target`? (a topology built for the lab) */
export const reachFrom = (topology: Topology, from: string, target: number): Reach => {
  const prepared = prepare(topology, from)
  return prepared === undefined ? false : reachPrepared(topology, prepared, target)
}

/**
 * Can container `from` ping `address`, one of container `to`'s listed addresses? False when either
 * is unknown or the address is not one of `to`'s; a container's own addresses always answer.
 */
export const predictLabReach = (lab: LabState, from: string, to: string, address: string): Reach => {
  const listed = labEndpoints(lab).some((endpoint) => endpoint.container === to && endpoint.address !== undefined && stripPrefix(endpoint.address) === address)
  if (!listed || !StringMap.has(lab.placement, from)) return false
  if (from === to) return true
  return reachFrom(buildTopology(lab), from, parseIPv4(address) as number)
}

/** can container `from` ping the underlay address of `host`? */
export const predictLabReachHost = (lab: LabState, from: string, host: string): Reach => {
  const target = lab.hosts.find((candidate) => candidate.name === host)
  if (target === undefined) return false
  return reachFrom(buildTopology(lab), from, parseIPv4(target.address) as number)
}

/** one probe the report lists: a container, the address it pings, whether the reply comes home */
interface ReachRowOf {
  readonly from: string
  /** plain address */
  readonly address: string
  readonly reachable: Reach
}

export interface LabReachRow extends ReachRowOf {
  readonly to: string
  readonly network: string
}

/** every ordered pair of distinct containers, every listed address of the second: the report's `reach` */
export const predictLabReachMatrix = (lab: LabState): ReadonlyArray<LabReachRow> => {
  const topology = buildTopology(lab)
  const targets = labEndpoints(lab).filter((endpoint) => endpoint.address !== undefined)
  const rows: Array<LabReachRow> = []
  const parsed = targets.map((endpoint) => {
    const address = stripPrefix(endpoint.address as string)
    return { endpoint, address, target: parseIPv4(address) as number }
  })
  for (const from of IntTrie.values(lab.containerOrder)) {
    const prepared = prepare(topology, from)
    for (const { endpoint, address, target } of parsed) {
      if (endpoint.container === from) continue
      const reachable = prepared === undefined ? false : reachPrepared(topology, prepared, target)
      rows.push({ from, to: endpoint.container, network: endpoint.network, address, reachable })
    }
  }
  return rows
}

/** `address` is the host's underlay address */
export interface LabHostReachRow extends ReachRowOf {
  readonly host: string
}

/** every container against every host's underlay address: the report's `reachHosts` */
export const predictLabReachHosts = (lab: LabState): ReadonlyArray<LabHostReachRow> => {
  const topology = buildTopology(lab)
  return IntTrie.values(lab.containerOrder).flatMap((from) => {
    const prepared = prepare(topology, from)
    return lab.hosts.map((host) => {
      const reachable = prepared === undefined ? false : reachPrepared(topology, prepared, parseIPv4(host.address) as number)
      return { from, host: host.name, address: host.address, reachable }
    })
  })
}
