/**
 * Containers and their endpoints: createContainer, removeContainer, connect, disconnect, with
 * Docker 20.10's refusals in Docker's order (docs/docker-20.10.md §3.2). An endpoint is written
 * in two places, the container record (the truth) and its network's indexes (endpoints by
 * container, address book); every function here updates both or neither.
 */
import { formatIPv4, parseIPv4, parseIPv4Prefix } from "./cidr.ts"
import {
  type AddressBook,
  type Allocation,
  allocateDynamic,
  allocateStatic,
  endpointAddressText,
  macForAddress,
  release,
} from "./ipam.ts"
import { appended } from "./arrays.ts"
import * as IntTrie from "./int-trie.ts"
import { mtuProblem } from "./options.ts"
import {
  type Checked,
  type CnmState,
  type ContainerRecord,
  type NetworkRecord,
  NetworkRecordValue,
  type Outcome,
  type Refusal,
  accept,
  containerRecord,
  dropContainerRecord,
  fail,
  networkRecord,
  putEndpointRecords,
  putNetworkRecord,
  succeed,
} from "./representation.ts"
import type { AttachRequest, Container, ContainerRequest, Endpoint } from "./types.ts"

/** Docker's container name rule (daemon/names.go) */
const containerNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

/** the interface names containers use, made once: a container rarely has more than a few */
const interfaceNames: ReadonlyArray<string> = Array.from({ length: 16 }, (_, n) => `eth${n}`)

const interfaceName = (n: number): string => interfaceNames[n] ?? `eth${n}`

/*
 * The records every container operation builds again are class instances, not object literals:
 * see arrays.ts for why that matters to V8. Their arrays are frozen, and V8's array builtins and
 * for-of take a slow path on frozen arrays (find, filter, for-of: five to ten times slower,
 * measured), so the hot paths below walk them by index.
 */

class ContainerValue implements Container {
  constructor(
    readonly name: string,
    readonly networks: ReadonlyArray<string>,
  ) {}
}

/** containers and their network lists are shared by later states: frozen, like networks and endpoints */
const frozenContainer = (name: string, networks: Array<string>): Container =>
  Object.freeze(new ContainerValue(name, Object.freeze(networks)))

class ContainerRecordValue implements ContainerRecord {
  constructor(
    readonly seq: number,
    readonly container: Container,
    readonly endpoints: ReadonlyArray<Endpoint>,
    readonly nextInterface: number,
  ) {}
}

/** an endpoint with an address (every one but those on host and none): all fields, in one order */
class AddressedEndpoint implements Endpoint {
  constructor(
    readonly container: string,
    readonly network: string,
    readonly aliases: ReadonlyArray<string>,
    readonly address: string,
    readonly mac: string,
    readonly ifname: string,
    readonly staticAddress: boolean,
  ) {}
}

const noAliases: ReadonlyArray<string> = Object.freeze([])

const staticAddressRefusal = (network: NetworkRecord, request: AttachRequest): Refusal | undefined => {
  if (request.ip === undefined) return undefined
  if (network.network.predefined) {
    return fail("StaticAddressNeedsSubnet", "user specified IP address is supported on user defined networks only")
  }
  if (network.addresses === undefined || !network.network.userSubnet) {
    return fail(
      "StaticAddressNeedsSubnet",
      "user specified IP address is supported only when connecting to networks with user configured subnets",
    )
  }
  return undefined
}

interface Addressing {
  /** the network's address book with the endpoint's address taken; undefined on host and none */
  readonly addresses: AddressBook | undefined
  readonly endpoint: Endpoint
}

/**
 * libnetwork's CreateEndpoint for one new endpoint: IPAM, and the interface in the sandbox. Host
 * and none give no address and no interface. An interface takes the sandbox's next number.
 */
const createEndpoint = (container: ContainerRecord, network: NetworkRecord, request: AttachRequest): Checked<Addressing> => {
  const book = network.addresses
  const aliases = request.aliases === undefined ? noAliases : Object.freeze([...request.aliases])
  if (book === undefined) {
    const endpoint: Endpoint = {
      container: container.container.name,
      network: network.network.name,
      aliases,
      staticAddress: false,
    }
    return accept({ addresses: undefined, endpoint: Object.freeze(endpoint) })
  }

  let allocated: Allocation
  if (request.ip !== undefined) {
    const wanted = parseIPv4(request.ip)
    if (wanted === undefined) return fail("AddressOutOfRange", `Invalid address ${request.ip}: not an IPv4 address`)
    const result = allocateStatic(book, wanted, container.seq)
    if (result === "AddressOutOfRange") {
      return fail("AddressOutOfRange", `Invalid address ${request.ip}: It does not belong to any of this network's subnets`)
    }
    if (result === "PoolExhausted") return fail("PoolExhausted", "No available addresses on this pool")
    if (result === "AddressInUse") return fail("AddressInUse", `Address already in use: ${formatIPv4(wanted)}`)
    allocated = result
  } else {
    const result = allocateDynamic(book, container.seq)
    if (result === undefined) {
      return fail(
        "PoolExhausted",
        `no available IPv4 addresses on this network's address pools: ${network.network.name} (${network.network.id})`,
      )
    }
    allocated = result
  }
  // libnetwork books the address before the driver builds the veth, whose MTU the kernel refuses
  const mtuRefusal = mtuProblem(network.network.driver, network.network.options)
  if (mtuRefusal !== undefined) {
    const where = `endpoint ${container.container.name} on network ${network.network.name}`
    return fail("InvalidOption", `failed to create ${where}: ${mtuRefusal}`)
  }
  // Frozen like everything a state hands out: later states share them.
  const endpoint = new AddressedEndpoint(
    container.container.name,
    network.network.name,
    aliases,
    endpointAddressText(allocated.address, book.subnet),
    macForAddress(allocated.address),
    interfaceName(container.nextInterface),
    request.ip !== undefined,
  )
  return accept({ addresses: allocated.book, endpoint: Object.freeze(endpoint) })
}

const hostDriver = (network: NetworkRecord | undefined): boolean => network?.network.driver === "host"
const nullDriver = (network: NetworkRecord | undefined): boolean => network?.network.driver === "null"

/**
 * What the daemon checks before it creates an endpoint on a running container (daemon
 * updateNetworkSettings), as measured on Docker 20.10: only a container created on `host` may be
 * on `host`; then, against each network the container is on, the same network means "already
 * there" (the endpoint's creation then fails with EndpointExists, host and none included), a
 * `host` on either side means the namespace is shared, and `none` on either side is exclusive.
 */
const connectRefusal = (state: CnmState, container: ContainerRecord, network: NetworkRecord): Refusal | undefined => {
  const endpoints = container.endpoints
  if (hostDriver(network) && !endpoints.some((endpoint) => hostDriver(networkRecord(state, endpoint.network)))) {
    return fail("HostNetworkExclusive", "container cannot be disconnected from host network or connected to host network")
  }
  for (let index = 0; index < endpoints.length; index++) {
    const endpoint = endpoints[index] as Endpoint
    if (endpoint.network === network.network.name) break
    const current = networkRecord(state, endpoint.network)
    if (hostDriver(current) || hostDriver(network)) {
      return fail(
        "HostNetworkExclusive",
        "container sharing network namespace with another container or host cannot be connected to any other network",
      )
    }
    if (nullDriver(current) || nullDriver(network)) {
      return fail(
        "NoneNetworkExclusive",
        "container cannot be connected to multiple networks with one of the networks in private (none) mode",
      )
    }
  }
  for (let index = 0; index < endpoints.length; index++) {
    if ((endpoints[index] as Endpoint).network !== network.network.name) continue
    const { name } = container.container
    return fail("EndpointExists", `endpoint with name ${name} already exists in network ${network.network.name}`)
  }
  return undefined
}

interface Attached {
  readonly state: CnmState
  readonly container: ContainerRecord
  readonly endpoint: Endpoint
}

/**
 * One endpoint for one container, with Docker 20.10's checks in its order: the network, a static
 * address only where a user subnet allows it, then (`docker network connect`, and every network
 * of a new container after its first) the rules of connectRefusal, then the endpoint itself.
 * The first network of a new container is what `docker run --network` starts it with: no
 * exclusivity applies to it, `host` and `none` included.
 */
const attach = (
  state: CnmState,
  container: ContainerRecord,
  request: AttachRequest,
  first: boolean,
  nextContainerSeq: number = state.nextContainerSeq,
): Checked<Attached> => {
  const network = networkRecord(state, request.network)
  if (network === undefined) return fail("NetworkNotFound", `network ${request.network} not found`)
  const staticRefusal = staticAddressRefusal(network, request)
  if (staticRefusal !== undefined) return staticRefusal
  if (!first) {
    const refusal = connectRefusal(state, container, network)
    if (refusal !== undefined) return refusal
  }
  const created = createEndpoint(container, network, request)
  if (!created.ok) return created
  const { endpoint } = created.value
  const updatedContainer = new ContainerRecordValue(
    container.seq,
    frozenContainer(container.container.name, appended(container.container.networks, network.network.name)),
    Object.freeze(appended(container.endpoints, endpoint)),
    endpoint.ifname === undefined ? container.nextInterface : container.nextInterface + 1,
  )
  const updatedNetwork = new NetworkRecordValue(
    network.network,
    created.value.addresses,
    IntTrie.set(network.endpoints, container.seq, endpoint),
  )
  const next = putEndpointRecords(state, updatedNetwork, updatedContainer, nextContainerSeq)
  return accept({ state: next, container: updatedContainer, endpoint })
}

/** the endpoint's network record without it (its indexes); undefined when the network is gone */
const detachedNetwork = (
  state: CnmState,
  container: ContainerRecord,
  endpoint: Endpoint,
  network: NetworkRecord | undefined = networkRecord(state, endpoint.network),
): NetworkRecord | undefined => {
  if (network === undefined) return undefined
  const address = endpoint.address === undefined ? undefined : parseIPv4Prefix(endpoint.address)
  return new NetworkRecordValue(
    network.network,
    network.addresses === undefined || address === undefined ? network.addresses : release(network.addresses, address),
    IntTrie.remove(network.endpoints, container.seq),
  )
}

/** takes the endpoint out of its network's indexes; the container record is the caller's business */
const detachFromNetwork = (state: CnmState, container: ContainerRecord, endpoint: Endpoint): CnmState => {
  const detached = detachedNetwork(state, container, endpoint)
  return detached === undefined ? state : putNetworkRecord(state, detached)
}

export interface ContainerWithEndpoints {
  readonly container: Container
  readonly endpoints: ReadonlyArray<Endpoint>
}

const noEndpoints: ReadonlyArray<Endpoint> = Object.freeze([])

const noNetworks: ReadonlyArray<string> = Object.freeze([])

const defaultNetworkRequest: ReadonlyArray<AttachRequest> = Object.freeze([Object.freeze({ network: "bridge" })])

/**
 * `docker run --network default` is the network mode Docker gives a container when none is named:
 * it lands on `bridge` (measured on 20.10: inspect shows NetworkMode "default" and an endpoint on
 * bridge; `--ip` with it is refused as on bridge). Only `docker run` reads it so: `docker network
 * connect default` and `disconnect default` answer "network default not found", as for any name
 * that is no network.
 */
const defaultModeName = "default"

const asRunNetwork = (request: AttachRequest): AttachRequest =>
  request.network === defaultModeName ? { ...request, network: "bridge" } : request

/** Docker's refusal of a container name, if it refuses it */
export const containerNameProblem = (name: string): Refusal | undefined =>
  containerNamePattern.test(name)
    ? undefined
    : fail("InvalidName", `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)

export const createContainer = (state: CnmState, request: ContainerRequest): Outcome<ContainerWithEndpoints> =>
  containerNameProblem(request.name) ?? createSandbox(state, request)

/**
 * A sandbox with endpoints, as createContainer makes one, without Docker's rule for container
 * names: also for the sandboxes Docker makes for itself (a swarm host's ingress sandbox, an
 * overlay network's load balancer), which take a name no container can have.
 */
export const createSandbox = (state: CnmState, request: ContainerRequest): Outcome<ContainerWithEndpoints> => {
  const { name } = request
  if (containerRecord(state, name) !== undefined) {
    return fail("ContainerNameConflict", `Conflict. The container name "/${name}" is already in use`)
  }
  // not stored until its first endpoint is: attach writes the container and that endpoint at once
  // (so this first record, never handed out, needs no freezing)
  let container: ContainerRecord = new ContainerRecordValue(state.nextContainerSeq, new ContainerValue(name, noNetworks), noEndpoints, 0)
  let next = state
  const requested = request.networks === undefined || request.networks.length === 0 ? defaultNetworkRequest : request.networks
  // as the recorder makes it on Docker 20.10 (API 1.41 takes one network at creation): `docker
  // run` with the first network, then `docker network connect` for each further one
  for (let index = 0; index < requested.length; index++) {
    const request = requested[index] as AttachRequest
    const first = index === 0
    const attached = attach(next, container, first ? asRunNetwork(request) : request, first, state.nextContainerSeq + 1)
    if (!attached.ok) return attached
    next = attached.value.state
    container = attached.value.container
  }
  return succeed(next, { container: container.container, endpoints: container.endpoints })
}

export const removeContainer = (state: CnmState, name: string): Outcome<ContainerWithEndpoints> => {
  const container = containerRecord(state, name)
  if (container === undefined) return fail("ContainerNotFound", `No such container: ${name}`)
  let next = state
  for (let index = 0; index < container.endpoints.length; index++) {
    next = detachFromNetwork(next, container, container.endpoints[index] as Endpoint)
  }
  return succeed(dropContainerRecord(next, container), { container: container.container, endpoints: container.endpoints })
}

export const connect = (state: CnmState, containerName: string, request: AttachRequest): Outcome<Endpoint> => {
  const container = containerRecord(state, containerName)
  if (container === undefined) return fail("ContainerNotFound", `No such container: ${containerName}`)
  const attached = attach(state, container, request, false)
  return attached.ok ? succeed(attached.value.state, attached.value.endpoint) : attached
}

export const disconnect = (state: CnmState, containerName: string, networkName: string): Outcome<Endpoint> => {
  const container = containerRecord(state, containerName)
  if (container === undefined) return fail("ContainerNotFound", `No such container: ${containerName}`)
  const network = networkRecord(state, networkName)
  if (network === undefined) return fail("NetworkNotFound", `network ${networkName} not found`)
  const endpoints = container.endpoints
  let endpoint: Endpoint | undefined
  for (let index = 0; index < endpoints.length && endpoint === undefined; index++) {
    if ((endpoints[index] as Endpoint).network === networkName) endpoint = endpoints[index]
  }
  if (endpoint !== undefined && network.network.driver === "host") {
    return fail("HostNetworkExclusive", "container cannot be disconnected from host network or connected to host network")
  }
  if (endpoint === undefined) {
    return fail("NotConnected", `container ${containerName} is not connected to network ${networkName}`)
  }
  const remaining = new Array<Endpoint>(endpoints.length - 1)
  const networks = new Array<string>(endpoints.length - 1)
  for (let index = 0, kept = 0; index < endpoints.length; index++) {
    const candidate = endpoints[index] as Endpoint
    if (candidate === endpoint) continue
    remaining[kept] = candidate
    networks[kept++] = candidate.network
  }
  const updated = new ContainerRecordValue(container.seq, frozenContainer(containerName, networks), Object.freeze(remaining), container.nextInterface)
  // the network exists: it was looked up above
  return succeed(putEndpointRecords(state, detachedNetwork(state, container, endpoint, network) as NetworkRecord, updated), endpoint)
}
