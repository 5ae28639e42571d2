/**
 * Containers and their endpoints: createContainer, removeContainer, connect, disconnect, with
 * Docker 20.10's refusals in Docker's order (docs/docker-20.10.md §3.2). An endpoint is written
 * in two places, the container record (the truth) and its network's indexes (endpoints by
 * container, address book); every function here updates both or neither.
 */
import { formatIPv4, parseIPv4, parseCidrWithAddress } from "./cidr.ts"
import {
  type AddressBook,
  type Allocation,
  allocateDynamic,
  allocateStatic,
  endpointAddressText,
  macForAddress,
  release,
} from "./ipam.ts"
import * as IntTrie from "./int-trie.ts"
import { mtuProblem } from "./options.ts"
import {
  type Checked,
  type CnmState,
  type ContainerRecord,
  type NetworkRecord,
  type Outcome,
  type Refusal,
  accept,
  containerRecord,
  dropContainerRecord,
  fail,
  networkRecord,
  putContainerRecord,
  putNetworkRecord,
  succeed,
} from "./representation.ts"
import type { AttachRequest, Container, ContainerRequest, Endpoint } from "./types.ts"

/** Docker's container name rule (daemon/names.go) */
const containerNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

/** a copy with one more item (Array.prototype.concat is slow in V8: it checks every argument for spreadability) */
const appended = <A>(items: ReadonlyArray<A>, item: A): Array<A> => {
  const copy = items.slice()
  copy.push(item)
  return copy
}

/** containers and their network lists are shared by later states: frozen, like networks and endpoints */
const frozenContainer = (name: string, networks: Array<string>): Container =>
  Object.freeze({ name, networks: Object.freeze(networks) })

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
  // written out in full, in one order: endpoints are the most numerous objects, keep them one shape.
  // Frozen like everything a state hands out: later states share them.
  const endpoint: Endpoint = {
    container: container.container.name,
    network: network.network.name,
    aliases,
    address: endpointAddressText(allocated.address, book.subnet),
    mac: macForAddress(allocated.address),
    ifname: `eth${container.nextInterface}`,
    staticAddress: request.ip !== undefined,
  }
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
  const onHost = container.endpoints.some((endpoint) => hostDriver(networkRecord(state, endpoint.network)))
  if (hostDriver(network) && !onHost) {
    return fail("HostNetworkExclusive", "container cannot be disconnected from host network or connected to host network")
  }
  for (const endpoint of container.endpoints) {
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
  if (container.endpoints.some((endpoint) => endpoint.network === network.network.name)) {
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
const attach = (state: CnmState, container: ContainerRecord, request: AttachRequest, first: boolean): Checked<Attached> => {
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
  const updatedContainer: ContainerRecord = {
    seq: container.seq,
    container: frozenContainer(container.container.name, appended(container.container.networks, network.network.name)),
    endpoints: Object.freeze(appended(container.endpoints, endpoint)),
    nextInterface: endpoint.ifname === undefined ? container.nextInterface : container.nextInterface + 1,
  }
  const updatedNetwork: NetworkRecord = {
    network: network.network,
    addresses: created.value.addresses,
    endpoints: IntTrie.set(network.endpoints, container.seq, endpoint),
  }
  const next = putContainerRecord(putNetworkRecord(state, updatedNetwork), updatedContainer)
  return accept({ state: next, container: updatedContainer, endpoint })
}

/** takes the endpoint out of its network's indexes; the container record is the caller's business */
const detachFromNetwork = (state: CnmState, container: ContainerRecord, endpoint: Endpoint): CnmState => {
  const network = networkRecord(state, endpoint.network)
  if (network === undefined) return state
  const address = endpoint.address === undefined ? undefined : parseCidrWithAddress(endpoint.address)?.address
  return putNetworkRecord(state, {
    network: network.network,
    addresses: network.addresses === undefined || address === undefined ? network.addresses : release(network.addresses, address),
    endpoints: IntTrie.remove(network.endpoints, container.seq),
  })
}

export interface ContainerWithEndpoints {
  readonly container: Container
  readonly endpoints: ReadonlyArray<Endpoint>
}

export const createContainer = (state: CnmState, request: ContainerRequest): Outcome<ContainerWithEndpoints> => {
  const { name } = request
  if (!containerNamePattern.test(name)) {
    return fail("InvalidName", `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
  }
  if (containerRecord(state, name) !== undefined) {
    return fail("ContainerNameConflict", `Conflict. The container name "/${name}" is already in use`)
  }
  let container: ContainerRecord = {
    seq: state.nextContainerSeq,
    container: frozenContainer(name, []),
    endpoints: [],
    nextInterface: 0,
  }
  let next = putContainerRecord({ ...state, nextContainerSeq: state.nextContainerSeq + 1 }, container)
  const requested = request.networks === undefined || request.networks.length === 0 ? [{ network: "bridge" }] : request.networks
  // as the recorder makes it on Docker 20.10 (API 1.41 takes one network at creation): `docker
  // run` with the first network, then `docker network connect` for each further one
  for (const [index, attachRequest] of requested.entries()) {
    const attached = attach(next, container, attachRequest, index === 0)
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
  for (const endpoint of container.endpoints) next = detachFromNetwork(next, container, endpoint)
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
  const endpoint = container.endpoints.find((candidate) => candidate.network === networkName)
  if (endpoint !== undefined && network.network.driver === "host") {
    return fail("HostNetworkExclusive", "container cannot be disconnected from host network or connected to host network")
  }
  if (endpoint === undefined) {
    return fail("NotConnected", `container ${containerName} is not connected to network ${networkName}`)
  }
  const remaining = Object.freeze(container.endpoints.filter((candidate) => candidate !== endpoint))
  const updated: ContainerRecord = {
    seq: container.seq,
    container: frozenContainer(
      containerName,
      remaining.map((candidate) => candidate.network),
    ),
    endpoints: remaining,
    nextInterface: container.nextInterface,
  }
  return succeed(putContainerRecord(detachFromNetwork(state, container, endpoint), updated), endpoint)
}
