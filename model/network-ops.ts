/**
 * createNetwork and removeNetwork with Docker 20.10's checks, in the order the 20.10 client and
 * daemon make them (docs/docker-20.10.md §3.1): first what the client checks before it sends
 * anything (an ip-range or gateway needs a subnet that holds it), then the daemon: reserved name,
 * name conflict, subnet text, driver, IPAM (ip-range, overlap or default pool, gateway), and last
 * the driver options, which the driver only reads once IPAM has succeeded.
 */
import {
  type Cidr,
  type ParsedCidr,
  cidrContains,
  cidrsOverlap,
  formatCidr,
  formatIPv4,
  parseCidrWithAddress,
  parseIPv4,
} from "./cidr.ts"
import { type AddressBook, type PoolList, gatewayProblem, localPools, nextPool, openAddressBook } from "./ipam.ts"
import { buildNetworkRecord } from "./network-record.ts"
import { optionProblem } from "./options.ts"
import {
  type Checked,
  type CnmState,
  type Outcome,
  type Refusal,
  accept,
  dropNetworkRecord,
  fail,
  failLeaving,
  networkRecord,
  putNetworkRecord,
  succeed,
} from "./representation.ts"
import * as StringMap from "./string-map.ts"
import { type DriverName, type Network, type NetworkRequest, driverNames } from "./types.ts"

/**
 * Names Docker keeps for itself. `default` is on Docker's list too (runconfig.IsPreDefinedNetwork):
 * `docker network create default` is refused although no network of that name exists.
 */
const reservedNetworkNames: ReadonlySet<string> = new Set(["bridge", "host", "none", "default"])

/** drivers whose single network is predefined: a second one is refused */
const singletonDrivers: ReadonlySet<DriverName> = new Set(["null", "host"])

export const isDriverName = (text: string): text is DriverName => (driverNames as ReadonlyArray<string>).includes(text)

/**
 * The subnets of the host's local address space. A swarm network a host knows of lives in the
 * manager's address space (libnetwork "GlobalDefault"), which Docker checks for overlaps only
 * against other swarm networks: a local network may overlap an overlay subnet.
 */
const subnetsInUse = (state: CnmState): Array<Cidr> => {
  const subnets: Array<Cidr> = []
  StringMap.forEach(state.networks, (record) => {
    if (record.addresses !== undefined && record.network.scope === undefined) subnets.push(record.addresses.subnet)
  })
  return subnets
}

/** an IPAM address space as a new network sees it: where automatic subnets come from, and what is taken */
export interface AddressSpace {
  /** libnetwork's name for it, as its messages say */
  readonly name: "LocalDefault" | "GlobalDefault"
  readonly pools: PoolList
  readonly subnetsInUse: ReadonlyArray<Cidr>
  /** where the search for the next automatic pool starts */
  readonly poolCursor: number
  /** addresses handed out serially (swarm) or lowest-free (local) */
  readonly serial: boolean
}

/** the host's own address space: Docker's local default pools */
const localAddressSpace = (state: CnmState): AddressSpace => ({
  name: "LocalDefault",
  pools: localPools,
  subnetsInUse: subnetsInUse(state),
  poolCursor: state.poolCursor,
  serial: false,
})

/**
 * Where the 20.10 client places an --ip-range or --gateway value inside the subnet (cli
 * subnetMatches): a value with a slash is read as a CIDR and only its address counts, one
 * without as a plain address. Undefined when the text is neither.
 */
const clientAddressOf = (text: string): number | undefined =>
  text.includes("/") ? parseCidrWithAddress(text)?.address : parseIPv4(text)

/**
 * The checks the 20.10 client makes before it sends the request (cli consolidateIpam), so they
 * come before every check of the daemon, the name included: an ip-range or gateway without a
 * subnet, a subnet that does not parse once a range or gateway must be matched against it, a
 * range or gateway whose address is not in the subnet. The recorder's mapping gives the message
 * "every ip-range or gateway must have a corresponding subnet" InvalidGateway when a gateway was
 * given and InvalidSubnet otherwise.
 */
export const clientProblem = (request: NetworkRequest): Refusal | undefined => {
  const { subnet: subnetText, ipRange, gateway } = request
  if (ipRange === undefined && gateway === undefined) return undefined
  if (subnetText === undefined) {
    const code = gateway === undefined ? "InvalidSubnet" : "InvalidGateway"
    return fail(code, "every ip-range or gateway must have a corresponding subnet")
  }
  const subnet = parseCidrWithAddress(subnetText)
  if (subnet === undefined) return fail("InvalidSubnet", `invalid subnet: invalid CIDR address: ${subnetText}`)
  if (ipRange !== undefined) {
    const address = clientAddressOf(ipRange)
    if (address === undefined && ipRange.includes("/")) return fail("InvalidSubnet", `invalid CIDR address: ${ipRange}`)
    if (address === undefined || !cidrContains(subnet, address)) {
      return fail("InvalidSubnet", `no matching subnet for range ${ipRange}`)
    }
  }
  if (gateway !== undefined) {
    const address = clientAddressOf(gateway)
    if (address === undefined || !cidrContains(subnet, address)) {
      return fail("InvalidGateway", `no matching subnet for gateway ${gateway}`)
    }
  }
  return undefined
}

export interface AddressPlan {
  readonly addresses: AddressBook
  /** the --subnet text as the user wrote it, which Docker lists unchanged */
  readonly configuredSubnet?: string
  readonly ipRange?: Cidr
  readonly userSubnet: boolean
  /** the pool cursor after this network, moved only when the subnet came from the default pools */
  readonly poolCursor: number
}

const noGatewayLeft = (subnet: Cidr, gateway: string): Refusal =>
  fail("PoolExhausted", `failed to allocate gateway (${gateway}): No available addresses on this pool (${formatCidr(subnet)})`)

/**
 * IPAM for a new network, in libnetwork's order (network.ipamAllocateVersion): the gateway text,
 * then the pool request (ip-range text, overlap, or the next default pool), then the gateway
 * address. The client has already matched the range and the gateway against the subnet.
 */
export const planAddresses = (
  space: AddressSpace,
  request: NetworkRequest,
  parsedSubnet: ParsedCidr | undefined,
): Checked<AddressPlan> => {
  let gateway: number | undefined
  if (request.gateway !== undefined) {
    gateway = parseIPv4(request.gateway)
    if (gateway === undefined) return fail("InvalidGateway", `invalid gateway address ${request.gateway} in Ipam configuration`)
  }
  const inUse = space.subnetsInUse

  if (parsedSubnet === undefined) {
    const choice = nextPool(space.pools, inUse, space.poolCursor)
    if (choice === undefined) {
      return fail(
        "PoolExhausted",
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
      )
    }
    const addresses = openAddressBook(choice.pool, undefined, undefined, space.serial)
    if (addresses === undefined) return noGatewayLeft(choice.pool, "")
    return accept({ addresses, userSubnet: false, poolCursor: choice.nextCursor })
  }

  // Docker 20.10 accepts host bits in --subnet and allocates from the network address, but keeps
  // the text: `docker network inspect` lists 10.22.0.5/24 (fixture ipam-subnet-text-host-bits)
  const subnet: Cidr = { base: parsedSubnet.base, prefix: parsedSubnet.prefix }
  let ipRange: Cidr | undefined
  if (request.ipRange !== undefined) {
    const parsedRange = parseCidrWithAddress(request.ipRange)
    if (parsedRange === undefined) {
      const pool = `pool "${formatCidr(subnet)}" subpool "${request.ipRange}"`
      return fail("InvalidSubnet", `failed to parse pool request for address space "${space.name}" ${pool}: Invalid Address SubPool`)
    }
    ipRange = { base: parsedRange.base, prefix: parsedRange.prefix }
  }
  if (inUse.some((other) => cidrsOverlap(other, subnet))) {
    return fail("SubnetOverlap", `Pool overlaps with other one on this address space (${formatCidr(subnet)})`)
  }
  if (gateway !== undefined) {
    const problem = gatewayProblem(subnet, gateway)
    if (problem === "outside") {
      return fail("InvalidGateway", `failed to allocate gateway (${request.gateway}): Requested address is out of range`)
    }
    if (problem === "exhausted") return noGatewayLeft(subnet, formatIPv4(gateway))
    if (problem === "reserved") {
      return fail("AddressInUse", `failed to allocate gateway (${request.gateway}): Address already in use`)
    }
  }
  const addresses = openAddressBook(subnet, gateway, ipRange, space.serial)
  if (addresses === undefined) return noGatewayLeft(subnet, request.gateway ?? "")
  return accept({
    addresses,
    configuredSubnet: request.subnet as string,
    ...(ipRange === undefined ? {} : { ipRange }),
    userSubnet: true,
    poolCursor: space.poolCursor,
  })
}

/**
 * The checks before the daemon looks at the subnet: an empty name, the client's own checks, a
 * name Docker keeps, a name in use (`nameTaken`: on this host, or for a swarm network anywhere).
 */
export const nameProblem = (request: NetworkRequest, nameTaken: (name: string) => boolean): Refusal | undefined => {
  const { name } = request
  if (name.trim() === "") return fail("InvalidName", "invalid name: name is empty")
  const refusedByClient = clientProblem(request)
  if (refusedByClient !== undefined) return refusedByClient
  if (reservedNetworkNames.has(name)) {
    return fail("PredefinedNetwork", `operation is not permitted on predefined ${name} network`)
  }
  return nameTaken(name) ? fail("NetworkNameConflict", `network with name ${name} already exists`) : undefined
}

/** the --subnet text as the daemon parses it (getIpamConfig); undefined when none was given */
export const requestedSubnet = (request: NetworkRequest): Checked<ParsedCidr | undefined> => {
  if (request.subnet === undefined) return accept(undefined)
  const parsed = parseCidrWithAddress(request.subnet)
  return parsed === undefined
    ? fail("InvalidSubnet", `Invalid subnet ${request.subnet} : invalid CIDR address: ${request.subnet}`)
    : accept(parsed)
}

export const createNetwork = (state: CnmState, request: NetworkRequest): Outcome<Network> => {
  const { name } = request
  const refusedByName = nameProblem(request, (wanted) => networkRecord(state, wanted) !== undefined)
  if (refusedByName !== undefined) return refusedByName
  const subnetText = requestedSubnet(request)
  if (!subnetText.ok) return subnetText
  const parsedSubnet = subnetText.value

  const driverText = request.driver ?? "bridge"
  if (!isDriverName(driverText)) return fail("DriverNotFound", `plugin "${driverText}" not found`)
  // libnetwork skips IPAM for the host and null drivers, so their refusal comes before any overlap
  if (singletonDrivers.has(driverText)) {
    return fail("InvalidOption", `only one instance of "${driverText}" network is allowed`)
  }

  const planned = planAddresses(localAddressSpace(state), request, parsedSubnet)
  if (!planned.ok) return planned
  const plan = planned.value

  const options = request.options ?? {}
  const optionError = optionProblem(driverText, options)
  if (optionError !== undefined) {
    // Docker is the reference here, not the "a refusal changes nothing" rule: the driver reads its
    // options only after IPAM handed out the pool, and although the pool is given back, the
    // allocator's cursor stays past it, so the next automatic network skips one pool (measured,
    // fixture ipam-failed-create-cursor). A user subnet never moves the cursor, so nothing is left.
    const cursorMoved = plan.poolCursor !== state.poolCursor
    return cursorMoved
      ? failLeaving(withPoolCursor(state, plan.poolCursor), "InvalidOption", optionError)
      : fail("InvalidOption", optionError)
  }

  const record = buildNetworkRecord({
    seq: state.nextNetworkSeq,
    name,
    driver: driverText,
    addresses: plan.addresses,
    ...(plan.configuredSubnet === undefined ? {} : { configuredSubnet: plan.configuredSubnet }),
    ...(plan.ipRange === undefined ? {} : { ipRange: plan.ipRange }),
    userSubnet: plan.userSubnet,
    internal: request.internal ?? false,
    predefined: false,
    options,
  })
  const next = putNetworkRecord(withPoolCursor({ ...state, nextNetworkSeq: state.nextNetworkSeq + 1 }, plan.poolCursor), record)
  return succeed(next, record.network)
}

const withPoolCursor = (state: CnmState, poolCursor: number): CnmState => ({ ...state, poolCursor })

export const removeNetwork = (state: CnmState, name: string): Outcome<Network> => {
  const record = networkRecord(state, name)
  if (record === undefined) return fail("NetworkNotFound", `network ${name} not found`)
  if (record.network.predefined) {
    return fail("PredefinedNetwork", `${name} is a pre-defined network and cannot be removed`)
  }
  if (record.endpoints.size > 0) {
    return fail("ActiveEndpoints", `error while removing network: network ${name} id ${record.network.id} has active endpoints`)
  }
  // the pool cursor stays: Docker hands a freed pool out again only once its search wraps around
  return succeed(dropNetworkRecord(state, record), record.network)
}
