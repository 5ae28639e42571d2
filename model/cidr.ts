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

const octetPattern = /^(0|[1-9][0-9]{0,2})$/

/** "10.1.2.3" → 167838211; undefined for anything that is not a plain dotted quad */
export const parseIPv4 = (text: string): number | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  let value = 0
  for (const part of parts) {
    if (!octetPattern.test(part)) return undefined
    const octet = Number(part)
    if (octet > 255) return undefined
    value = value * 256 + octet
  }
  return value
}

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

const prefixPattern = /^(0|[1-9][0-9]?)$/

/** "10.1.0.5/24" → { base: 10.1.0.0, prefix: 24, address: 10.1.0.5 }; undefined if not a.b.c.d/n */
export const parseCidrWithAddress = (text: string): ParsedCidr | undefined => {
  const slash = text.indexOf("/")
  if (slash < 0) return undefined
  const address = parseIPv4(text.slice(0, slash))
  const prefixText = text.slice(slash + 1)
  if (address === undefined || !prefixPattern.test(prefixText)) return undefined
  const prefix = Number(prefixText)
  if (prefix > 32) return undefined
  return { base: networkAddressOf(address, prefix), prefix, address }
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
