/**
 * A persistent map from unsigned 32-bit integers to values: a 32-way radix trie where every
 * update copies only the path to the key (at most 7 branches), so old versions stay valid and
 * cheap to keep. Branches are bitmap-compressed, as in a HAMT: a branch stores only its occupied
 * slots, so the sparse paths a growing sequence number makes (a network's endpoints keyed by
 * container number, a few here and there among millions) copy a slot or two per level rather
 * than 32. Each branch counts the keys below it, which makes "lowest key not present in [lo, hi]"
 * fast: full sub-trees are skipped without descending. That query is what IPAM needs ("lowest
 * free address"), and key order iteration is what creation-order listings need. Nodes are class
 * instances and arrays are built by arrays.ts, never literals (why: see arrays.ts).
 */
import { inserted, removed, replaced, single } from "./arrays.ts"

const BITS = 5
const WIDTH = 1 << BITS
const SLOT = WIDTH - 1
/** a shift of 30 already addresses 2^35 keys, more than 32 bits */
const MAX_SHIFT = 30

class Branch<V> {
  constructor(
    /** number of keys stored below this branch */
    readonly count: number,
    /** bit s is set when slot s is occupied */
    readonly bitmap: number,
    /** the occupied slots in slot order; at shift 0 they hold values, above they hold branches */
    readonly slots: ReadonlyArray<Branch<V> | V>,
  ) {}
}

class Trie<V> {
  constructor(
    readonly size: number,
    readonly shift: number,
    readonly root: Branch<V> | undefined,
  ) {}
}

export type IntTrie<V> = Trie<V>

const emptyTrie: IntTrie<never> = new Trie<never>(0, 0, undefined)

export const empty = <V>(): IntTrie<V> => emptyTrie

/** how many keys a branch at each shift (0, 5, … 30) can hold: a table, as `**` is slow in hot loops */
const spans: ReadonlyArray<number> = Array.from({ length: MAX_SHIFT / BITS + 1 }, (_, level) => 2 ** ((level + 1) * BITS))
const spanAt = (shift: number): number => spans[shift / BITS] as number
/** what a child of a branch at each shift can hold */
const childSpanAt = (shift: number): number => spans[shift / BITS - 1] as number

const slotOf = (key: number, shift: number): number => (key >>> shift) & SLOT

const popcount = (word: number): number => {
  let bits = word - ((word >>> 1) & 0x55555555)
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333)
  return Math.imul((bits + (bits >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}

/** where slot `slot` sits in a branch's dense array (whether occupied or not) */
const indexOf = (bitmap: number, slot: number): number => popcount(bitmap & ((1 << slot) - 1))

/** the lowest set bit's position; the word must not be 0 */
const lowestBit = (word: number): number => 31 - Math.clz32(word & -word)

/** bits lo … hi set (0 ≤ lo ≤ hi ≤ 31) */
const bitRange = (lo: number, hi: number): number => ((hi === 31 ? -1 : (1 << (hi + 1)) - 1) & ~((1 << lo) - 1)) >>> 0

export const get = <V>(trie: IntTrie<V>, key: number): V | undefined => {
  if (trie.root === undefined || key >= spanAt(trie.shift) || key < 0) return undefined
  let branch: Branch<V> = trie.root
  for (let shift = trie.shift; ; shift -= BITS) {
    const slot = slotOf(key, shift)
    if ((branch.bitmap & (1 << slot)) === 0) return undefined
    const child = branch.slots[indexOf(branch.bitmap, slot)]
    if (shift === 0) return child as V
    branch = child as Branch<V>
  }
}

export const has = <V>(trie: IntTrie<V>, key: number): boolean => get(trie, key) !== undefined

/** set by the leaf level of setIn, read by the branches above it on the way back up */
let keyWasAdded = false

/** a branch holding only `key` */
const only = <V>(shift: number, key: number, value: V): Branch<V> =>
  new Branch<V>(1, 1 << slotOf(key, shift), single<Branch<V> | V>(shift === 0 ? value : only(shift - BITS, key, value)))

const setIn = <V>(branch: Branch<V> | undefined, shift: number, key: number, value: V): Branch<V> => {
  if (branch === undefined) {
    keyWasAdded = true
    return only(shift, key, value)
  }
  const slot = slotOf(key, shift)
  const bit = 1 << slot
  const index = indexOf(branch.bitmap, slot)
  if ((branch.bitmap & bit) === 0) {
    keyWasAdded = true
    const child = shift === 0 ? value : only(shift - BITS, key, value)
    return new Branch(branch.count + 1, branch.bitmap | bit, inserted(branch.slots, index, child))
  }
  if (shift === 0) {
    keyWasAdded = false
    return new Branch(branch.count, branch.bitmap, replaced<Branch<V> | V>(branch.slots, index, value))
  }
  const child = setIn(branch.slots[index] as Branch<V>, shift - BITS, key, value)
  return new Branch(branch.count + (keyWasAdded ? 1 : 0), branch.bitmap, replaced<Branch<V> | V>(branch.slots, index, child))
}

/** values must not be undefined: undefined is how the trie says "absent" */
export const set = <V>(trie: IntTrie<V>, key: number, value: V): IntTrie<V> => {
  if (!Number.isInteger(key) || key < 0 || key > 0xffffffff) throw new RangeError(`IntTrie key out of range: ${key}`)
  let { shift, root } = trie
  while (key >= spanAt(shift) && shift < MAX_SHIFT) {
    if (root !== undefined) root = new Branch<V>(root.count, 1, single<Branch<V> | V>(root))
    shift += BITS
  }
  const updated = setIn(root, shift, key, value)
  return new Trie(trie.size + (keyWasAdded ? 1 : 0), shift, updated)
}

/** the key must be present */
const removeIn = <V>(branch: Branch<V>, shift: number, key: number): Branch<V> | undefined => {
  if (branch.count === 1) return undefined
  const slot = slotOf(key, shift)
  const index = indexOf(branch.bitmap, slot)
  const child = shift === 0 ? undefined : removeIn(branch.slots[index] as Branch<V>, shift - BITS, key)
  if (child === undefined) return new Branch(branch.count - 1, branch.bitmap & ~(1 << slot), removed(branch.slots, index))
  return new Branch(branch.count - 1, branch.bitmap, replaced<Branch<V> | V>(branch.slots, index, child))
}

export const remove = <V>(trie: IntTrie<V>, key: number): IntTrie<V> => {
  if (trie.root === undefined || get(trie, key) === undefined) return trie
  return new Trie(trie.size - 1, trie.shift, removeIn(trie.root, trie.shift, key))
}

const firstAbsentIn = <V>(branch: Branch<V> | undefined, shift: number, base: number, lo: number, hi: number): number => {
  if (branch === undefined) return lo
  if (branch.count === spanAt(shift)) return -1
  if (shift === 0) {
    const free = ~branch.bitmap & bitRange(lo - base, hi - base)
    return free === 0 ? -1 : base + lowestBit(free)
  }
  const childSpan = childSpanAt(shift)
  const firstSlot = Math.floor((lo - base) / childSpan)
  const lastSlot = Math.floor((hi - base) / childSpan)
  for (let slot = firstSlot; slot <= lastSlot; slot++) {
    const childBase = base + slot * childSpan
    const occupied = (branch.bitmap & (1 << slot)) !== 0
    const found = firstAbsentIn(
      occupied ? (branch.slots[indexOf(branch.bitmap, slot)] as Branch<V>) : undefined,
      shift - BITS,
      childBase,
      Math.max(lo, childBase),
      Math.min(hi, childBase + childSpan - 1),
    )
    if (found >= 0) return found
  }
  return -1
}

/** the lowest key in [lo, hi] that holds no value, or -1 when every key there is taken */
export const firstAbsent = <V>(trie: IntTrie<V>, lo: number, hi: number): number => {
  if (lo > hi) return -1
  const capacity = spanAt(trie.shift)
  if (lo >= capacity) return lo
  const found = firstAbsentIn(trie.root, trie.shift, 0, lo, Math.min(hi, capacity - 1))
  if (found >= 0) return found
  return hi >= capacity ? capacity : -1
}

const forEachIn = <V>(branch: Branch<V>, shift: number, base: number, visit: (value: V, key: number) => void): void => {
  const step = shift === 0 ? 1 : childSpanAt(shift)
  let index = 0
  for (let bits = branch.bitmap; bits !== 0; bits &= bits - 1) {
    const child = branch.slots[index++]
    const key = base + lowestBit(bits) * step
    if (shift === 0) visit(child as V, key)
    else forEachIn(child as Branch<V>, shift - BITS, key, visit)
  }
}

/** visits every entry in ascending key order */
export const forEach = <V>(trie: IntTrie<V>, visit: (value: V, key: number) => void): void => {
  if (trie.root !== undefined) forEachIn(trie.root, trie.shift, 0, visit)
}

/** the values in ascending key order */
export const values = <V>(trie: IntTrie<V>): Array<V> => {
  const collected: Array<V> = []
  forEach(trie, (value) => collected.push(value))
  return collected
}

/** the entries in ascending key order */
export const entries = <V>(trie: IntTrie<V>): Array<readonly [number, V]> => {
  const collected: Array<readonly [number, V]> = []
  forEach(trie, (value, key) => collected.push([key, value]))
  return collected
}

export const fromEntries = <V>(pairs: Iterable<readonly [number, V]>): IntTrie<V> => {
  let trie = empty<V>()
  for (const [key, value] of pairs) trie = set(trie, key, value)
  return trie
}
