/**
 * Docker 20.10's built-in IPAM for IPv4, as pure functions: the 31 default local pools, the
 * choice of a pool for a network without a subnet, and addresses inside a network (gateway,
 * dynamic lowest-free allocation, static requests, release). Addresses are kept as offsets
 * from the subnet's network address in a persistent trie, so allocation copies one path.
 */
import {
  type Cidr,
  blockSize,
  cidrContains,
  cidrsOverlap,
  formatIPv4,
  lastAddress,
  netmask,
  parseCidr,
  splitCidr,
} from "./cidr.ts"
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

/** an ordered list of pools, read by index: swarm's list has 65,536 entries, never built as an array */
export interface PoolList {
  readonly count: number
  readonly at: (index: number) => Cidr
}

/** Docker's local default pools as a PoolList */
export const localPools: PoolList = { count: defaultPools.length, at: (index) => defaultPools[index] as Cidr }

/**
 * Swarm's default address pool (`docker swarm init --default-addr-pool 10.0.0.0/8
 * --default-addr-pool-mask-length 24`, the defaults): 10.0.0.0/8 cut into /24s, in address order.
 * The manager's allocator takes overlay subnets from it; `ingress` gets the first.
 */
export const swarmPools: PoolList = { count: 2 ** 16, at: (index) => ({ base: 0x0a000000 + index * 256, prefix: 24 }) }

export interface PoolChoice {
  readonly pool: Cidr
  /** where the next search starts */
  readonly nextCursor: number
}

/**
 * The pool for a network without a subnet, as Docker 20.10's allocator picks it (libnetwork ipam
 * getPredefinedPool, the same code for the local and the swarm address space): walk the pool
 * list rotated to start at the cursor, take the first pool that overlaps no subnet in use, and
 * move the cursor just past it. A pool freed by a removed network is therefore not handed out
 * again until the search wraps around. When the new cursor would run past the end of the list,
 * Docker resets it to 0, so after a wrapped allocation the search starts again from the lowest pool.
 */
export const nextPool = (pools: PoolList, subnetsInUse: ReadonlyArray<Cidr>, cursor: number): PoolChoice | undefined => {
  const start = cursor >= 0 && cursor < pools.count ? cursor : 0
  for (let step = 0; step < pools.count; step++) {
    const pool = pools.at((start + step) % pools.count)
    if (subnetsInUse.some((subnet) => cidrsOverlap(subnet, pool))) continue
    const next = start + step + 1
    return { pool, nextCursor: next >= pools.count ? 0 : next }
  }
  return undefined
}

/** the next local default pool (nextPool over Docker's 31 local pools) */
export const nextDefaultPool = (subnetsInUse: ReadonlyArray<Cidr>, cursor: number): PoolChoice | undefined =>
  nextPool(localPools, subnetsInUse, cursor)

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
  /**
   * Serial allocation, as swarm's manager asks for every overlay address (cnmallocator
   * setIPAMSerialAlloc): a dynamic address is searched from `next` on, and only from the start of
   * the range once nothing is free after it, so a freed address is not handed out again at once.
   * Local networks allocate lowest-free and ignore `next`.
   */
  readonly serial: boolean
  /**
   * libnetwork's bitmask cursor (bitseq Handle.curr): one past the offset of the last dynamic
   * allocation; 0 before any. A static address does not move it. Kept for serial books only.
   */
  readonly next: number
}

/** a class, not an object literal: every endpoint change builds one (see arrays.ts for why) */
class Book implements AddressBook {
  constructor(
    readonly subnet: Cidr,
    readonly dynamicFirst: number,
    readonly dynamicLast: number,
    readonly gateway: number,
    readonly holders: IntTrie.IntTrie<number>,
    readonly serial: boolean,
    readonly next: number,
  ) {}
}

export type GatewayProblem = "outside" | "exhausted" | "reserved"

/**
 * A user-given gateway, judged as libnetwork's allocator judges any requested address: outside
 * the subnet is refused (the 20.10 client already says "no matching subnet for gateway"); then a
 * subnet without a single free address is exhausted (a /31 or /32, whose two reserved addresses
 * are all it has); then the subnet's network and broadcast addresses, which Docker 20.10 books
 * for itself, are "Address already in use".
 */
export const gatewayProblem = (subnet: Cidr, gateway: number): GatewayProblem | undefined => {
  if (!cidrContains(subnet, gateway)) return "outside"
  if (blockSize(subnet.prefix) <= 2) return "exhausted"
  if (gateway === subnet.base || gateway === lastAddress(subnet)) return "reserved"
  return undefined
}

/** the host part of an address under the subnet's mask: its offset once moved into the subnet */
const hostPart = (address: number, subnet: Cidr): number => (address & ~netmask(subnet.prefix)) >>> 0

/**
 * Where dynamic addresses may go, as offsets in the subnet. libnetwork (ipam getAddressRange)
 * takes the host parts of the range's first and last address under the subnet's mask, so a
 * range wider than the subnet covers all of it (10.17.0.0/16 on 10.17.0.0/24: offsets 0-255),
 * and the range's own first and last addresses are ordinary addresses.
 */
const dynamicBounds = (subnet: Cidr, ipRange: Cidr | undefined): { readonly first: number; readonly last: number } =>
  ipRange === undefined
    ? { first: 0, last: blockSize(subnet.prefix) - 1 }
    : { first: hostPart(ipRange.base, subnet), last: hostPart(lastAddress(ipRange), subnet) }

/**
 * A fresh address book: network and broadcast address of the subnet reserved, then the gateway.
 * Without a user gateway Docker asks for "any" address from the same pool the containers use, so
 * the gateway is the first free address of the ip-range when there is one (measured on Docker
 * 20.10: --subnet 10.9.0.0/24 --ip-range 10.9.0.128/25 gives gateway 10.9.0.128 and the first
 * container 10.9.0.129), else .1 of the subnet. A user gateway must have passed gatewayProblem.
 * Undefined when no address is left for the gateway (a /31 or /32 subnet: "failed to allocate
 * gateway (): No available addresses on this pool").
 */
export const openAddressBook = (
  subnet: Cidr,
  userGateway: number | undefined,
  ipRange: Cidr | undefined,
  serial = false,
): AddressBook | undefined => {
  const size = blockSize(subnet.prefix)
  const holders = IntTrie.set(IntTrie.set(IntTrie.empty<number>(), 0, reservedHolder), size - 1, reservedHolder)
  const { first: dynamicFirst, last: dynamicLast } = dynamicBounds(subnet, ipRange)
  const gatewayOffset =
    userGateway === undefined ? IntTrie.firstAbsent(holders, dynamicFirst, dynamicLast) : userGateway - subnet.base
  if (gatewayOffset < 0 || IntTrie.has(holders, gatewayOffset)) return undefined
  // swarm asks for the gateway like any address: an automatic one moves the cursor, a given one does not
  const next = serial && userGateway === undefined ? gatewayOffset + 1 : 0
  const booked = IntTrie.set(holders, gatewayOffset, gatewayHolder)
  return new Book(subnet, dynamicFirst, dynamicLast, subnet.base + gatewayOffset, booked, serial, next)
}

const withHolders = (book: AddressBook, holders: IntTrie.IntTrie<number>, next: number = book.next): AddressBook =>
  new Book(book.subnet, book.dynamicFirst, book.dynamicLast, book.gateway, holders, book.serial, next)

export interface Allocation {
  readonly book: AddressBook
  readonly address: number
}

/**
 * Where a serial search finds a free offset (bitseq getAvailableFromCurrent): from the cursor when
 * it lies past the start of the range, then, if nothing is free up to the range's end, from the start.
 */
const serialOffset = (book: AddressBook): number => {
  const { dynamicFirst, dynamicLast, next } = book
  if (next !== 0 && next > dynamicFirst && next <= dynamicLast) {
    const offset = IntTrie.firstAbsent(book.holders, next, dynamicLast)
    if (offset >= 0) return offset
  }
  return IntTrie.firstAbsent(book.holders, dynamicFirst, dynamicLast)
}

/** the lowest free address of the dynamic range (serial books: the next free one); undefined when the range is full */
export const allocateDynamic = (book: AddressBook, holder: number): Allocation | undefined => {
  const offset = book.serial ? serialOffset(book) : IntTrie.firstAbsent(book.holders, book.dynamicFirst, book.dynamicLast)
  if (offset < 0) return undefined
  const holders = IntTrie.set(book.holders, offset, holder)
  return { book: withHolders(book, holders, book.serial ? offset + 1 : book.next), address: book.subnet.base + offset }
}

export type StaticProblem = "AddressOutOfRange" | "PoolExhausted" | "AddressInUse"

/**
 * A user-chosen address: anywhere in the subnet (even outside the ip-range) that nobody holds.
 * In libnetwork's order (ipam getAddress): outside the subnet first, then a subnet without any
 * free address ("No available addresses on this pool", even for an address that is taken), then
 * the address itself being held.
 */
export const allocateStatic = (book: AddressBook, address: number, holder: number): Allocation | StaticProblem => {
  if (!cidrContains(book.subnet, address)) return "AddressOutOfRange"
  if (book.holders.size >= blockSize(book.subnet.prefix)) return "PoolExhausted"
  const offset = address - book.subnet.base
  if (IntTrie.has(book.holders, offset)) return "AddressInUse"
  return { book: withHolders(book, IntTrie.set(book.holders, offset, holder)), address }
}

/** the same book with its serial cursor elsewhere (what a failed attempt leaves, see lab-store tracesOf) */
export const withCursor = (book: AddressBook, next: number): AddressBook => withHolders(book, book.holders, next)

export const release = (book: AddressBook, address: number): AddressBook =>
  withHolders(book, IntTrie.remove(book.holders, address - book.subnet.base))

/** the holder of an address, if any */
export const holderOf = (book: AddressBook, address: number): number | undefined =>
  cidrContains(book.subnet, address) ? IntTrie.get(book.holders, address - book.subnet.base) : undefined

const hexDigit = (value: number): number => "0123456789abcdef".charCodeAt(value & 15)

/**
 * Docker before 28: 02:42 followed by the four bytes of the IPv4 address. Made as one flat string
 * in one step: a template would build a rope of nine pieces, which the kernel then flattens to
 * read it (every endpoint's MAC is checked there).
 */
export const macForAddress = (address: number): string =>
  String.fromCharCode(
    48, 50, 58, 52, 50, 58,
    hexDigit(address >>> 28), hexDigit(address >>> 24), 58,
    hexDigit(address >>> 20), hexDigit(address >>> 16), 58,
    hexDigit(address >>> 12), hexDigit(address >>> 8), 58,
    hexDigit(address >>> 4), hexDigit(address),
  )

/** "172.18.0.2/16" for an endpoint */
export const endpointAddressText = (address: number, subnet: Cidr): string => `${formatIPv4(address)}/${subnet.prefix}`
