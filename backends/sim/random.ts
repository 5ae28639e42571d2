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

const MAC_SHAPE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

export type MacCheck = "ok" | "malformed" | "not-unicast"

/** what the kernel's is_valid_ether_addr says, after the caller's text was parsed */
export const checkMac = (mac: string): MacCheck => {
  if (!MAC_SHAPE.test(mac)) return "malformed"
  const first = Number.parseInt(mac.slice(0, 2), 16)
  if ((first & 1) === 1 || mac === ZERO_MAC) return "not-unicast"
  return "ok"
}
