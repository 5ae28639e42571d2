/**
 * IPv4 addresses and CIDR blocks as plain numbers: an address is an unsigned 32-bit integer
 * (0 … 2^32-1), a block is its network address plus a prefix length. Parsing is strict
 * (dotted quad, no leading zeros, no spaces) so "010.1.0.0" cannot silently mean octal or decimal.
 */

export interface Cidr {
  /** network address, host bits cleared */
  readonly base: number
  readonly prefix: number
}

const DOT = 46
const ZERO = 48
const NINE = 57

/**
 * The dotted quad in text[start, end): four octets of one to three digits, no leading zero but
 * in "0" itself, each at most 255. Read character by character: every detach parses its
 * endpoint's address back, and split or a regular expression would allocate on that path.
 */
const parseIPv4Between = (text: string, start: number, end: number): number | undefined => {
  let value = 0
  let octet = 0
  let digits = 0
  let octets = 0
  for (let index = start; index <= end; index++) {
    // the end reads as one more dot, which closes the last octet
    const code = index === end ? DOT : text.charCodeAt(index)
    if (code === DOT) {
      if (digits === 0 || octet > 255 || ++octets > 4) return undefined
      value = value * 256 + octet
      octet = 0
      digits = 0
    } else if (code >= ZERO && code <= NINE) {
      if (digits === 3 || (digits === 1 && octet === 0)) return undefined
      octet = octet * 10 + (code - ZERO)
      digits++
    } else {
      return undefined
    }
  }
  return octets === 4 ? value : undefined
}

/** "10.1.2.3" → 167838211; undefined for anything that is not a plain dotted quad */
export const parseIPv4 = (text: string): number | undefined => parseIPv4Between(text, 0, text.length)

export const formatIPv4 = (address: number): string =>
  `${(address >>> 24) & 255}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`

/** number of addresses in a block of this prefix length (2^32 for /0) */
export const blockSize = (prefix: number): number => 2 ** (32 - prefix)

/** the netmask as an unsigned number (/0 → 0) */
export const netmask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)

export const networkAddressOf = (address: number, prefix: number): number => (address & netmask(prefix)) >>> 0

export interface ParsedCidr extends Cidr {
  /** the address as written, host bits possibly set ("10.1.0.5/24" → 10.1.0.5) */
  readonly address: number
}

/** the prefix length after the slash: one or two digits, no leading zero, at most 32 */
const parsePrefixLength = (text: string, start: number): number | undefined => {
  const length = text.length - start
  if (length < 1 || length > 2) return undefined
  const first = text.charCodeAt(start) - ZERO
  if (first < 0 || first > 9) return undefined
  if (length === 1) return first
  const second = text.charCodeAt(start + 1) - ZERO
  if (first === 0 || second < 0 || second > 9) return undefined
  const prefix = first * 10 + second
  return prefix > 32 ? undefined : prefix
}

/** "10.1.0.5/24" → { base: 10.1.0.0, prefix: 24, address: 10.1.0.5 }; undefined if not a.b.c.d/n */
export const parseCidrWithAddress = (text: string): ParsedCidr | undefined => {
  const slash = text.indexOf("/")
  if (slash < 0) return undefined
  const address = parseIPv4Between(text, 0, slash)
  const prefix = parsePrefixLength(text, slash + 1)
  if (address === undefined || prefix === undefined) return undefined
  return { base: networkAddressOf(address, prefix), prefix, address }
}

/** the address of "10.1.0.5/24" (10.1.0.5) without building the parsed block; undefined if not a.b.c.d/n */
export const parseIPv4Prefix = (text: string): number | undefined => {
  const slash = text.indexOf("/")
  if (slash < 0 || parsePrefixLength(text, slash + 1) === undefined) return undefined
  return parseIPv4Between(text, 0, slash)
}

/** like parseCidrWithAddress, normalized to the network address */
export const parseCidr = (text: string): Cidr | undefined => {
  const parsed = parseCidrWithAddress(text)
  return parsed === undefined ? undefined : { base: parsed.base, prefix: parsed.prefix }
}

export const formatCidr = (cidr: Cidr): string => `${formatIPv4(cidr.base)}/${cidr.prefix}`

/** last address of the block (the IPv4 broadcast address for prefixes below /31) */
export const lastAddress = (cidr: Cidr): number => cidr.base + blockSize(cidr.prefix) - 1

export const cidrContains = (cidr: Cidr, address: number): boolean => address >= cidr.base && address <= lastAddress(cidr)

/** inner lies entirely inside outer */
export const cidrContainsCidr = (outer: Cidr, inner: Cidr): boolean =>
  inner.prefix >= outer.prefix && cidrContains(outer, inner.base)

/** CIDR blocks are either nested or disjoint, so overlap means one contains the other's start */
export const cidrsOverlap = (a: Cidr, b: Cidr): boolean => cidrContains(a, b.base) || cidrContains(b, a.base)

export const cidrEquals = (a: Cidr, b: Cidr): boolean => a.base === b.base && a.prefix === b.prefix

/** the n-th address of the block (0 = network address); undefined past the end */
export const nthAddress = (cidr: Cidr, n: number): number | undefined =>
  n >= 0 && n < blockSize(cidr.prefix) ? cidr.base + n : undefined

/** "10.1.0.2/24" → "10.1.0.2"; text without a slash is returned as is */
export const stripPrefix = (addressWithPrefix: string): string => {
  const slash = addressWithPrefix.indexOf("/")
  return slash < 0 ? addressWithPrefix : addressWithPrefix.slice(0, slash)
}

/** splits a block into consecutive sub-blocks of a longer prefix, in address order */
export const splitCidr = (cidr: Cidr, prefix: number): ReadonlyArray<Cidr> => {
  const count = 2 ** (prefix - cidr.prefix)
  const step = blockSize(prefix)
  return Array.from({ length: count }, (_, index) => ({ base: cidr.base + index * step, prefix }))
}
