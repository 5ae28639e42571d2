/**
 * The simulator's only source of randomness (MAC addresses), seeded so that a run can be replayed
 * exactly: the same seed and the same operations give the same MACs.
 */

export interface SeededRandom {
  /** the next unsigned 32-bit value */
  readonly next: () => number
}

/** mulberry32: tiny, fast, and good enough to make distinct MACs */
export const seededRandom = (seed: number): SeededRandom => {
  let state = seed >>> 0
  return {
    next: () => {
      state = (state + 0x6d2b79f5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return (t ^ (t >>> 14)) >>> 0
    },
  }
}

const HEX_DIGITS = "0123456789abcdef"
const digit = (value: number): number => HEX_DIGITS.charCodeAt(value & 15)

/** a random unicast, locally administered MAC, as Linux's eth_hw_addr_random makes */
export const randomMac = (random: SeededRandom): string => {
  const high = random.next()
  const low = random.next()
  const first = ((high >>> 24) & 0xfe) | 0x02
  // one flat string in one allocation (concatenation would build a rope of six pieces)
  return String.fromCharCode(
    digit(first >>> 4), digit(first), 58,
    digit(high >>> 20), digit(high >>> 16), 58,
    digit(high >>> 12), digit(high >>> 8), 58,
    digit(high >>> 4), digit(high), 58,
    digit(low >>> 28), digit(low >>> 24), 58,
    digit(low >>> 20), digit(low >>> 16),
  )
}

export const ZERO_MAC = "00:00:00:00:00:00"
export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"

/** a MAC as the kernel prints it; most arrive in lower case already, and toLowerCase would copy them */
export const lowerCaseMac = (mac: string): string => {
  for (let i = 0; i < mac.length; i++) {
    const code = mac.charCodeAt(i)
    if ((code >= 65 && code <= 90) || code > 127) return mac.toLowerCase()
  }
  return mac
}

export type MacCheck = "ok" | "malformed" | "not-unicast"

/** 0-15 for a hex digit in either case, -1 for anything else */
const hexValue = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : code >= 65 && code <= 70 ? code - 55 : -1

/**
 * What the kernel's is_valid_ether_addr says, after the caller's text was parsed: six hex pairs
 * (either case, as `ip link` takes them) joined by colons. Read character by character, as every
 * veth a container gets has its MAC checked here.
 */
export const checkMac = (mac: string): MacCheck => {
  if (mac.length !== 17) return "malformed"
  for (let i = 0; i < 17; i++) {
    const code = mac.charCodeAt(i)
    if (i % 3 === 2 ? code !== 58 : hexValue(code) < 0) return "malformed"
  }
  const first = hexValue(mac.charCodeAt(0)) * 16 + hexValue(mac.charCodeAt(1))
  if ((first & 1) === 1 || mac === ZERO_MAC) return "not-unicast"
  return "ok"
}
