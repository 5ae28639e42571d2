import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as IntTrie from "../../model/int-trie.ts"
import * as StringMap from "../../model/string-map.ts"

type IntOperation = { kind: "set"; key: number; value: number } | { kind: "remove"; key: number }

/** keys clustered in a few places, so that sets, overwrites and removals hit the same branches */
const intKey = fc.oneof(
  fc.integer({ min: 0, max: 70 }),
  fc.integer({ min: 1020, max: 1100 }),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(0xffffffff, 2 ** 31, 2 ** 31 - 1, 32767, 32768),
)
const intOperation: fc.Arbitrary<IntOperation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key: intKey, value: fc.integer() }),
  fc.record({ kind: fc.constant("remove" as const), key: intKey }),
)

const sortedEntries = (map: Map<number, number>) => [...map].sort(([a], [b]) => a - b)

describe("IntTrie", () => {
  it("behaves like a Map kept in key order, and never changes an older version", () => {
    fc.assert(
      fc.property(fc.array(intOperation, { maxLength: 120 }), (operations) => {
        let trie = IntTrie.empty<number>()
        const reference = new Map<number, number>()
        const history: Array<{ trie: IntTrie.IntTrie<number>; entries: Array<[number, number]> }> = []
        for (const operation of operations) {
          if (operation.kind === "set") {
            trie = IntTrie.set(trie, operation.key, operation.value)
            reference.set(operation.key, operation.value)
          } else {
            trie = IntTrie.remove(trie, operation.key)
            reference.delete(operation.key)
          }
          expect(trie.size).toBe(reference.size)
          expect(IntTrie.get(trie, operation.key)).toBe(reference.get(operation.key))
          history.push({ trie, entries: sortedEntries(reference) })
        }
        for (const { trie: version, entries } of history) expect(IntTrie.entries(version)).toEqual(entries)
      }),
    )
  })

  it("finds the lowest absent key in a range, as a scan would", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 3000 }), { maxLength: 400 }),
        fc.integer({ min: 0, max: 3100 }),
        fc.integer({ min: 0, max: 3100 }),
        (keys, lo, hi) => {
          const trie = IntTrie.fromEntries(keys.map((key) => [key, key] as const))
          const taken = new Set(keys)
          let expected = -1
          for (let key = lo; key <= hi; key++) {
            if (!taken.has(key)) {
              expected = key
              break
            }
          }
          expect(IntTrie.firstAbsent(trie, lo, hi)).toBe(expected)
        },
      ),
    )
  })

  it("skips full sub-trees: a completely filled range has no absent key, the next key is free", () => {
    const full = IntTrie.fromEntries(Array.from({ length: 70_000 }, (_, key) => [key, 1] as const))
    expect(IntTrie.firstAbsent(full, 0, 69_999)).toBe(-1)
    expect(IntTrie.firstAbsent(full, 0, 1_000_000)).toBe(70_000)
    expect(IntTrie.firstAbsent(IntTrie.remove(full, 65_536), 0, 69_999)).toBe(65_536)
  })

  it("refuses keys that are not unsigned 32-bit integers", () => {
    expect(() => IntTrie.set(IntTrie.empty(), -1, 1)).toThrow(RangeError)
    expect(() => IntTrie.set(IntTrie.empty(), 2 ** 32, 1)).toThrow(RangeError)
    expect(() => IntTrie.set(IntTrie.empty(), 1.5, 1)).toThrow(RangeError)
  })
})

type StringOperation = { kind: "set"; key: string; value: number } | { kind: "remove"; key: string }

/** two different strings with the same 32-bit hash, found by search (birthday bound: ~2^16 tries) */
const collidingPair = (): [string, string] => {
  const seen = new Map<number, string>()
  for (let index = 0; ; index++) {
    const key = `k${index}`
    const hash = StringMap.hashOf(key)
    const earlier = seen.get(hash)
    if (earlier !== undefined) return [earlier, key]
    seen.set(hash, key)
  }
}

describe("StringMap", () => {
  const [collisionA, collisionB] = collidingPair()
  const stringKey = fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom(collisionA, collisionB, "c1", "c10", "web"))
  const stringOperation: fc.Arbitrary<StringOperation> = fc.oneof(
    fc.record({ kind: fc.constant("set" as const), key: stringKey, value: fc.integer() }),
    fc.record({ kind: fc.constant("remove" as const), key: stringKey }),
  )

  it("has a real collision pair to test buckets with", () => {
    expect(collisionA).not.toBe(collisionB)
    expect(StringMap.hashOf(collisionA)).toBe(StringMap.hashOf(collisionB))
  })

  it("behaves like a Map, and never changes an older version", () => {
    fc.assert(
      fc.property(fc.array(stringOperation, { maxLength: 150 }), (operations) => {
        let map = StringMap.empty<number>()
        const reference = new Map<string, number>()
        const history: Array<{ map: StringMap.StringMap<number>; entries: Array<[string, number]> }> = []
        for (const operation of operations) {
          if (operation.kind === "set") {
            map = StringMap.set(map, operation.key, operation.value)
            reference.set(operation.key, operation.value)
          } else {
            map = StringMap.remove(map, operation.key)
            reference.delete(operation.key)
          }
          expect(map.size).toBe(reference.size)
          history.push({ map, entries: [...reference].sort() })
        }
        for (const { map: version, entries } of history) {
          const listed: Array<[string, number]> = []
          StringMap.forEach(version, (value, key) => listed.push([key, value]))
          expect(listed.sort()).toEqual(entries)
          for (const [key, value] of entries) expect(StringMap.get(version, key)).toBe(value)
        }
      }),
    )
  })

  it("keeps colliding keys apart", () => {
    let map = StringMap.set(StringMap.set(StringMap.empty<string>(), collisionA, "a"), collisionB, "b")
    expect([StringMap.get(map, collisionA), StringMap.get(map, collisionB), map.size]).toEqual(["a", "b", 2])
    map = StringMap.remove(map, collisionA)
    expect([StringMap.get(map, collisionA), StringMap.get(map, collisionB), map.size]).toEqual([undefined, "b", 1])
  })

  it("holds ten thousand keys", () => {
    let map = StringMap.empty<number>()
    for (let index = 0; index < 10_000; index++) map = StringMap.set(map, `c${index}`, index)
    expect(map.size).toBe(10_000)
    expect(StringMap.get(map, "c7777")).toBe(7777)
    expect(StringMap.get(map, "c10000")).toBeUndefined()
  })
})
