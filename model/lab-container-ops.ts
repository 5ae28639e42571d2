/**
 * Containers across a lab: createContainer on a host, removeContainer, connect, disconnect. Each
 * is the host's own operation (container-ops, Docker's checks in Docker's order), then what the
 * drivers and the swarm add after a join or a leave: the kernel's refusals of a macvlan or ipvlan
 * child, an overlay whose MTU the kernel refuses, the host's load balancer on a swarm network and
 * the container's gateway leg (lab-sandboxes). Container names are unique across the lab.
 */
import { connect, containerNameProblem, createContainer, disconnect, removeContainer } from "./container-ops.ts"
import type { ContainerWithEndpoints } from "./container-ops.ts"
import * as IntTrie from "./int-trie.ts"
import type { LabContainerRequest, LabOutcome, LabRefusal, LabState } from "./lab-types.ts"
import {
  gatewayBridgeNetwork,
  hostIndex,
  hostState,
  hostStateForOperation,
  ingressNetwork,
  labFail,
  labRefuse,
  labSucceed,
  labWith,
  syncSwarmBook,
  withHostState,
} from "./lab-store.ts"
import { vlanNetworksOn } from "./lab-network-ops.ts"
import { containersOn, defaultRouteConflict, isGatewayLeg, listedEndpoints, settleGatewayLeg, settleLoadBalancer } from "./lab-sandboxes.ts"
import { overlayJoinProblem } from "./overlay-driver.ts"
import { type ContainerRecord, type NetworkRecord, containerRecord, networkRecord } from "./representation.ts"
import * as StringMap from "./string-map.ts"
import type { AttachRequest, Endpoint } from "./types.ts"
import { isVlanDriver, joinProblem } from "./vlan-driver.ts"
import { type ConnectivityMove, externalNetworkName, parseServing, settlePorts, withServing, withoutServing } from "./ports.ts"

const refuseWith = (refusal: { readonly error: LabRefusal["error"] }): LabRefusal => ({ ok: false, error: refusal.error })

/** the endpoints a container lists, with its host */
export interface LabContainer extends ContainerWithEndpoints {
  readonly host: string
}

const hostName = (lab: LabState, index: number): string => (lab.hosts[index] as { name: string }).name

/** `ingress` carries only swarm's own sandboxes: Docker refuses it to containers ("not manually attachable") */
const ingressRefusal = (lab: LabState, network: string, origin: JoinOrigin = "container"): LabRefusal | undefined =>
  origin === "container" && lab.swarm !== undefined && network === ingressNetwork
    ? labFail("PredefinedNetwork", "network ingress is not manually attachable: it carries swarm's routing mesh only")
    : undefined

/** what the kernel refuses once IPAM gave the endpoint its address: macvlan/ipvlan children, an overlay's vxlan MTU */
const joinRefusal = (before: LabState, index: number, endpoint: Endpoint): LabRefusal | undefined => {
  const record = networkRecord(hostState(before, index), endpoint.network) as NetworkRecord
  const { network } = record
  if (isVlanDriver(network.driver)) {
    const here = vlanNetworksOn(before, index)
    const info = here.find((entry) => entry.network.id === network.id)?.info
    if (info === undefined) return undefined
    const others = here.map((entry) => ({
      driver: entry.driver,
      info: entry.info,
      endpoints: (networkRecord(hostState(before, index), entry.network.name) as NetworkRecord).endpoints.size,
    }))
    const problem = joinProblem(network.driver, info, record.endpoints.size, others)
    return problem === undefined ? undefined : labFail("ParentInUse", problem)
  }
  const overlay = before.swarm === undefined ? undefined : StringMap.get(before.swarm.networks, network.name)?.overlay
  const problem = overlay === undefined ? undefined : overlayJoinProblem(overlay.mtu, network.subnet as string)
  return problem === undefined ? undefined : labFail("InvalidOption", problem)
}

/**
 * After the host's operation joined `endpoint`: the driver's refusals, then the swarm's book
 * copied to every host, the host's load balancer, and the gateway leg. `before` is the lab the
 * join started from.
 */
const afterJoin = (before: LabState, joined: LabState, index: number, endpoint: Endpoint, origin: JoinOrigin = "container"): LabOutcome<undefined> => {
  const name = endpoint.network
  const synced = syncSwarmBook(joined, name, index)
  const refused = joinRefusal(before, index, endpoint)
  if (refused !== undefined) return labRefuse(before, synced, refused)
  const balanced = origin === "container" ? settleLoadBalancer(synced, index, name) : labSucceed(synced, undefined)
  if (!balanced.ok) return labRefuse(before, synced, balanced)
  const settled = settleGatewayLeg(balanced.lab, index, endpoint.container)
  if (!settled.ok) return labRefuse(before, balanced.lab, settled)
  const record = containerRecord(hostState(settled.lab, index), endpoint.container)
  const conflict = record === undefined ? undefined : defaultRouteConflict(settled.lab, record)
  return conflict === undefined ? settled : labRefuse(before, settled.lab, labFail("DefaultRouteExists", conflict))
}

/** one join of a container that exists on host `index`, through the host's `connect` */
const joinOn = (lab: LabState, index: number, container: string, attach: AttachRequest, origin: JoinOrigin = "container"): LabOutcome<Endpoint> => {
  const ingress = ingressRefusal(lab, attach.network, origin)
  if (ingress !== undefined) return ingress
  let start = lab
  const record = containerRecord(hostState(lab, index), container) as ContainerRecord
  const leg = record.endpoints.find((endpoint) => isGatewayLeg(lab, container, endpoint))
  if (attach.network === gatewayBridgeNetwork && leg !== undefined) {
    // asking for docker_gwbridge itself: the leg makes way (Docker would keep both until the join settles)
    const dropped = disconnect(hostStateForOperation(lab, index), container, gatewayBridgeNetwork)
    if (dropped.ok) start = labWith(withHostState(lab, index, dropped.state), { gatewayLegs: StringMap.remove(lab.gatewayLegs, container) })
  }
  const outcome = connect(hostStateForOperation(start, index), container, attach)
  if (!outcome.ok) return refuseWith(outcome)
  const settled = afterJoin(lab, withHostState(start, index, outcome.state), index, outcome.value, origin)
  return settled.ok ? labSucceed(settled.lab, outcome.value) : settled
}

/**
 * `docker run` on a host, as the recorder does it with Docker 20.10: the container starts on its
 * first network, then `docker network connect` adds each further one. All or nothing.
 */
/**
 * Who joins: a container, or a swarm service's task. A task's addresses are handed out by the
 * manager together, before its node takes its load-balancer address (measured on Docker 20.10:
 * tasks .4 and .5 on a host that had none, its balancer after them), so the caller settles the
 * balancers afterwards (settleAfterLeave); and a task of a service with published ports is on
 * `ingress`, which containers cannot join.
 */
export type JoinOrigin = "container" | "task"

export const createLabContainer = (lab: LabState, request: LabContainerRequest, origin: JoinOrigin = "container"): LabOutcome<LabContainer> => {
  // the CLI reads -p before it asks the daemon for anything
  const serving = parseServing(request.ports, request.listen)
  if (!serving.ok) return refuseWith(serving)
  const index = request.host === undefined ? 0 : hostIndex(lab, request.host)
  if (index === undefined || index >= lab.hosts.length) return labFail("InvalidName", `no such host: ${request.host}`)
  const refusedName = containerNameProblem(request.name)
  if (refusedName !== undefined) return refuseWith(refusedName)
  if (StringMap.has(lab.placement, request.name)) {
    return labFail("ContainerNameConflict", `Conflict. The container name "/${request.name}" is already in use`)
  }
  const [first, ...rest] = request.networks === undefined || request.networks.length === 0 ? [{ network: "bridge" }] : request.networks
  const ingress = ingressRefusal(lab, (first as AttachRequest).network, origin)
  if (ingress !== undefined) return ingress
  const created = createContainer(hostStateForOperation(lab, index), { name: request.name, networks: [first as AttachRequest] })
  if (!created.ok) return refuseWith(created)
  const seq = lab.nextContainerSeq
  const placed = labWith(withHostState(lab, index, created.state), {
    placement: StringMap.set(lab.placement, request.name, index),
    containerOrder: IntTrie.set(lab.containerOrder, seq, request.name),
  })
  // every refusal below is relative to `lab`: the container goes, Docker's cursors stay where the attempt left them
  const started = afterJoin(lab, placed, index, created.value.endpoints[0] as Endpoint, origin)
  // publishing is the last thing the start does, on the first network; each connect after it may move the ports
  // (a refusal leaves nothing behind: the contract, not Docker's Created container)
  let current: LabOutcome<unknown> = started.ok ? republished(labSucceed(withServing(started.lab, request.name, serving.value), undefined), index, request.name, { kind: "join", before: undefined }) : started
  for (const attach of rest) {
    if (!current.ok) break
    const before = externalNetworkName(current.lab, index, request.name)
    const joined: LabOutcome<unknown> = republished(joinOn(current.lab, index, request.name, attach, origin), index, request.name, { kind: "join", before })
    current = joined.ok ? labSucceed(joined.lab, undefined) : labRefuse(lab, joined.lab ?? current.lab, joined)
  }
  if (!current.ok) return current
  const record = containerRecord(hostState(current.lab, index), request.name) as ContainerRecord
  return labSucceed(current.lab, { container: record.container, endpoints: listedEndpoints(current.lab, record), host: hostName(lab, index) })
}

const placementOf = (lab: LabState, container: string): number | undefined => StringMap.get(lab.placement, container)

const noSuchContainer = (name: string): LabRefusal => labFail("ContainerNotFound", `No such container: ${name}`)

export const connectLab = (lab: LabState, container: string, attach: AttachRequest): LabOutcome<Endpoint> => {
  const index = placementOf(lab, container)
  if (index === undefined) return noSuchContainer(container)
  return republished(joinOn(lab, index, container, attach), index, container, { kind: "join", before: externalNetworkName(lab, index, container) })
}

/** after a join or a leave the container's external connectivity may have moved, and the ports with it */
const republished = <A>(outcome: LabOutcome<A>, index: number, container: string, move: ConnectivityMove): LabOutcome<A> => {
  if (!outcome.ok) return outcome
  const published = settlePorts(outcome.lab, index, container, move)
  return published.ok ? labSucceed(published.value, outcome.value) : refuseWith(published)
}

/** the swarm networks among these endpoints: their load balancers are to be settled after a leave */
const swarmNetworksOf = (lab: LabState, index: number, endpoints: ReadonlyArray<Endpoint>): Array<string> =>
  endpoints.flatMap((endpoint) => (networkRecord(hostState(lab, index), endpoint.network)?.network.scope === "swarm" ? [endpoint.network] : []))

export const settleAfterLeave = (lab: LabState, index: number, networks: ReadonlyArray<string>): LabState =>
  networks.reduce((current, name) => {
    // taking a load balancer away cannot fail
    const settled = settleLoadBalancer(syncSwarmBook(current, name, index), index, name)
    return settled.ok ? settled.lab : current
  }, lab)

export const disconnectLab = (lab: LabState, container: string, network: string): LabOutcome<Endpoint> => {
  const index = placementOf(lab, container)
  if (index === undefined) return noSuchContainer(container)
  const record = containerRecord(hostState(lab, index), container) as ContainerRecord
  if (network === gatewayBridgeNetwork && record.endpoints.some((endpoint) => isGatewayLeg(lab, container, endpoint))) {
    return labFail("NotConnected", `container ${container} is not connected to network ${network}`)
  }
  const outcome = disconnect(hostStateForOperation(lab, index), container, network)
  if (!outcome.ok) return refuseWith(outcome)
  const move: ConnectivityMove = { kind: "leave", before: externalNetworkName(lab, index, container) }
  const left = settleAfterLeave(withHostState(lab, index, outcome.state), index, swarmNetworksOf(lab, index, [outcome.value]))
  const settled = settleGatewayLeg(left, index, container)
  if (!settled.ok) return republished(labRefuse(lab, left, settled), index, container, move)
  // a leave that brings the gateway leg back beside an ipvlan l3 `default dev`: the kernel refuses its default route (EEXIST), as at a join
  const after = containerRecord(hostState(settled.lab, index), container)
  const conflict = after === undefined ? undefined : defaultRouteConflict(settled.lab, after)
  if (conflict !== undefined) return labRefuse(lab, settled.lab, labFail("DefaultRouteExists", conflict))
  return republished(labSucceed(settled.lab, outcome.value), index, container, move)
}

export const removeLabContainer = (lab: LabState, name: string): LabOutcome<LabContainer> => {
  const index = placementOf(lab, name)
  if (index === undefined) return noSuchContainer(name)
  const record = containerRecord(hostState(lab, index), name) as ContainerRecord
  const outcome = removeContainer(hostStateForOperation(lab, index), name)
  if (!outcome.ok) return refuseWith(outcome)
  const removed = labWith(withHostState(lab, index, outcome.state), {
    placement: StringMap.remove(lab.placement, name),
    containerOrder: IntTrie.remove(lab.containerOrder, record.seq),
    gatewayLegs: StringMap.remove(lab.gatewayLegs, name),
  })
  const next = settleAfterLeave(withoutServing(removed, name), index, swarmNetworksOf(lab, index, record.endpoints))
  return labSucceed(next, { container: record.container, endpoints: listedEndpoints(lab, record), host: hostName(lab, index) })
}

/** how many containers (Docker's own sandboxes aside) the host has on the network */
export const containersOnHost = (lab: LabState, index: number, network: string): number => {
  const record = networkRecord(hostState(lab, index), network)
  return record === undefined ? 0 : containersOn(record)
}
