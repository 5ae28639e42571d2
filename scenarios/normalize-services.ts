/**
 * The normalized form of the contract's ports-and-services keys: services with their placement
 * filled in, and `connect` rows with `to` split into what it names and the port to try.
 */
import { parseIPv4 } from "../model/cidr.ts"
import type { ConnectEntry, ConnectExpectation, ConnectTarget, ServiceEntry, ServiceSpec } from "./schema-services.ts"

/** the name a connect row uses for the machine beyond the hosts */
export const outsideName = "outside"

/** a service's replicas when the file does not say: one, as `docker service create` makes */
const defaultReplicas = 1

/**
 * Where the replicas go when the file gives no placement: round robin over the hosts in order.
 * Swarm's scheduler spreads a service's tasks over the nodes with the fewest of them, which on
 * hosts with nothing else scheduled is this order.
 */
export const roundRobinPlacement = (replicas: number, hosts: ReadonlyArray<string>): Array<string> =>
  Array.from({ length: replicas }, (_, index) => hosts[index % hosts.length] as string)

export const normalizeService = (service: ServiceEntry, hosts: ReadonlyArray<string>): ServiceSpec => {
  const replicas = service.replicas ?? service.placement?.length ?? defaultReplicas
  return {
    name: service.name,
    networks: [...(service.networks ?? [])],
    replicas,
    placement: service.placement !== undefined ? [...service.placement] : roundRobinPlacement(replicas, hosts),
    endpointMode: service.endpointMode ?? "vip",
    listen: [...(service.listen ?? [])],
    ports: [...(service.ports ?? [])],
  }
}

/** `to` as written → what it names, and the port it carries (`host1:8080`, `10.0.0.5:80`) */
export const splitConnectTarget = (to: string, hosts: ReadonlySet<string>): { target: ConnectTarget; port?: number } => {
  if (to === outsideName) return { target: { kind: "outside" } }
  const colon = to.lastIndexOf(":")
  const [name, portText] = colon === -1 ? [to, undefined] : [to.slice(0, colon), to.slice(colon + 1)]
  const port = portText !== undefined && /^[0-9]+$/.test(portText) ? Number(portText) : undefined
  const carried = port !== undefined ? { port } : {}
  if (parseIPv4(name) !== undefined) return { target: { kind: "address", address: name }, ...carried }
  if (hosts.has(name) && port !== undefined) return { target: { kind: "hostPort", host: name }, ...carried }
  return { target: { kind: "name", name: to } }
}

/** assumes rules.ts found a port (in `port` or in `to`) */
export const normalizeConnect = (entry: ConnectEntry, hosts: ReadonlySet<string>): ConnectExpectation => {
  const { target, port } = splitConnectTarget(entry.to, hosts)
  return {
    from: entry.from,
    to: entry.to,
    target,
    port: entry.port ?? (port as number),
    proto: entry.proto ?? "tcp",
    ...(entry.network !== undefined && { network: entry.network }),
    ...(entry.answeredBy !== undefined && { answeredBy: entry.answeredBy }),
    ...(entry.count !== undefined && { count: entry.count }),
    ...(entry.spread !== undefined && { spread: [...entry.spread] }),
    ...(entry.seenFrom !== undefined && { seenFrom: entry.seenFrom }),
    ...(entry.outcome !== undefined && { outcome: entry.outcome }),
  }
}
