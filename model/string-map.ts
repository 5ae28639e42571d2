/**
 * A persistent map from strings to values: a hash array mapped trie (32-way, bitmap-compressed
 * branches). An update copies only the branches on the key's path, so a state with 10,000
 * containers is updated in well under a microsecond and every older state remains intact.
 * Iteration order is unspecified; ordered listings use an IntTrie keyed by sequence numbers.
 * Keys whose 32-bit hashes are equal share a collision bucket. Nodes are class instances and
 * arrays are built by arrays.ts, never literals (why: see arrays.ts).
 */
import { inserted, pair, removed, replaced, single } from "./arrays.ts"

const BITS = 5
const SLOT = (1 << BITS) - 1

class Leaf<V> {
  readonly kind = "leaf"
  constructor(
    readonly hash: number,
    readonly key: string,
    readonly value: V,
  ) {}
}

class Collision<V> {
  readonly kind = "collision"
  constructor(
    readonly hash: number,
    readonly leaves: ReadonlyArray<Leaf<V>>,
  ) {}
}

class Branch<V> {
  readonly kind = "branch"
  constructor(
    readonly bitmap: number,
    readonly children: ReadonlyArray<Node<V>>,
  ) {}
}

type Node<V> = Leaf<V> | Collision<V> | Branch<V>

class Map32<V> {
  constructor(
    readonly size: number,
    readonly root: Node<V> | undefined,
  ) {}
}

export type StringMap<V> = Map32<V>

const emptyMap: StringMap<never> = new Map32<never>(0, undefined)

export const empty = <V>(): StringMap<V> => emptyMap

/** FNV-1a, then a final avalanche so that short names that differ in one letter spread well */
export const hashOf = (key: string): number => {
  let hash = 0x811c9dc5
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  return hash >>> 0
}

const popcount = (word: number): number => {
  let bits = word - ((word >>> 1) & 0x55555555)
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333)
  return Math.imul((bits + (bits >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}

const bitOf = (hash: number, shift: number): number => 1 << ((hash >>> shift) & SLOT)

export const get = <V>(map: StringMap<V>, key: string): V | undefined => {
  const hash = hashOf(key)
  let node = map.root
  let shift = 0
  while (node !== undefined) {
    switch (node.kind) {
      case "leaf":
        return node.key === key ? node.value : undefined
      case "collision":
        if (node.hash !== hash) return undefined
        return node.leaves.find((leaf) => leaf.key === key)?.value
      case "branch": {
        const bit = bitOf(hash, shift)
        if ((node.bitmap & bit) === 0) return undefined
        node = node.children[popcount(node.bitmap & (bit - 1))]
        shift += BITS
      }
    }
  }
  return undefined
}

export const has = <V>(map: StringMap<V>, key: string): boolean => get(map, key) !== undefined

const hashOfNode = <V>(node: Leaf<V> | Collision<V>): number => node.hash

/** a branch (or chain of branches) holding two nodes whose hashes differ */
const joinNodes = <V>(first: Leaf<V> | Collision<V>, second: Leaf<V> | Collision<V>, shift: number): Node<V> => {
  const firstBit = bitOf(hashOfNode(first), shift)
  const secondBit = bitOf(hashOfNode(second), shift)
  if (firstBit === secondBit) return new Branch(firstBit, single(joinNodes(first, second, shift + BITS)))
  const children = firstBit >>> 0 < secondBit >>> 0 ? pair<Node<V>>(first, second) : pair<Node<V>>(second, first)
  return new Branch(firstBit | secondBit, children)
}

/** set by setIn when the key was new, so that set knows the size changed without a second lookup */
let keyWasAdded = false

const setIn = <V>(node: Node<V> | undefined, shift: number, leaf: Leaf<V>): Node<V> => {
  if (node === undefined) {
    keyWasAdded = true
    return leaf
  }
  switch (node.kind) {
    case "leaf":
      if (node.key === leaf.key) return node.value === leaf.value ? node : leaf
      keyWasAdded = true
      if (node.hash === leaf.hash) return new Collision(leaf.hash, pair(node, leaf))
      return joinNodes(node, leaf, shift)
    case "collision": {
      if (node.hash !== leaf.hash) {
        keyWasAdded = true
        return joinNodes(node, leaf, shift)
      }
      const index = node.leaves.findIndex((existing) => existing.key === leaf.key)
      const leaves = node.leaves.slice()
      if (index < 0) {
        keyWasAdded = true
        leaves.push(leaf)
      } else leaves[index] = leaf
      return new Collision(node.hash, leaves)
    }
    case "branch": {
      const bit = bitOf(leaf.hash, shift)
      const index = popcount(node.bitmap & (bit - 1))
      if ((node.bitmap & bit) === 0) {
        keyWasAdded = true
        return new Branch(node.bitmap | bit, inserted<Node<V>>(node.children, index, leaf))
      }
      const child = node.children[index] as Node<V>
      const updated = setIn(child, shift + BITS, leaf)
      if (updated === child) return node
      return new Branch(node.bitmap, replaced(node.children, index, updated))
    }
  }
}

/** values must not be undefined: undefined is how the map says "absent" */
export const set = <V>(map: StringMap<V>, key: string, value: V): StringMap<V> => {
  keyWasAdded = false
  const root = setIn(map.root, 0, new Leaf(hashOf(key), key, value))
  if (root === map.root) return map
  return new Map32(map.size + (keyWasAdded ? 1 : 0), root)
}

const removeIn = <V>(node: Node<V>, shift: number, hash: number, key: string): Node<V> | undefined => {
  switch (node.kind) {
    case "leaf":
      return node.key === key ? undefined : node
    case "collision": {
      if (node.hash !== hash) return node
      const leaves = node.leaves.filter((leaf) => leaf.key !== key)
      if (leaves.length === node.leaves.length) return node
      return leaves.length === 1 ? leaves[0] : new Collision(hash, leaves)
    }
    case "branch": {
      const bit = bitOf(hash, shift)
      if ((node.bitmap & bit) === 0) return node
      const index = popcount(node.bitmap & (bit - 1))
      const child = node.children[index] as Node<V>
      const updated = removeIn(child, shift + BITS, hash, key)
      if (updated === child) return node
      if (updated === undefined) {
        const bitmap = node.bitmap & ~bit
        if (bitmap === 0) return undefined
        const children = removed(node.children, index)
        // a lone leaf or bucket needs no branch above it: lookups compare full keys anyway
        const only = children[0] as Node<V>
        if (children.length === 1 && only.kind !== "branch") return only
        return new Branch(bitmap, children)
      }
      if (node.children.length === 1 && updated.kind !== "branch") return updated
      return new Branch(node.bitmap, replaced(node.children, index, updated))
    }
  }
}

export const remove = <V>(map: StringMap<V>, key: string): StringMap<V> => {
  if (map.root === undefined) return map
  const root = removeIn(map.root, 0, hashOf(key), key)
  return root === map.root ? map : new Map32(map.size - 1, root)
}

const forEachIn = <V>(node: Node<V>, visit: (value: V, key: string) => void): void => {
  switch (node.kind) {
    case "leaf":
      visit(node.value, node.key)
      return
    case "collision":
      for (const leaf of node.leaves) visit(leaf.value, leaf.key)
      return
    case "branch":
      for (const child of node.children) forEachIn(child, visit)
  }
}

/** visits every entry, in no particular order */
export const forEach = <V>(map: StringMap<V>, visit: (value: V, key: string) => void): void => {
  if (map.root !== undefined) forEachIn(map.root, visit)
}

export const values = <V>(map: StringMap<V>): Array<V> => {
  const collected: Array<V> = []
  forEach(map, (value) => collected.push(value))
  return collected
}

export const keys = <V>(map: StringMap<V>): Array<string> => {
  const collected: Array<string> = []
  forEach(map, (_, key) => collected.push(key))
  return collected
}
