import { describe, expect, it } from "vitest"
import type { FwTable } from "../../backends/kernel-types.ts"
import { editCommands, editedRules, MAX_EDITED_RULES, type RuleEdits } from "../../backends/linux/nft/rule-edits.ts"
import { renderTable } from "../../backends/linux/nft/render.ts"

type Json = Record<string, unknown>

/** Pure tier: how a table's chains changed; rules put in are sent alone, by index; anything else is a replacement. */
const dnats = (ports: ReadonlyArray<number>, policy: "accept" | "drop" = "accept"): FwTable => ({
  name: "nat",
  chains: [{ name: "pre", hook: "prerouting", type: "nat", priority: -100, policy, rules: ports.map((port) => ({ match: { proto: "tcp", dport: port }, verdict: { kind: "dnat", to: "10.0.0.2", port: 80 } })) }],
})

const commands = (table: FwTable): Json[] => renderTable(table, new Map()).nftables as Json[]
const edit = (from: ReadonlyArray<number>, to: ReadonlyArray<number>): RuleEdits | undefined => editedRules(commands(dnats(from)), commands(dnats(to)))
/** what each command does, in short: "+3@0" adds port 3 after the old chain's rule 0, "+3@start" inserts it first */
const shortly = (list: ReadonlyArray<Json> | undefined) =>
  list?.map((command) => {
    const rule = ((command.add ?? command.insert) as { rule: { index?: number; expr: Array<{ match?: { right?: number } }> } }).rule
    const port = rule.expr.find((e) => typeof e.match?.right === "number")?.match?.right
    return `+${port}@${rule.index ?? "start"}`
  })

describe("nft rule edits", () => {
  it("rules left out are found at their positions in the old chain, and are no edit to send (a replacement)", () => {
    const edits = edit([1, 2, 3, 4], [1, 3]) as RuleEdits
    expect(edits.chains.map((c) => c.deleted)).toEqual([[1, 3]])
    expect(editCommands(edits)).toBeUndefined()
    expect(editCommands(edit([1, 2, 3, 4], [1, 9, 3, 4]) as RuleEdits)).toBeUndefined()
  })

  it("rules put in the middle go after the rule they follow, the last anchor first, several in order; at the start they are inserted", () => {
    expect(shortly(editCommands(edit([1, 4, 5], [1, 2, 3, 4, 5]) as RuleEdits))).toEqual(["+3@0", "+2@0"])
    expect(shortly(editCommands(edit([1, 4, 6], [1, 2, 4, 5, 6]) as RuleEdits))).toEqual(["+5@1", "+2@0"])
    expect(shortly(editCommands(edit([3, 4, 5], [1, 2, 3, 4, 5]) as RuleEdits))).toEqual(["+2@start", "+1@start"])
  })

  it("no edit: nothing changed, another policy, or more changed than kept or than the limit", () => {
    expect(edit([1, 2], [1, 2])).toBeUndefined()
    expect(editedRules(commands(dnats([1, 2, 3])), commands(dnats([1, 2], "drop")))).toBeUndefined()
    expect(edit([1, 2, 3], [1])).toBeUndefined()
    expect(edit([1, 2], [7, 8, 9])).toBeUndefined()
    const many = Array.from({ length: 3 * MAX_EDITED_RULES }, (_, i) => i + 1)
    expect(edit(many, many.slice(MAX_EDITED_RULES + 1))).toBeUndefined()
    expect(edit(many, many.slice(MAX_EDITED_RULES))).toBeDefined()
  })
})
