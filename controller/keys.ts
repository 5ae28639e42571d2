import { createHash } from "node:crypto"

/**
 * The swarm's data-path encryption keys, as the manager's key manager hands them to every node
 * (swarmkit's keymanager; libnetwork's overlay driver gets them through DiscoverNew/
 * DiscoverUpdate). Swarm keeps three keys; the primary one seals what a node sends, every key
 * opens what it receives, so a rotation never drops a packet in flight. A key is 16 bytes of
 * AES-128 with a tag (swarm's Lamport time) that goes into each SPI.
 *
 * In the lab the keys are derived from a seed, so a run can be repeated; a real swarm draws them
 * at random and rotates them every 12 hours.
 */
export interface SwarmKey {
  /** the key's Lamport time in swarm, part of the SPIs made from it */
  readonly tag: number
  /** 16 bytes, lower-case hex */
  readonly key: string
}

export interface SwarmKeys {
  /** oldest first, as swarm lists them */
  readonly keys: ReadonlyArray<SwarmKey>
  /** index of the key that seals outbound traffic */
  readonly primary: number
}

/** swarm's KeyManager keeps this many */
export const SWARM_KEY_COUNT = 3

const keyOf = (seed: string, tag: number): SwarmKey => ({
  tag,
  key: createHash("sha256").update(`cnmlab swarm key ${seed} ${tag}`).digest("hex").slice(0, 32),
})

/** three keys from a seed, the middle one primary, as swarm's manager has them after its first rotation */
export const swarmKeys = (seed: string): SwarmKeys => ({
  keys: Array.from({ length: SWARM_KEY_COUNT }, (_, i) => keyOf(seed, i + 1)),
  primary: 1,
})

/** swarm's rotation: the oldest key goes, a new one comes, the primary moves one on */
export const rotateKeys = (current: SwarmKeys, seed: string): SwarmKeys => {
  const newest = current.keys.at(-1)?.tag ?? 0
  return { keys: [...current.keys.slice(1), keyOf(seed, newest + 1)], primary: current.primary }
}
