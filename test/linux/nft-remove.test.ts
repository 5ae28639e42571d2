import { describe, expect, it } from "vitest"
import type { FwTable } from "../../backends/kernel-types.ts"
import { deleteCommands, MAX_REMOVED_RULES, removedRules } from "../../backends/linux/nft/remove.ts"
import { renderTable } from "../../backends/linux/nft/render.ts"

type Json = Record<string, unknown>

/** Pure tier: rules dropped from a table's chains are sent as deletions by handle; anything else is a replacement. */
const dnats = (ports: ReadonlyArray<number>, policy: "accept" | "drop" = "accept"): FwTable => ({
  name: "nat",
  chains: [{ name: "pre", hook: "prerouting", type: "nat", priority: -100, policy, rules: ports.map((port) => ({ match: { proto: "tcp", dport: port }, verdict: { kind: "dnat", to: "10.0.0.2", port: 80 } })) }],
})

const commands = (table: FwTable): Json[] => renderTable(table, new Map()).nftables as Json[]

describe("nft rule removals", () => {
  it("rules left out of a chain are deleted by the handles the chain lists at their positions", () => {
    const removal = removedRules(commands(dnats([1, 2, 3, 4])), commands(dnats([1, 3])))
    expect(removal?.chains.map((c) => c.positions)).toEqual([[1, 3]])
    expect(deleteCommands(removal as NonNullable<typeof removal>, () => [11, 12, 13, 14])).toEqual([
      { delete: { rule: { family: "ip", table: "cnm-nat", chain: "pre", handle: 12 } } },
      { delete: { rule: { family: "ip", table: "cnm-nat", chain: "pre", handle: 14 } } },
    ])
  })

  it("no removal: nothing dropped, a rule added or moved, another policy, or more dropped than kept or than the limit", () => {
    expect(removedRules(commands(dnats([1, 2])), commands(dnats([1, 2])))).toBeUndefined()
    expect(removedRules(commands(dnats([1, 2])), commands(dnats([1, 2, 3])))).toBeUndefined()
    expect(removedRules(commands(dnats([1, 2, 3])), commands(dnats([3, 1])))).toBeUndefined()
    expect(removedRules(commands(dnats([1, 2, 3])), commands(dnats([1, 2], "drop")))).toBeUndefined()
    expect(removedRules(commands(dnats([1, 2, 3])), commands(dnats([1])))).toBeUndefined()
    const many = Array.from({ length: 3 * MAX_REMOVED_RULES }, (_, i) => i + 1)
    expect(removedRules(commands(dnats(many)), commands(dnats(many.slice(MAX_REMOVED_RULES + 1))))).toBeUndefined()
    expect(removedRules(commands(dnats(many)), commands(dnats(many.slice(MAX_REMOVED_RULES))))).toBeDefined()
  })

  it("a chain that lists fewer rules than the table had gives no deletions", () => {
    const removal = removedRules(commands(dnats([1, 2, 3])), commands(dnats([1, 2])))
    expect(deleteCommands(removal as NonNullable<typeof removal>, () => [11, 12])).toBeUndefined()
  })
})
