/**
 * Docker 20.10's built-in IPAM for IPv4, as pure functions: the 31 default local pools, the
 * choice of a pool for a network without a subnet, and addresses inside a network (gateway,
 * dynamic lowest-free allocation, static requests, release). Addresses are kept as offsets
 * from the subnet's network address in a persistent trie, so allocation copies one path.
 */
import { type Cidr, blockSize, cidrContains, cidrsOverlap, formatIPv4, lastAddress, parseCidr, splitCidr } from "./cidr.ts"
import * as IntTrie from "./int-trie.ts"

const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text)
  if (parsed === undefined) throw new Error(`bad built-in CIDR ${text}`)
  return parsed
}

/** Docker's local default pools: 172.17–31 as /16s, then 192.168.0.0/16 cut into /20s, in this order */
export const defaultPools: ReadonlyArray<Cidr> = [
  ...splitCidr(cidr("172.16.0.0/12"), 16).slice(1),
  ...splitCidr(cidr("192.168.0.0/16"), 20),
]

export interface PoolChoice {
  readonly pool: Cidr
  /** where the next search starts */
  readonly nextCursor: number
}

/**
 * The default pool for a network without a subnet, as Docker 20.10's allocator picks it
 * (libnetwork ipam getPredefinedPool): walk the pool list rotated to start at the cursor, take
 * the first pool that overlaps no subnet in use, and move the cursor just past it. A pool freed
 * by a removed network is therefore not handed out again until the search wraps around. When
 * the new cursor would run past the end of the list, Docker resets it to 0, so after a wrapped
 * allocation the search starts again from the lowest pool.
 */
export const nextDefaultPool = (subnetsInUse: ReadonlyArray<Cidr>, cursor: number): PoolChoice | undefined => {
  const start = cursor >= 0 && cursor < defaultPools.length ? cursor : 0
  for (let step = 0; step < defaultPools.length; step++) {
    const pool = defaultPools[(start + step) % defaultPools.length] as Cidr
    if (subnetsInUse.some((subnet) => cidrsOverlap(subnet, pool))) continue
    const next = start + step + 1
    return { pool, nextCursor: next >= defaultPools.length ? 0 : next }
  }
  return undefined
}

/** who holds an address of a network: a container (its sequence number) or the network itself */
export const reservedHolder = -1
export const gatewayHolder = -2

export interface AddressBook {
  readonly subnet: Cidr
  /** offsets (from the subnet's network address) where dynamic addresses may go: the ip-range, or the subnet */
  readonly dynamicFirst: number
  readonly dynamicLast: number
  readonly gateway: number
  /** offset → holder: a container's sequence number, reservedHolder or gatewayHolder */
  readonly holders: IntTrie.IntTrie<number>
}

export type GatewayProblem = "outside" | "reserved"

/**
 * A user-given gateway must be a usable address of the subnet. Docker 20.10 reserves the first
 * and last address of every IPv4 subnet, /31 and /32 included ("failed to allocate gateway
 * (10.1.0.0): Address already in use").
 */
export const gatewayProblem = (subnet: Cidr, gateway: number): GatewayProblem | undefined => {
  if (!cidrContains(subnet, gateway)) return "outside"
  if (gateway === subnet.base || gateway === lastAddress(subnet)) return "reserved"
  return undefined
}

/**
 * A fresh address book: network and broadcast address reserved, then the gateway. Without a
 * user gateway Docker asks for "any" address from the same pool the containers use, so the
 * gateway is the first free address of the ip-range when there is one (measured on Docker
 * 20.10: --subnet 10.1.2.0/24 --ip-range 10.1.2.128/25 gives gateway 10.1.2.128 and the first
 * container 10.1.2.129), else .1 of the subnet. Undefined when no address is left for the
 * gateway (a /31 or /32 subnet: "failed to allocate gateway (): No available addresses").
 */
export const openAddressBook = (
  subnet: Cidr,
  userGateway: number | undefined,
  ipRange: Cidr | undefined,
): AddressBook | undefined => {
  const size = blockSize(subnet.prefix)
  const holders = IntTrie.set(IntTrie.set(IntTrie.empty<number>(), 0, reservedHolder), size - 1, reservedHolder)
  const dynamicFirst = ipRange === undefined ? 0 : ipRange.base - subnet.base
  const dynamicLast = ipRange === undefined ? size - 1 : lastAddress(ipRange) - subnet.base
  const gatewayOffset =
    userGateway === undefined ? IntTrie.firstAbsent(holders, dynamicFirst, dynamicLast) : userGateway - subnet.base
  if (gatewayOffset < 0) return undefined
  return {
    subnet,
    dynamicFirst,
    dynamicLast,
    gateway: subnet.base + gatewayOffset,
    holders: IntTrie.set(holders, gatewayOffset, gatewayHolder),
  }
}

const withHolders = (book: AddressBook, holders: IntTrie.IntTrie<number>): AddressBook => ({
  subnet: book.subnet,
  dynamicFirst: book.dynamicFirst,
  dynamicLast: book.dynamicLast,
  gateway: book.gateway,
  holders,
})

export interface Allocation {
  readonly book: AddressBook
  readonly address: number
}

/** the lowest free address of the dynamic range; undefined when the range is full */
export const allocateDynamic = (book: AddressBook, holder: number): Allocation | undefined => {
  const offset = IntTrie.firstAbsent(book.holders, book.dynamicFirst, book.dynamicLast)
  if (offset < 0) return undefined
  return { book: withHolders(book, IntTrie.set(book.holders, offset, holder)), address: book.subnet.base + offset }
}

export type StaticProblem = "AddressOutOfRange" | "AddressInUse"

/** a user-chosen address: anywhere in the subnet (even outside the ip-range) that nobody holds */
export const allocateStatic = (book: AddressBook, address: number, holder: number): Allocation | StaticProblem => {
  if (!cidrContains(book.subnet, address)) return "AddressOutOfRange"
  const offset = address - book.subnet.base
  if (IntTrie.has(book.holders, offset)) return "AddressInUse"
  return { book: withHolders(book, IntTrie.set(book.holders, offset, holder)), address }
}

export const release = (book: AddressBook, address: number): AddressBook =>
  withHolders(book, IntTrie.remove(book.holders, address - book.subnet.base))

/** the holder of an address, if any */
export const holderOf = (book: AddressBook, address: number): number | undefined =>
  cidrContains(book.subnet, address) ? IntTrie.get(book.holders, address - book.subnet.base) : undefined

const hexByte: ReadonlyArray<string> = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

/** Docker before 28: 02:42 followed by the four bytes of the IPv4 address */
export const macForAddress = (address: number): string =>
  `02:42:${hexByte[(address >>> 24) & 255]}:${hexByte[(address >>> 16) & 255]}:${hexByte[(address >>> 8) & 255]}:${hexByte[address & 255]}`

/** "172.18.0.2/16" for an endpoint */
export const endpointAddressText = (address: number, subnet: Cidr): string => `${formatIPv4(address)}/${subnet.prefix}`
