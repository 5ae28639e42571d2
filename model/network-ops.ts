/**
 * createNetwork and removeNetwork with Docker 20.10's checks, in Docker's order: the name
 * first, then the driver, then the addresses (subnet, gateway, ip-range, overlap, pool), then
 * the driver options, which the driver only reads once IPAM has succeeded.
 */
import { type Cidr, cidrContainsCidr, cidrsOverlap, formatCidr, parseCidrWithAddress, parseIPv4 } from "./cidr.ts"
import { type AddressBook, gatewayProblem, nextDefaultPool, openAddressBook } from "./ipam.ts"
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

const isDriverName = (text: string): text is DriverName => (driverNames as ReadonlyArray<string>).includes(text)

const subnetsInUse = (state: CnmState): Array<Cidr> => {
  const subnets: Array<Cidr> = []
  StringMap.forEach(state.networks, (record) => {
    if (record.addresses !== undefined) subnets.push(record.addresses.subnet)
  })
  return subnets
}

interface AddressPlan {
  readonly addresses: AddressBook
  readonly ipRange?: Cidr
  readonly userSubnet: boolean
  /** the pool cursor after this network, moved only when the subnet came from the default pools */
  readonly poolCursor: number
}

const noGatewayLeft = (subnet: Cidr): Refusal =>
  fail("PoolExhausted", `failed to allocate gateway in ${formatCidr(subnet)}: No available addresses on this pool`)

/** IPAM for a new network, in libnetwork's order: subnet and range, overlap or default pool, then the gateway */
const planAddresses = (state: CnmState, request: NetworkRequest): Checked<AddressPlan> => {
  const parsedSubnet = request.subnet === undefined ? undefined : parseCidrWithAddress(request.subnet)
  if (request.subnet !== undefined && parsedSubnet === undefined) {
    return fail("InvalidSubnet", `invalid subnet ${JSON.stringify(request.subnet)}: not an IPv4 CIDR`)
  }
  // Docker 20.10 accepts host bits in --subnet and allocates from the network address
  const subnet: Cidr | undefined = parsedSubnet && { base: parsedSubnet.base, prefix: parsedSubnet.prefix }

  let gateway: number | undefined
  if (request.gateway !== undefined) {
    if (subnet === undefined) return fail("InvalidGateway", `gateway ${request.gateway} given without a subnet`)
    gateway = parseIPv4(request.gateway)
    if (gateway === undefined) return fail("InvalidGateway", `invalid gateway ${JSON.stringify(request.gateway)}`)
    const problem = gatewayProblem(subnet, gateway)
    if (problem === "outside") return fail("InvalidGateway", `no matching subnet for gateway ${request.gateway}`)
    if (problem === "reserved") {
      return fail("InvalidGateway", `failed to allocate gateway (${request.gateway}): Address already in use`)
    }
  }

  let ipRange: Cidr | undefined
  if (request.ipRange !== undefined) {
    if (subnet === undefined) return fail("InvalidSubnet", `ip-range ${request.ipRange} given without a subnet`)
    const parsedRange = parseCidrWithAddress(request.ipRange)
    if (parsedRange === undefined) return fail("InvalidSubnet", `invalid ip-range ${JSON.stringify(request.ipRange)}`)
    ipRange = { base: parsedRange.base, prefix: parsedRange.prefix }
    if (!cidrContainsCidr(subnet, ipRange)) {
      return fail("InvalidSubnet", `ip-range ${request.ipRange} is not inside subnet ${formatCidr(subnet)}`)
    }
  }

  const inUse = subnetsInUse(state)
  if (subnet !== undefined) {
    if (inUse.some((other) => cidrsOverlap(other, subnet))) {
      return fail(
        "SubnetOverlap",
        `invalid pool request: Pool overlaps with other one on this address space (${formatCidr(subnet)})`,
      )
    }
    const addresses = openAddressBook(subnet, gateway, ipRange)
    if (addresses === undefined) return noGatewayLeft(subnet)
    return accept({ addresses, ...(ipRange === undefined ? {} : { ipRange }), userSubnet: true, poolCursor: state.poolCursor })
  }
  const choice = nextDefaultPool(inUse, state.poolCursor)
  if (choice === undefined) {
    return fail(
      "PoolExhausted",
      "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
    )
  }
  const addresses = openAddressBook(choice.pool, undefined, undefined)
  if (addresses === undefined) return noGatewayLeft(choice.pool)
  return accept({ addresses, userSubnet: false, poolCursor: choice.nextCursor })
}

export const createNetwork = (state: CnmState, request: NetworkRequest): Outcome<Network> => {
  const { name } = request
  if (name.trim() === "") return fail("InvalidName", "invalid name: name is empty")
  if (reservedNetworkNames.has(name)) {
    return fail("PredefinedNetwork", `operation is not permitted on predefined ${name} network`)
  }
  if (networkRecord(state, name) !== undefined) return fail("NetworkNameConflict", `network with name ${name} already exists`)

  const driverText = request.driver ?? "bridge"
  if (!isDriverName(driverText)) return fail("DriverNotFound", `plugin "${driverText}" not found`)
  if (singletonDrivers.has(driverText)) {
    return fail("InvalidOption", `only one instance of "${driverText}" network is allowed`)
  }

  const planned = planAddresses(state, request)
  if (!planned.ok) return planned
  const plan = planned.value

  const options = request.options ?? {}
  const optionError = optionProblem(driverText, options)
  if (optionError !== undefined) return fail("InvalidOption", optionError)

  const record = buildNetworkRecord({
    seq: state.nextNetworkSeq,
    name,
    driver: driverText,
    addresses: plan.addresses,
    ...(plan.ipRange === undefined ? {} : { ipRange: plan.ipRange }),
    userSubnet: plan.userSubnet,
    internal: request.internal ?? false,
    predefined: false,
    options,
  })
  const next = putNetworkRecord(
    {
      ...state,
      nextNetworkSeq: state.nextNetworkSeq + 1,
      poolCursor: plan.poolCursor,
    },
    record,
  )
  return succeed(next, record.network)
}

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
