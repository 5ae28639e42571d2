/**
 * A persistent map from unsigned 32-bit integers to values: a 32-way radix trie where every
 * update copies only the path to the key (at most 7 arrays of 32 slots), so old versions stay
 * valid and cheap to keep. Each branch counts the keys below it, which makes "lowest key not
 * present in [lo, hi]" fast: full sub-trees are skipped without descending. That query is what
 * IPAM needs ("lowest free address"), and key order iteration is what creation-order listings need.
 */

const BITS = 5
const WIDTH = 1 << BITS
const SLOT = WIDTH - 1
/** a shift of 30 already addresses 2^35 keys, more than 32 bits */
const MAX_SHIFT = 30

interface Branch<V> {
  /** number of keys stored below this branch */
  readonly count: number
  /** at shift 0 the slots hold values, above they hold branches */
  readonly slots: ReadonlyArray<Branch<V> | V | undefined>
}

export interface IntTrie<V> {
  readonly size: number
  readonly shift: number
  readonly root: Branch<V> | undefined
}

const emptyTrie: IntTrie<never> = { size: 0, shift: 0, root: undefined }

export const empty = <V>(): IntTrie<V> => emptyTrie

/** how many keys a branch at each shift (0, 5, … 30) can hold: a table, as `**` is slow in hot loops */
const spans: ReadonlyArray<number> = Array.from({ length: MAX_SHIFT / BITS + 1 }, (_, level) => 2 ** ((level + 1) * BITS))
const spanAt = (shift: number): number => spans[shift / BITS] as number
/** what a child of a branch at each shift can hold */
const childSpanAt = (shift: number): number => spans[shift / BITS - 1] as number

const slotOf = (key: number, shift: number): number => (key >>> shift) & SLOT

export const get = <V>(trie: IntTrie<V>, key: number): V | undefined => {
  if (trie.root === undefined || key >= spanAt(trie.shift) || key < 0) return undefined
  let branch: Branch<V> = trie.root
  for (let shift = trie.shift; shift > 0; shift -= BITS) {
    const child = branch.slots[slotOf(key, shift)] as Branch<V> | undefined
    if (child === undefined) return undefined
    branch = child
  }
  return branch.slots[key & SLOT] as V | undefined
}

export const has = <V>(trie: IntTrie<V>, key: number): boolean => get(trie, key) !== undefined

/** set by the leaf level of setIn, read by the branches above it on the way back up */
let keyWasAdded = false

const setIn = <V>(branch: Branch<V> | undefined, shift: number, key: number, value: V): Branch<V> => {
  const slots = branch === undefined ? new Array<Branch<V> | V | undefined>(WIDTH) : branch.slots.slice()
  const slot = slotOf(key, shift)
  if (shift === 0) {
    keyWasAdded = slots[slot] === undefined
    slots[slot] = value
  } else {
    slots[slot] = setIn(slots[slot] as Branch<V> | undefined, shift - BITS, key, value)
  }
  return { count: (branch === undefined ? 0 : branch.count) + (keyWasAdded ? 1 : 0), slots }
}

/** values must not be undefined: undefined is how the trie says "absent" */
export const set = <V>(trie: IntTrie<V>, key: number, value: V): IntTrie<V> => {
  if (!Number.isInteger(key) || key < 0 || key > 0xffffffff) throw new RangeError(`IntTrie key out of range: ${key}`)
  let { shift, root } = trie
  while (key >= spanAt(shift) && shift < MAX_SHIFT) {
    if (root !== undefined) {
      const slots = new Array<Branch<V> | V | undefined>(WIDTH)
      slots[0] = root
      root = { count: root.count, slots }
    }
    shift += BITS
  }
  const updated = setIn(root, shift, key, value)
  return { size: trie.size + (keyWasAdded ? 1 : 0), shift, root: updated }
}

const removeIn = <V>(branch: Branch<V>, shift: number, key: number): Branch<V> | undefined => {
  if (branch.count === 1) return undefined
  const slots = branch.slots.slice()
  const slot = slotOf(key, shift)
  slots[slot] = shift === 0 ? undefined : removeIn(slots[slot] as Branch<V>, shift - BITS, key)
  return { count: branch.count - 1, slots }
}

export const remove = <V>(trie: IntTrie<V>, key: number): IntTrie<V> => {
  if (trie.root === undefined || get(trie, key) === undefined) return trie
  return { size: trie.size - 1, shift: trie.shift, root: removeIn(trie.root, trie.shift, key) }
}

const firstAbsentIn = <V>(branch: Branch<V> | undefined, shift: number, base: number, lo: number, hi: number): number => {
  if (branch === undefined) return lo
  if (branch.count === spanAt(shift)) return -1
  if (shift === 0) {
    for (let key = lo; key <= hi; key++) if (branch.slots[key - base] === undefined) return key
    return -1
  }
  const childSpan = childSpanAt(shift)
  const firstSlot = Math.floor((lo - base) / childSpan)
  const lastSlot = Math.floor((hi - base) / childSpan)
  for (let slot = firstSlot; slot <= lastSlot; slot++) {
    const childBase = base + slot * childSpan
    const found = firstAbsentIn(
      branch.slots[slot] as Branch<V> | undefined,
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
  for (let slot = 0; slot < WIDTH; slot++) {
    const child = branch.slots[slot]
    if (child === undefined) continue
    if (shift === 0) visit(child as V, base + slot)
    else forEachIn(child as Branch<V>, shift - BITS, base + slot * step, visit)
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
