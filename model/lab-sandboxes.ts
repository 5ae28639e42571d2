/**
 * The sandboxes and endpoints Docker adds on its own around a container's endpoints:
 *
 * - the gateway leg: a container whose endpoints give it no default gateway (overlay gives none)
 *   gets an extra endpoint on the host's `docker_gwbridge`; it goes when another endpoint gives
 *   a way out (libnetwork default_gateway.go needDefaultGW, checked after every join and leave);
 * - the load balancer: each host that has a container on a swarm network holds one address on it
 *   in a sandbox of its own (`lb-<network>`), taken right after that host's first container's
 *   address and given back when the host's last container leaves (measured on Docker 20.10).
 *
 * Neither is listed by `docker inspect`, and neither is in a lab's listings (lab-queries); both
 * take their addresses from the pools as Docker does.
 */
import { connect, createSandbox, disconnect, removeContainer } from "./container-ops.ts"
import * as IntTrie from "./int-trie.ts"
import type { LabOutcome, LabState } from "./lab-types.ts"
import {
  gatewayBridgeNetwork,
  hostState,
  hostStateForOperation,
  ingressNetwork,
  isSystemSandbox,
  labFail,
  labSucceed,
  labWith,
  loadBalancerSandbox,
  syncSwarmBook,
  withHostState,
} from "./lab-store.ts"
import { type CnmState, type ContainerRecord, type NetworkRecord, containerRecord, networkRecord } from "./representation.ts"
import * as StringMap from "./string-map.ts"
import type { Endpoint, Network } from "./types.ts"

/** the endpoint is the container's gateway leg, not an endpoint it asked for */
export const isGatewayLeg = (lab: LabState, container: string, endpoint: Endpoint): boolean =>
  endpoint.network === gatewayBridgeNetwork && (isSystemSandbox(container) || StringMap.has(lab.gatewayLegs, container))

/** the endpoints `docker inspect` lists: all but the gateway leg */
export const listedEndpoints = (lab: LabState, record: ContainerRecord): ReadonlyArray<Endpoint> =>
  record.endpoints.filter((endpoint) => !isGatewayLeg(lab, record.container.name, endpoint))

/** ipvlan in l3 mode routes `default dev eth0` itself and turns the gateway service off (DisableGatewayService) */
export const isIpvlanL3 = (lab: LabState, network: Network): boolean =>
  network.driver === "ipvlan" && StringMap.get(lab.vlans, network.id)?.mode === "l3"

/**
 * ipvlan l3 adds `default dev ethN` itself at join, unless the network is internal (libnetwork
 * 20.10 ipvlan_joinleave.go), a network without a parent too: the driver only gives it a dummy
 * (libnetwork a543cbc4, which Docker 20.10.0 vendors, after 3a4b08f0 "Separate empty parent and
 * internal")
 */
export const routesDefaultItself = (lab: LabState, network: Network): boolean => isIpvlanL3(lab, network) && !network.internal

/** the join sets a default route through the network's gateway: bridge (internal ones too); macvlan and ipvlan l2 unless internal (without a parent too: through the dummy, to nowhere) */
const routesViaGateway = (lab: LabState, network: Network): boolean => {
  if (network.driver === "bridge") return network.gateway !== undefined
  if (network.driver !== "macvlan" && !(network.driver === "ipvlan" && !isIpvlanL3(lab, network))) return false
  return !network.internal && network.gateway !== undefined
}

/**
 * Two default routes in one sandbox: an ipvlan l3 `default dev ethN` beside a gateway's default
 * route (a bridge, macvlan or ipvlan l2 network, the docker_gwbridge leg) or beside another l3's.
 * Docker 20.10 adds each as a new route (the l3 one as the interface's route, osl
 * setInterfaceRoutes; a gateway through SetGateway), the kernel refuses the second with EEXIST,
 * and the join fails: "failed to add interface … to sandbox: error setting interface … routes to
 * ["0.0.0.0/0"]: file exists" when the l3 network comes second, "failed to set gateway while
 * updating gateway: file exists" when the gateway does. The message of the conflict, or undefined.
 */
export const defaultRouteConflict = (lab: LabState, record: ContainerRecord): string | undefined => {
  const state = hostStateOfRecord(lab, record)
  if (state === undefined) return undefined
  const own: string[] = []
  const via: string[] = []
  for (const endpoint of record.endpoints) {
    const network = networkRecord(state, endpoint.network)?.network
    if (network === undefined) continue
    if (routesDefaultItself(lab, network)) own.push(network.name)
    else if (routesViaGateway(lab, network)) via.push(network.name)
  }
  if (own.length === 0 || own.length + via.length < 2) return undefined
  const others = [...own.slice(1), ...via]
  return `container ${record.container.name}: ipvlan l3 network ${own[0]} routes default dev itself beside the default route of ${others.join(", ")}: file exists`
}

/** the host state holding the container's record */
const hostStateOfRecord = (lab: LabState, record: ContainerRecord): CnmState | undefined => {
  const index = StringMap.get(lab.placement, record.container.name)
  return index === undefined ? undefined : hostState(lab, index)
}

/**
 * the driver set a gateway at join: bridge, macvlan and ipvlan l2, unless internal. A macvlan or
 * ipvlan network without a parent is not internal: libnetwork 20.10's driver gives it a dummy
 * parent and its join sets the gateway all the same (macvlan_joinleave.go's `!n.config.Internal`;
 * the "empty parent and --internal are handled the same" of older drivers went in 3a4b08f0, before
 * a543cbc4, which Docker 20.10.0 vendors), so sandbox.needDefaultGW() finds a gateway: no leg
 */
export const givesGateway = (lab: LabState, network: Network): boolean =>
  !network.internal &&
  (network.driver === "bridge" || network.driver === "macvlan" || (network.driver === "ipvlan" && !isIpvlanL3(lab, network)))

/**
 * libnetwork's needDefaultGW: some endpoint that counts (not null or host, not internal, gateway
 * service on) has no gateway, and none that counts has one.
 */
export const needsGatewayLeg = (lab: LabState, state: CnmState, record: ContainerRecord): boolean => {
  let need = false
  for (const endpoint of record.endpoints) {
    const network = networkRecord(state, endpoint.network)?.network
    if (network === undefined || isGatewayLeg(lab, record.container.name, endpoint)) continue
    if (network.driver === "null" || network.driver === "host" || network.internal || isIpvlanL3(lab, network)) continue
    if (givesGateway(lab, network)) return false
    need = true
  }
  return need
}

/** adds or removes the container's gateway leg as its endpoints now need, as libnetwork does after a join or leave */
export const settleGatewayLeg = (lab: LabState, index: number, name: string): LabOutcome<undefined> => {
  const record = containerRecord(hostState(lab, index), name) as ContainerRecord
  const leg = record.endpoints.find((endpoint) => isGatewayLeg(lab, name, endpoint))
  const need = needsGatewayLeg(lab, hostState(lab, index), record)
  if (need && leg === undefined) {
    const outcome = connect(hostStateForOperation(lab, index), name, { network: gatewayBridgeNetwork })
    if (!outcome.ok) {
      return labFail(outcome.error.code, `container ${name}: endpoint create on GW Network failed: ${outcome.error.message}`)
    }
    const next = withHostState(lab, index, outcome.state)
    return labSucceed(isSystemSandbox(name) ? next : labWith(next, { gatewayLegs: StringMap.set(next.gatewayLegs, name, true) }), undefined)
  }
  if (!need && leg !== undefined) {
    const outcome = disconnect(hostStateForOperation(lab, index), name, gatewayBridgeNetwork)
    if (!outcome.ok) return labFail(outcome.error.code, outcome.error.message)
    const next = withHostState(lab, index, outcome.state)
    return labSucceed(labWith(next, { gatewayLegs: StringMap.remove(next.gatewayLegs, name) }), undefined)
  }
  return labSucceed(lab, undefined)
}

/** containers (not Docker's own sandboxes) with an endpoint on the network on this host */
export const containersOn = (record: NetworkRecord): number => {
  let count = 0
  IntTrie.forEach(record.endpoints, (endpoint) => {
    if (!isSystemSandbox(endpoint.container)) count++
  })
  return count
}

/** creates or removes the host's load-balancer sandbox on a swarm network as its containers there now need */
export const settleLoadBalancer = (lab: LabState, index: number, name: string): LabOutcome<undefined> => {
  const record = networkRecord(hostState(lab, index), name)
  if (lab.swarm === undefined || name === ingressNetwork || record === undefined || record.network.scope !== "swarm") {
    return labSucceed(lab, undefined)
  }
  const sandbox = loadBalancerSandbox(name)
  const present = containerRecord(hostState(lab, index), sandbox) !== undefined
  const wanted = containersOn(record) > 0
  if (wanted && !present) {
    const outcome = createSandbox(hostStateForOperation(lab, index), { name: sandbox, networks: [{ network: name }] })
    if (!outcome.ok) {
      return labFail(outcome.error.code, `failed to find a load balancer IP to use for network: ${record.network.id}`)
    }
    return labSucceed(syncSwarmBook(withHostState(lab, index, outcome.state), name, index), undefined)
  }
  if (!wanted && present) {
    const outcome = removeContainer(hostStateForOperation(lab, index), sandbox)
    if (!outcome.ok) return labFail(outcome.error.code, outcome.error.message)
    return labSucceed(syncSwarmBook(withHostState(lab, index, outcome.state), name, index), undefined)
  }
  return labSucceed(lab, undefined)
}
