/**
 * Containers and their endpoints: createContainer, removeContainer, connect, disconnect, with
 * Docker 20.10's refusals. An endpoint is written in two places, the container record (the
 * truth) and its network's indexes (endpoints by container, address book); every function here
 * updates both or neither.
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
import {
  type Checked,
  type CnmState,
  type ContainerRecord,
  type NetworkRecord,
  type Outcome,
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

/**
 * Which exclusive mode the container is in, if any. Only the predefined `host` and `none`
 * networks have the host and null drivers (a second one is refused), so the names suffice.
 */
const exclusiveModeOf = (record: ContainerRecord): "host" | "null" | undefined => {
  for (const endpoint of record.endpoints) {
    if (endpoint.network === "host") return "host"
    if (endpoint.network === "none") return "null"
  }
  return undefined
}

/** lowest ethN not used by the container's current endpoints: Docker reuses gaps */
const freeInterfaceName = (endpoints: ReadonlyArray<Endpoint>): string => {
  for (let index = 0; ; index++) {
    const candidate = `eth${index}`
    if (!endpoints.some((endpoint) => endpoint.ifname === candidate)) return candidate
  }
}

const noAliases: ReadonlyArray<string> = Object.freeze([])

interface Addressing {
  /** the network's address book with the endpoint's address taken; undefined on host and none */
  readonly addresses: AddressBook | undefined
  readonly endpoint: Endpoint
}

/** IPAM for one new endpoint; host and none give no address at all */
const addressEndpoint = (container: ContainerRecord, network: NetworkRecord, request: AttachRequest): Checked<Addressing> => {
  const book = network.addresses
  const aliases = request.aliases === undefined ? noAliases : Object.freeze([...request.aliases])
  if (request.ip !== undefined && (book === undefined || !network.network.userSubnet)) {
    return fail(
      "StaticAddressNeedsSubnet",
      "user specified IP address is supported only when connecting to networks with user configured subnets",
    )
  }
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
    if (result === "AddressInUse") return fail("AddressInUse", `Address already in use: ${formatIPv4(wanted)}`)
    allocated = result
  } else {
    const result = allocateDynamic(book, container.seq)
    if (result === undefined) {
      return fail(
        "PoolExhausted",
        `no available IPv4 addresses on network ${network.network.name}: no available addresses on this pool`,
      )
    }
    allocated = result
  }
  // written out in full, in one order: endpoints are the most numerous objects, keep them one shape.
  // Frozen like everything a state hands out: later states share them.
  const endpoint: Endpoint = {
    container: container.container.name,
    network: network.network.name,
    aliases,
    address: endpointAddressText(allocated.address, book.subnet),
    mac: macForAddress(allocated.address),
    ifname: freeInterfaceName(container.endpoints),
    staticAddress: request.ip !== undefined,
  }
  return accept({ addresses: allocated.book, endpoint: Object.freeze(endpoint) })
}

interface Attached {
  readonly state: CnmState
  readonly container: ContainerRecord
  readonly endpoint: Endpoint
}

/**
 * One endpoint for one container. As measured on Docker 20.10: `host` can only be chosen when
 * the container is created, and nothing can be added to or removed from it afterwards; `none`
 * can also be connected later, but only to a container without any endpoint.
 */
const attach = (state: CnmState, container: ContainerRecord, request: AttachRequest, creating: boolean): Checked<Attached> => {
  const network = networkRecord(state, request.network)
  if (network === undefined) return fail("NetworkNotFound", `network ${request.network} not found`)
  const alone = container.endpoints.length === 0
  const name = container.container.name
  const mode = exclusiveModeOf(container)
  if (mode === "host") {
    return fail(
      "HostNetworkExclusive",
      "container sharing network namespace with another container or host cannot be connected to any other network",
    )
  }
  if (network.network.driver === "host" && !(creating && alone)) {
    return fail("HostNetworkExclusive", "container cannot be disconnected from host network or connected to host network")
  }
  if (mode === "null" || (network.network.driver === "null" && !alone)) {
    return fail(
      "NoneNetworkExclusive",
      "container cannot be connected to multiple networks with one of the networks in private (none) mode",
    )
  }
  if (container.endpoints.some((endpoint) => endpoint.network === network.network.name)) {
    return fail("EndpointExists", `endpoint with name ${name} already exists in network ${network.network.name}`)
  }
  const addressed = addressEndpoint(container, network, request)
  if (!addressed.ok) return addressed
  const { endpoint } = addressed.value
  const updatedContainer: ContainerRecord = {
    seq: container.seq,
    container: frozenContainer(name, appended(container.container.networks, network.network.name)),
    endpoints: Object.freeze(appended(container.endpoints, endpoint)),
  }
  const updatedNetwork: NetworkRecord = {
    network: network.network,
    addresses: addressed.value.addresses,
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
  let container: ContainerRecord = { seq: state.nextContainerSeq, container: frozenContainer(name, []), endpoints: [] }
  let next = putContainerRecord({ ...state, nextContainerSeq: state.nextContainerSeq + 1 }, container)
  const requested = request.networks === undefined || request.networks.length === 0 ? [{ network: "bridge" }] : request.networks
  for (const attachRequest of requested) {
    const attached = attach(next, container, attachRequest, true)
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
  }
  return succeed(putContainerRecord(detachFromNetwork(state, container, endpoint), updated), endpoint)
}
