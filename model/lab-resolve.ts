/**
 * The embedded DNS across a lab: what a container's resolver answers. As on one host
 * (predict.ts predictResolve: the readings of a query, the container's networks in resolver
 * order, the first network that knows the name answers with every holder), except that swarm
 * networks are asked before local ones, and that a swarm
 * network knows the names and aliases of its containers on every host (NetworkDB carries them),
 * and a local network only those on the asker's host. Docker's own sandboxes and the gateway legs
 * have no names.
 */
import { formatIPv4, parseIPv4, stripPrefix } from "./cidr.ts"
import * as IntTrie from "./int-trie.ts"
import type { LabState } from "./lab-types.ts"
import { hostState, isSystemSandbox } from "./lab-store.ts"
import { isGatewayLeg, listedEndpoints } from "./lab-sandboxes.ts"
import { type NetworkRecord, containerRecord, networkRecord } from "./representation.ts"
import { type NameQuery, readingsOf, resolverOrder } from "./predict.ts"
import * as StringMap from "./string-map.ts"
import type { Endpoint } from "./types.ts"

/**
 * A service's task (`api.1`): Docker names its container `api.1.<task id>`, a name no scenario can
 * ask, and the service's names are records of their own (services.ts), so the DNS has no `api.1`
 * (recorded on Docker 20.10: swarm-service-lifecycle-names, swarm-dnsrr-clients-each-host).
 */
export const isReplica = (lab: LabState, name: string): boolean => StringMap.values(lab.services).some((service) => service.replicas.includes(name))

/** the names the embedded DNS gives an endpoint: none for Docker's own sandboxes, a task's aliases only (isReplica) */
export const embeddedDnsNames = (lab: LabState, endpoint: Endpoint): ReadonlyArray<string> =>
  isSystemSandbox(endpoint.container) ? [] : isReplica(lab, endpoint.container) ? endpoint.aliases : [endpoint.container, ...endpoint.aliases]

/** the network's endpoints the asker's resolver knows: on every host for a swarm network, else on its own */
const knownEndpoints = (lab: LabState, host: number, record: NetworkRecord): Array<Endpoint> => {
  const states = record.network.scope === "swarm" ? lab.hostStates : [hostState(lab, host)]
  return states.flatMap((state) => {
    const copy = networkRecord(state, record.network.name)
    return copy === undefined
      ? []
      : IntTrie.values(copy.endpoints).filter((endpoint) => !isSystemSandbox(endpoint.container) && !isGatewayLeg(lab, endpoint.container, endpoint))
  })
}

/**
 * The networks `from`'s resolver asks, in its order: libnetwork's ResolveName asks a sandbox's
 * swarm networks before its local ones, each in resolver order. A service's name is a record of
 * these networks too (svcRecords), so the first of them the service is on answers it.
 */
export const resolverNetworks = (lab: LabState, from: string): ReadonlyArray<string> => {
  const host = StringMap.get(lab.placement, from)
  const source = host === undefined ? undefined : containerRecord(hostState(lab, host), from)
  if (host === undefined || source === undefined) return []
  return swarmFirst(resolverOrder(hostState(lab, host), listedEndpoints(lab, source))).map((record) => record.network.name)
}

const swarmFirst = (ordered: ReadonlyArray<NetworkRecord>): Array<NetworkRecord> => [
  ...ordered.filter((record) => record.network.scope === "swarm"),
  ...ordered.filter((record) => record.network.scope !== "swarm"),
]

/** container `from`'s resolver asked for `name`: the sorted addresses, [] when it does not answer */
export const predictLabResolve = (lab: LabState, from: string, name: string): ReadonlyArray<string> => {
  for (const reading of readingsOf(name)) {
    const addresses = resolveReading(lab, from, reading)
    if (addresses.length > 0) return addresses
  }
  return []
}

/** one reading of a query (readingsOf) among the containers and aliases `from`'s resolver knows: the sorted addresses, [] when none */
export const resolveReading = (lab: LabState, from: string, reading: NameQuery): ReadonlyArray<string> => {
  const host = StringMap.get(lab.placement, from)
  if (host === undefined) return []
  const state = hostState(lab, host)
  const source = containerRecord(state, from)
  if (source === undefined) return []
  // libnetwork's ResolveName asks a sandbox's swarm networks before its local ones, each in resolver order
  const networks = swarmFirst(resolverOrder(state, listedEndpoints(lab, source)))
  for (const record of networks) {
    if (reading.network !== undefined && reading.network !== record.network.name) continue
    const addresses = knownEndpoints(lab, host, record)
      .filter((endpoint) => endpoint.address !== undefined && embeddedDnsNames(lab, endpoint).some((known) => known.toLowerCase() === reading.name))
      .map((endpoint) => parseIPv4(stripPrefix(endpoint.address as string)) as number)
    if (addresses.length > 0) return addresses.sort((a, b) => a - b).map(formatIPv4)
  }
  return []
}
