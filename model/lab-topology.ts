/**
 * A lab seen as the packets see it, built once per prediction (lab-reach.ts reads it): which
 * addresses each host owns, the bridges of each host with their holders, each swarm network with
 * its holders on every host, and the layer-2 segments of the underlay with whoever answers ARP on
 * them (the hosts' eth0 and the macvlan/ipvlan children on eth0, on 802.1Q sub-interfaces of it,
 * or on a dummy that is a segment of its own).
 */
import { type Cidr, cidrContains, networkAddressOf, parseCidr, parseIPv4, parseIPv4Prefix } from "./cidr.ts"
import * as IntTrie from "./int-trie.ts"
import type { LabHost, LabState, VlanInfo } from "./lab-types.ts"
import { iccEnabled } from "./options.ts"
import type { NetworkRecord } from "./representation.ts"
import * as StringMap from "./string-map.ts"
import type { Network } from "./types.ts"
import { type VlanDriver, isVlanDriver, underlayLink } from "./vlan-driver.ts"

/** one network's addresses on one host (or, for a swarm network, on all hosts) */
export interface NetworkView {
  readonly network: Network
  readonly subnet: Cidr
  readonly gateway: number
  /** address → who holds it: a sandbox (container or Docker's own) and its host */
  readonly holders: ReadonlyMap<number, { readonly sandbox: string; readonly host: number }>
}

export interface VlanView extends NetworkView {
  readonly host: number
  readonly driver: VlanDriver
  readonly info: VlanInfo
  /** the layer-2 segment its children are on */
  readonly segment: string
}

/** something that answers ARP for an address on a segment */
export interface Station {
  readonly host: number
  readonly address: number
  /** a child of a macvlan/ipvlan network; absent: the host itself (its eth0) */
  readonly child?: { readonly view: VlanView; readonly sandbox: string }
}

export interface Topology {
  readonly lab: LabState
  /** each host's underlay address and the block it reaches on-link */
  readonly underlay: ReadonlyArray<{ readonly address: number; readonly onLink: Cidr }>
  /** every address a host owns: its underlay address and the gateway of each of its bridges */
  readonly ownAddresses: ReadonlyArray<ReadonlySet<number>>
  /** a passthru macvlan child on the host's eth0 receives all that arrives there: the host itself no longer does */
  readonly underlayTaken: ReadonlyArray<boolean>
  /** bridge networks by host, by name */
  readonly bridges: ReadonlyArray<ReadonlyMap<string, NetworkView>>
  readonly swarm: ReadonlyMap<string, NetworkView>
  /** macvlan/ipvlan networks by host, by name */
  readonly vlans: ReadonlyArray<ReadonlyMap<string, VlanView>>
  /** segment → address → the stations that answer for it */
  readonly segments: ReadonlyMap<string, ReadonlyMap<number, ReadonlyArray<Station>>>
  /** what lab-reach found about VXLAN between two hosts (a × 4096 + b), filled as it is asked: the lab never changes under it */
  readonly pairs: Map<number, boolean | undefined>
}

/** the segment of the untagged underlay, which every host's eth0 is on */
export const underlaySegment = "underlay"

/**
 * The segment a link carries frames on: eth0 is the underlay; an 802.1Q sub-interface `X.N` is
 * VLAN N of X's segment; any other link (a dummy) is a segment of its own on its host.
 */
export const segmentOfLink = (host: number, link: string): string => {
  if (link === underlayLink) return underlaySegment
  const parts = link.split(".")
  if (parts.length === 2 && /^[+-]?[0-9]+$/.test(parts[1] as string)) {
    return `${segmentOfLink(host, parts[0] as string)}/vlan${Number(parts[1])}`
  }
  return `host${host}:${link}`
}

const viewOf = (record: NetworkRecord, host: number): NetworkView | undefined => {
  const subnet = record.network.subnet === undefined ? undefined : parseCidr(record.network.subnet)
  const gateway = record.network.gateway === undefined ? undefined : parseIPv4(record.network.gateway)
  if (subnet === undefined || gateway === undefined) return undefined
  const holders = new Map<number, { sandbox: string; host: number }>()
  IntTrie.forEach(record.endpoints, (endpoint) => {
    const address = endpoint.address === undefined ? undefined : parseIPv4Prefix(endpoint.address)
    if (address !== undefined) holders.set(address, { sandbox: endpoint.container, host })
  })
  return { network: record.network, subnet, gateway, holders }
}

export const buildTopology = (lab: LabState): Topology => {
  const underlay = lab.hosts.map((host: LabHost) => {
    const address = parseIPv4(host.address) as number
    return { address, onLink: { base: networkAddressOf(address, host.prefix), prefix: host.prefix } }
  })
  const bridges: Array<Map<string, NetworkView>> = []
  const vlans: Array<Map<string, VlanView>> = []
  const ownAddresses: Array<Set<number>> = []
  const underlayTaken: Array<boolean> = []
  const swarm = new Map<string, NetworkView>()
  lab.hostStates.forEach((state, host) => {
    const own = new Set([(underlay[host] as { address: number }).address])
    const hostBridges = new Map<string, NetworkView>()
    const hostVlans = new Map<string, VlanView>()
    let taken = false
    StringMap.forEach(state.networks, (record) => {
      const view = viewOf(record, host)
      if (view === undefined) return
      const { network } = record
      if (network.scope === "swarm") {
        const known = swarm.get(network.name)
        const holders = new Map(known?.holders ?? [])
        for (const [address, holder] of view.holders) holders.set(address, holder)
        swarm.set(network.name, { ...view, holders })
      } else if (network.driver === "bridge") {
        hostBridges.set(network.name, view)
        own.add(view.gateway)
      } else if (isVlanDriver(network.driver)) {
        const info = StringMap.get(lab.vlans, network.id)
        if (info === undefined) return
        const segment = segmentOfLink(host, info.parent)
        hostVlans.set(network.name, { ...view, host, driver: network.driver, info, segment })
        if (info.mode === "passthru" && info.parent === underlayLink && view.holders.size > 0) taken = true
      }
    })
    bridges.push(hostBridges)
    vlans.push(hostVlans)
    ownAddresses.push(own)
    underlayTaken.push(taken)
  })
  const segments = new Map<string, Map<number, Array<Station>>>()
  const addStation = (segment: string, station: Station) => {
    const byAddress = segments.get(segment) ?? new Map<number, Array<Station>>()
    segments.set(segment, byAddress)
    byAddress.set(station.address, [...(byAddress.get(station.address) ?? []), station])
  }
  underlay.forEach(({ address }, host) => {
    if (!underlayTaken[host]) addStation(underlaySegment, { host, address })
  })
  vlans.forEach((hostVlans) => {
    for (const view of hostVlans.values()) {
      for (const [address, { sandbox, host }] of view.holders) addStation(view.segment, { host, address, child: { view, sandbox } })
    }
  })
  return { lab, underlay, ownAddresses, underlayTaken, bridges, swarm, vlans, segments, pairs: new Map() }
}

/** the host reaches the address on-link through its eth0 */
export const onHostLink = (topology: Topology, host: number, address: number): boolean =>
  cidrContains((topology.underlay[host] as { onLink: Cidr }).onLink, address)

export const iccOf = (view: NetworkView): boolean => iccEnabled(view.network.options)
