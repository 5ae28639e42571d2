import { randomInt } from "node:crypto"

/**
 * A small seeded generator (mulberry32) for the values the backend invents: DNS query ids and
 * ICMP echo payloads. A seed makes a run's packets repeatable; without one it is random.
 */
export const makeRandom = (seed?: number): (() => number) => {
  let state = (seed ?? randomInt(0, 2 ** 32 - 1)) >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

export const randomBytes = (random: () => number, length: number): Buffer =>
  Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)))
