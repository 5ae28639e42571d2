/**
 * Reading a lab: what its reports list (networks with their scope and host, containers and
 * endpoints with their host, as `docker inspect` shows them: no gateway legs, no load balancers),
 * and what drivers need beyond that: each host's state, the overlay and macvlan/ipvlan data, the
 * gateway legs and load-balancer addresses, and the peers a host programs for an overlay network.
 */
import { parseIPv4Prefix, stripPrefix } from "./cidr.ts"
import * as IntTrie from "./int-trie.ts"
import type { LabHost, LabState, OverlayInfo, VlanInfo } from "./lab-types.ts"
import type { LabNetworkRow } from "./lab-network-ops.ts"
import { hostIndex, hostState, ingressSandbox, isSystemSandbox, loadBalancerSandbox } from "./lab-store.ts"
import { isGatewayLeg, listedEndpoints } from "./lab-sandboxes.ts"
import { type CnmState, type ContainerRecord, containerRecord, networkRecord } from "./representation.ts"
import * as StringMap from "./string-map.ts"
import type { Container, Endpoint, Network } from "./types.ts"

export type { LabNetworkRow } from "./lab-network-ops.ts"

/** an endpoint as a lab lists it: with the host of its container */
export interface LabEndpoint extends Endpoint {
  readonly host: string
}

export interface LabContainerRow {
  readonly container: Container
  readonly host: string
}

export const labHosts = (lab: LabState): ReadonlyArray<LabHost> => lab.hosts

/** the state of one host, for its drivers; undefined for a name no host has */
export const hostStateOf = (lab: LabState, host: string): CnmState | undefined => {
  const index = hostIndex(lab, host)
  return index === undefined ? undefined : hostState(lab, index)
}

/** every network: by creation, a local one once per host it is on (in host order), a swarm one once */
export const labNetworks = (lab: LabState): ReadonlyArray<LabNetworkRow> => {
  const rows: Array<{ seq: number; host: number; row: LabNetworkRow }> = []
  const swarmListed = new Set<string>()
  lab.hostStates.forEach((state, host) => {
    IntTrie.forEach(state.networkOrder, (name, seq) => {
      const network = (networkRecord(state, name) as { network: Network }).network
      if (network.scope === "swarm") {
        if (swarmListed.has(name)) return
        swarmListed.add(name)
        rows.push({ seq, host: -1, row: { network, scope: "swarm" } })
      } else {
        rows.push({ seq, host, row: { network, scope: "local", host: (lab.hosts[host] as LabHost).name } })
      }
    })
  })
  return rows.sort((a, b) => a.seq - b.seq || a.host - b.host).map((entry) => entry.row)
}

/** the network of that name on the host (a local one, or its copy of a swarm network) */
export const labNetwork = (lab: LabState, host: string, name: string): Network | undefined =>
  hostStateOf(lab, host) === undefined ? undefined : networkRecord(hostStateOf(lab, host) as CnmState, name)?.network

export const hostOf = (lab: LabState, container: string): string | undefined => {
  const index = StringMap.get(lab.placement, container)
  return index === undefined ? undefined : (lab.hosts[index] as LabHost).name
}

const recordOf = (lab: LabState, container: string): { record: ContainerRecord; index: number } | undefined => {
  const index = StringMap.get(lab.placement, container)
  if (index === undefined) return undefined
  const record = containerRecord(hostState(lab, index), container)
  return record === undefined ? undefined : { record, index }
}

/** ipvlan children share their parent's MAC: `docker inspect` shows no MAC address for them */
const asListed = (lab: LabState, index: number, endpoint: Endpoint): LabEndpoint => {
  const host = (lab.hosts[index] as LabHost).name
  const driver = networkRecord(hostState(lab, index), endpoint.network)?.network.driver
  if (driver !== "ipvlan") return { ...endpoint, host }
  const { mac: _mac, ...rest } = endpoint
  return { ...rest, host }
}

/** the container's endpoints as `docker inspect` lists them, in attach order; [] for an unknown container */
export const labEndpointsOf = (lab: LabState, container: string): ReadonlyArray<LabEndpoint> => {
  const found = recordOf(lab, container)
  return found === undefined ? [] : listedEndpoints(lab, found.record).map((endpoint) => asListed(lab, found.index, endpoint))
}

/** containers in creation order, each with the networks `docker inspect` lists */
export const labContainers = (lab: LabState): ReadonlyArray<LabContainerRow> =>
  IntTrie.values(lab.containerOrder).flatMap((name) => {
    const found = recordOf(lab, name)
    if (found === undefined) return []
    const networks = listedEndpoints(lab, found.record).map((endpoint) => endpoint.network)
    return [{ container: { name, networks }, host: (lab.hosts[found.index] as LabHost).name }]
  })

/** every listed endpoint: container creation order, then attach order */
export const labEndpoints = (lab: LabState): ReadonlyArray<LabEndpoint> =>
  IntTrie.values(lab.containerOrder).flatMap((name) => labEndpointsOf(lab, name))

/** the container's gateway leg on docker_gwbridge, which no listing shows */
export const gatewayLegOf = (lab: LabState, container: string): Endpoint | undefined => {
  const found = recordOf(lab, container)
  return found?.record.endpoints.find((endpoint) => isGatewayLeg(lab, container, endpoint))
}

export interface LoadBalancerAddress {
  readonly network: string
  readonly host: string
  /** CIDR form */
  readonly address: string
}

/** the address each host holds on each swarm network it uses (ingress: the host's ingress sandbox) */
export const loadBalancers = (lab: LabState): ReadonlyArray<LoadBalancerAddress> => {
  const swarm = lab.swarm
  if (swarm === undefined) return []
  const bySeq = StringMap.values(swarm.networks).sort((a, b) => a.network.seq - b.network.seq)
  return bySeq.flatMap(({ network }) =>
    lab.hostStates.flatMap((state, index) => {
      const sandbox = containerRecord(state, network.name === "ingress" ? ingressSandbox : loadBalancerSandbox(network.name))
      const endpoint = sandbox?.endpoints.find((candidate) => candidate.network === network.name)
      return endpoint?.address === undefined
        ? []
        : [{ network: network.name, host: (lab.hosts[index] as LabHost).name, address: endpoint.address }]
    }),
  )
}

/** VNI, MTU and encryption of a swarm network */
export const overlayInfo = (lab: LabState, network: string): OverlayInfo | undefined =>
  lab.swarm === undefined ? undefined : StringMap.get(lab.swarm.networks, network)?.overlay

/** parent and mode of a macvlan or ipvlan network on a host */
export const vlanInfo = (lab: LabState, host: string, network: string): VlanInfo | undefined => {
  const id = labNetwork(lab, host, network)?.id
  return id === undefined ? undefined : StringMap.get(lab.vlans, id)
}

/** a remote endpoint as an overlay driver programs it: a neighbour entry and an FDB entry towards its host */
export interface OverlayPeer {
  /** plain address */
  readonly address: string
  readonly mac: string
  /** the sandbox: a container, or one of Docker's own (load balancer, ingress) */
  readonly sandbox: string
  readonly host: string
  /** the remote host's underlay address: the vxlan destination */
  readonly vtep: string
}

/**
 * The peers `host` programs into the network's vxlan device: every endpoint on the network on
 * every other host, Docker's own sandboxes included (libnetwork's overlay peer table). Local
 * endpoints are not programmed.
 */
export const overlayPeers = (lab: LabState, network: string, host: string): ReadonlyArray<OverlayPeer> => {
  const local = hostIndex(lab, host)
  if (local === undefined || overlayInfo(lab, network) === undefined) return []
  return lab.hostStates.flatMap((state, index) => {
    const record = index === local ? undefined : networkRecord(state, network)
    if (record === undefined) return []
    const remote = lab.hosts[index] as LabHost
    return IntTrie.values(record.endpoints).flatMap((endpoint) =>
      endpoint.address === undefined || endpoint.mac === undefined
        ? []
        : [{ address: stripPrefix(endpoint.address), mac: endpoint.mac, sandbox: endpoint.container, host: remote.name, vtep: remote.address }],
    )
  })
}

/** the sandboxes Docker made for itself on a host (ingress, load balancers), with their endpoints */
export const systemSandboxes = (lab: LabState, host: string): ReadonlyArray<{ name: string; endpoints: ReadonlyArray<Endpoint> }> => {
  const state = hostStateOf(lab, host)
  if (state === undefined) return []
  return IntTrie.values(state.containerOrder)
    .filter(isSystemSandbox)
    .map((name) => ({ name, endpoints: (containerRecord(state, name) as ContainerRecord).endpoints }))
}

/** the address as a number, for an endpoint's CIDR text */
export const endpointAddress = (endpoint: Endpoint): number | undefined =>
  endpoint.address === undefined ? undefined : parseIPv4Prefix(endpoint.address)
