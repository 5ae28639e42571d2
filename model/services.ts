/**
 * Swarm services as Docker 20.10's manager runs them, on the lab: a VIP per network in vip mode
 * (taken from the network's one book before any replica's address, as swarm's allocator does
 * allocateService before allocateTask), replicas `api.1` … as containers on their placed hosts,
 * and ingress-mode ports published on every host (the routing mesh). VIP and routing-mesh
 * services cannot run under Docker on this kernel (no ip_vs); their semantics come from
 * libnetwork's source (service_linux.go, cnm-libnetwork.md §8.3). All or nothing: a refused
 * service leaves the lab as it was.
 */
import { formatIPv4, parseIPv4, stripPrefix } from "./cidr.ts"
import { cnmError } from "./errors.ts"
import type { CnmError } from "./errors.ts"
import { allocateDynamic, release } from "./ipam.ts"
import { createLabContainer, removeLabContainer } from "./lab-container-ops.ts"
import { settleLoadBalancer } from "./lab-sandboxes.ts"
import { hostIndex, hostState, ingressNetwork, labFail, labSucceed, labWith, syncSwarmBook, withHostState } from "./lab-store.ts"
import type { LabOutcome, LabState } from "./lab-types.ts"
import { labEndpointsOf } from "./lab-queries.ts"
import { allocatePorts, parseServing, takenSockets } from "./ports.ts"
import { NetworkRecordValue, networkRecord, putNetworkRecord } from "./representation.ts"
import type { EndpointMode, PortBinding, ServiceRecord } from "./service-types.ts"
import * as StringMap from "./string-map.ts"

/** the holder a VIP has in its network's book: no container's sequence number, not the gateway */
export const vipHolder = -3

/** swarm's dynamic range for ingress ports published without a number */
export const ingressDynamicPorts = { start: 30000, end: 32767 } as const

export interface ServiceRequest {
  readonly name: string
  readonly networks: ReadonlyArray<string>
  /** the host of each replica, in order */
  readonly placement: ReadonlyArray<string>
  readonly endpointMode?: EndpointMode
  readonly listen?: ReadonlyArray<string>
  readonly ports?: ReadonlyArray<string>
}

/** replica names, as the contract names them */
export const replicaName = (service: string, index: number): string => `${service}.${index + 1}`

const refused = (error: CnmError) => ({ ok: false as const, error })

/** a VIP taken from the swarm network's book, every host's copy updated */
const takeVip = (lab: LabState, network: string): { lab: LabState; vip: string } | undefined => {
  const record = networkRecord(hostState(lab, 0), network)
  const book = record?.addresses
  if (record === undefined || book === undefined) return undefined
  const allocation = allocateDynamic(book, vipHolder)
  if (allocation === undefined) return undefined
  const updated = putNetworkRecord(hostState(lab, 0), new NetworkRecordValue(record.network, allocation.book, record.endpoints))
  const withBook = withHostState(lab, 0, updated)
  return { lab: syncSwarmBook(withBook, network, 0), vip: formatIPv4(allocation.address) }
}

const giveVipBack = (lab: LabState, network: string, vip: string): LabState => {
  const record = networkRecord(hostState(lab, 0), network)
  const address = parseIPv4(vip)
  if (record?.addresses === undefined || address === undefined) return lab
  const updated = putNetworkRecord(hostState(lab, 0), new NetworkRecordValue(record.network, release(record.addresses, address), record.endpoints))
  return syncSwarmBook(withHostState(lab, 0, updated), network, 0)
}

/**
 * The local networks swarm knows as its own (swarmkit's predefined networks): a service may use them,
 * each task on its own host's network of that name, with no VIP and no load balancer
 */
const swarmKnownLocalNetworks: ReadonlyArray<string> = ["bridge", "host"]

const isSwarmNetwork = (lab: LabState, name: string): boolean => networkRecord(hostState(lab, 0), name)?.network.scope === "swarm"

/**
 * The CLI's look-up of a service's networks, before it sends the request: each name among the
 * swarm's networks, so a user's local network (or `none`) is "No such network", as one nobody made.
 * `ingress` is found there; the manager refuses it later (ingressProblem).
 */
const unknownNetwork = (lab: LabState, networks: ReadonlyArray<string>): CnmError | undefined => {
  const unknown = networks.find(
    (name) => name !== ingressNetwork && !(networkRecord(hostState(lab, 0), name) !== undefined && (isSwarmNetwork(lab, name) || swarmKnownLocalNetworks.includes(name))),
  )
  return unknown === undefined ? undefined : cnmError("NetworkNotFound", `No such network: ${unknown}`)
}

const ingressProblem = (networks: ReadonlyArray<string>): CnmError | undefined =>
  networks.includes(ingressNetwork) ? cnmError("PredefinedNetwork", "service cannot be explicitly attached to the ingress network") : undefined

const placementProblem = (lab: LabState, placement: ReadonlyArray<string>): CnmError | undefined => {
  const unknown = placement.find((host) => hostIndex(lab, host) === undefined)
  return unknown === undefined ? undefined : cnmError("InvalidName", `no such host: ${unknown}`)
}

/** a task's networks: `ingress` first when the service publishes ports (as `docker inspect` lists a task) */
const taskNetworks = (networks: ReadonlyArray<string>, publishes: boolean): Array<{ network: string }> =>
  [...(publishes ? [ingressNetwork] : []), ...networks].map((network) => ({ network }))

/** creates the replicas from `from` on (all or nothing is the caller's: it keeps the lab it started from) */
const startReplicas = (
  lab: LabState,
  service: { name: string; networks: ReadonlyArray<string>; listen: ReadonlyArray<string>; publishes: boolean },
  placement: ReadonlyArray<string>,
  from: number,
): LabOutcome<ReadonlyArray<string>> => {
  let current = lab
  const names: Array<string> = []
  for (let index = from; index < placement.length; index++) {
    const name = replicaName(service.name, index)
    const created = createLabContainer(
      current,
      { name, host: placement[index] as string, networks: taskNetworks(service.networks, service.publishes), listen: service.listen },
      "task",
    )
    if (!created.ok) return refused(created.error)
    current = created.lab
    names.push(name)
  }
  const balanced = settleBalancers(current, placement, service.networks)
  return balanced.ok ? labSucceed(balanced.lab, names) : balanced
}

/**
 * swarmkit's rule for a service's name (controlapi validateAnnotations): one DNS label, since the name
 * is what the embedded DNS answers. Stricter than a container's: no dot, nothing but a letter or
 * digit at either end, 63 characters at most.
 */
// swarmkit states it with nested repetition, harmless in Go's linear engine; in JavaScript that form
// backtracks exponentially (a 40-character name ending in a dot never returns), so the same
// language here: a letter or digit first and last, letters, digits, '-' and '_' between
const dnsLabel = /^[a-zA-Z0-9](?:[-_a-zA-Z0-9]*[a-zA-Z0-9])?$/
const serviceNameProblem = (name: string): CnmError | undefined =>
  name === ""
    ? cnmError("InvalidName", "rpc error: code = InvalidArgument desc = meta: name must be provided")
    : !dnsLabel.test(name)
      ? cnmError("InvalidName", "rpc error: code = InvalidArgument desc = name must be valid as a DNS name component")
      : name.length > 63
        ? cnmError("InvalidName", "rpc error: code = InvalidArgument desc = name must be 63 characters or fewer")
        : undefined

/** `docker service create` */
export const createLabService = (lab: LabState, request: ServiceRequest): LabOutcome<ServiceRecord> => {
  // Docker's order (recorded on Docker 20.10: swarm-service-errors-midrun, requests that break two
  // rules): the CLI parses the ports and looks the networks up; then the manager validates the
  // spec (swarmkit CreateService: the name, then the endpoint), refuses `ingress`, checks the
  // published ports against other services', and only then finds the name taken
  const serving = parseServing(request.ports, request.listen)
  if (!serving.ok) return refused(serving.error)
  const withIp = serving.value.mappings.find((mapping) => mapping.hostIp !== "")
  if (withIp !== undefined) return labFail("InvalidPort", `a service publishes on every address of every host: ${withIp.hostIp} is not allowed`)
  if (lab.swarm === undefined) return labFail("SwarmRequired", "This node is not a swarm manager.")
  const lookedUp = unknownNetwork(lab, request.networks) ?? serviceNameProblem(request.name)
  if (lookedUp !== undefined) return refused(lookedUp)
  const endpointMode = request.endpointMode ?? "vip"
  if (endpointMode === "dnsrr" && serving.value.mappings.length > 0) {
    return labFail("InvalidPort", "EndpointSpec: port published with ingress mode can't be used with dnsrr mode")
  }
  const problem = ingressProblem(request.networks) ?? placementProblem(lab, request.placement)
  if (problem !== undefined) return refused(problem)

  // the routing mesh publishes on every host, with swarm's own dynamic range for unnumbered ports
  const ports: Array<PortBinding> = []
  for (const [host] of lab.hosts.entries()) {
    const mappings = serving.value.mappings.map((mapping) => (mapping.hostPorts === undefined ? { ...mapping, hostPorts: ingressDynamicPorts } : mapping))
    // every host gets the port the first host got: swarm allocates one PublishedPort per service
    const pinned = host === 0 ? mappings : mappings.map((mapping, index) => ({ ...mapping, hostPorts: { start: (ports[index] as PortBinding).hostPort, end: (ports[index] as PortBinding).hostPort } }))
    const allocated = allocatePorts([...takenSockets(lab), ...ports], StringMap.empty(), { container: request.name, host, network: ingressNetwork, endpoint: request.name }, pinned)
    if (!allocated.ok) return refused(allocated.error)
    ports.push(...allocated.value.bindings)
  }
  if (StringMap.has(lab.services, request.name)) return labFail("ContainerNameConflict", `rpc error: name conflicts with an existing object: service ${request.name} already exists`)

  let current = lab
  const vips: Record<string, string> = {}
  // swarm allocates VIPs on its own networks only: a predefined local network has no IPAM of swarm's
  const vipNetworks = endpointMode === "vip" ? [...request.networks.filter((network) => isSwarmNetwork(lab, network)), ...(ports.length > 0 ? [ingressNetwork] : [])] : []
  for (const network of vipNetworks) {
    const taken = takeVip(current, network)
    if (taken === undefined) return labFail("PoolExhausted", `could not allocate a VIP for service ${request.name} on network ${network}`)
    current = taken.lab
    vips[network] = taken.vip
  }
  const started = startReplicas(
    current,
    { name: request.name, networks: request.networks, listen: request.listen ?? [], publishes: ports.length > 0 },
    request.placement,
    0,
  )
  if (!started.ok) return started
  const record: ServiceRecord = {
    name: request.name,
    networks: [...request.networks],
    endpointMode,
    vips,
    replicas: started.value,
    listen: serving.value.listen,
    ports,
    mappings: serving.value.mappings,
  }
  return labSucceed({ ...started.lab, services: StringMap.set(started.lab.services, request.name, record) }, record)
}

const noSuchService = (name: string) => labFail("ContainerNotFound", `service ${name} not found`)

/** `docker service rm`: replicas go, VIPs go back to their books, the routing mesh forgets the ports */
export const removeLabService = (lab: LabState, name: string): LabOutcome<ServiceRecord> => {
  const service = StringMap.get(lab.services, name)
  if (service === undefined) return noSuchService(name)
  let current = lab
  for (const replica of service.replicas) {
    const removed = removeLabContainer(current, replica)
    if (!removed.ok) return refused(removed.error)
    current = removed.lab
  }
  for (const [network, vip] of Object.entries(service.vips)) current = giveVipBack(current, network, vip)
  return labSucceed(labWith(current, { services: StringMap.remove(current.services, name) }), service)
}

/**
 * `docker service scale` with a placement: replicas past the new count go (the last first);
 * a replica whose host the placement changes starts again there; new ones start in order.
 */
export const scaleLabService = (lab: LabState, name: string, placement: ReadonlyArray<string>): LabOutcome<ServiceRecord> => {
  const service = StringMap.get(lab.services, name)
  if (service === undefined) return noSuchService(name)
  const problem = placementProblem(lab, placement)
  if (problem !== undefined) return refused(problem)
  let current = lab
  for (const [index, replica] of [...service.replicas.entries()].reverse()) {
    if (hostOfReplica(current, replica) === placement[index]) continue
    const removed = removeLabContainer(current, replica)
    if (!removed.ok) return refused(removed.error)
    current = removed.lab
  }
  // replicas are numbered by position: any gap is refilled at its own index
  let next = current
  const replicas: Array<string> = []
  for (let index = 0; index < placement.length; index++) {
    const replica = replicaName(name, index)
    if (StringMap.has(next.placement, replica)) {
      replicas.push(replica)
      continue
    }
    const created = createLabContainer(
      next,
      { name: replica, host: placement[index] as string, networks: taskNetworks(service.networks, service.ports.length > 0), listen: service.listen.map((entry) => `${entry.port}/${entry.proto}`) },
      "task",
    )
    if (!created.ok) return refused(created.error)
    next = created.lab
    replicas.push(replica)
  }
  const balanced = settleBalancers(next, placement, service.networks)
  if (!balanced.ok) return balanced
  next = balanced.lab
  const record: ServiceRecord = { ...service, replicas }
  return labSucceed(labWith(next, { services: StringMap.set(next.services, name, record) }), record)
}

/**
 * The hosts that took replicas take their load-balancer addresses after them, in host order, and
 * those that lost their last one give theirs back. A host whose balancer finds no address left
 * refuses the whole change (PoolExhausted): a host with a task on a network has its balancer there
 * (the lab invariant), and a VIP with no balancer on the client's host answers nobody.
 */
const settleBalancers = (lab: LabState, placement: ReadonlyArray<string>, networks: ReadonlyArray<string>): LabOutcome<undefined> => {
  let current = lab
  const hosts = [...new Set(placement)].map((host) => hostIndex(lab, host) as number).sort((a, b) => a - b)
  for (const index of hosts) {
    for (const network of networks) {
      const settled = settleLoadBalancer(syncSwarmBook(current, network, index), index, network)
      if (!settled.ok) return refused(settled.error)
      current = settled.lab
    }
  }
  return labSucceed(current, undefined)
}

const hostOfReplica = (lab: LabState, replica: string): string | undefined => {
  const index = StringMap.get(lab.placement, replica)
  return index === undefined ? undefined : lab.hosts[index]?.name
}

/** the addresses of a service's replicas on one network, in replica order */
export const replicaAddresses = (lab: LabState, service: ServiceRecord, network: string): Array<{ replica: string; address: string }> =>
  service.replicas.flatMap((replica) =>
    labEndpointsOf(lab, replica)
      .filter((endpoint) => endpoint.network === network && endpoint.address !== undefined)
      .map((endpoint) => ({ replica, address: stripPrefix(endpoint.address as string) })),
  )

/** the lab's services, by name */
export const labServices = (lab: LabState): ReadonlyArray<ServiceRecord> =>
  StringMap.values(lab.services).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
