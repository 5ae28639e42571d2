/**
 * IPv4 addresses as unsigned 32-bit numbers. The simulator compares and masks addresses on every
 * route lookup, so they are parsed once, by hand (no split/regex), and kept as numbers.
 */

export const INVALID = -1

/** "10.1.0.2" -> 0x0a010002; INVALID when it is not a dotted quad */
export const parseIpv4 = (text: string, start = 0, end = text.length): number => {
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i)
    if (code === 46) {
      if (digits === 0 || dots === 3) return INVALID
      value = value * 256 + octet
      octet = 0
      digits = 0
      dots++
    } else if (code >= 48 && code <= 57) {
      octet = octet * 10 + (code - 48)
      if (++digits > 3 || octet > 255) return INVALID
    } else {
      return INVALID
    }
  }
  if (dots !== 3 || digits === 0) return INVALID
  return value * 256 + octet
}

export const formatIpv4 = (value: number): string =>
  `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`

export interface Prefix {
  readonly address: number
  readonly length: number
}

/** "10.1.0.2/24" -> { address, length }; a bare address is a /32; undefined when malformed */
export const parseCidr = (text: string): Prefix | undefined => {
  const slash = text.indexOf("/")
  if (slash < 0) {
    const address = parseIpv4(text)
    return address === INVALID ? undefined : { address, length: 32 }
  }
  const address = parseIpv4(text, 0, slash)
  if (address === INVALID || slash === text.length - 1 || text.length - slash > 3) return undefined
  let length = 0
  for (let i = slash + 1; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 48 || code > 57) return undefined
    length = length * 10 + (code - 48)
  }
  return length > 32 ? undefined : { address, length }
}

const masks: ReadonlyArray<number> = Array.from({ length: 33 }, (_, length) =>
  length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0,
)

export const maskOf = (length: number): number => masks[length] ?? 0

export const networkOf = (address: number, length: number): number => (address & maskOf(length)) >>> 0

export const inPrefix = (address: number, network: number, length: number): boolean =>
  ((address & maskOf(length)) >>> 0) === network

export const formatCidr = (address: number, length: number): string => `${formatIpv4(address)}/${length}`

const LOOPBACK_NET = 0x7f000000

export const isLoopbackAddress = (address: number): boolean => address >>> 24 === LOOPBACK_NET >>> 24
