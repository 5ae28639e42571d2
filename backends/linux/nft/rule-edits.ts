/**
 * How a table's chains changed from the commands committed before to the new ones: the rules that
 * go and the rules put in, the others kept in their order. When only a few rules are put in (a
 * container with published ports joining in the middle of the chains: its DNAT, its accept and its
 * hairpin masquerade), they are all that needs to be sent, `add rule … index N` after the rule
 * each follows or `insert rule` at a chain's start, while the kernel still holds exactly the old
 * commands' table (firewall.ts asks nftables' generation): a join among 1,000 published ports
 * then costs three rules, not 3,000. Anything else is a replacement.
 */

import { commandTexts } from "./command-texts.ts"

type Json = Record<string, unknown>

interface RuleRef {
  readonly family: string
  readonly table: string
  readonly chain: string
}

interface Split {
  /** every command that is not `add rule`, in order, as JSON text */
  readonly skeleton: string
  /** the `add rule` commands of each chain as JSON text, in order, keyed by family, table and chain */
  readonly rules: Map<string, { readonly ref: RuleRef; readonly texts: Array<string> }>
}

const split = (commands: ReadonlyArray<Json>): Split => {
  const skeleton: string[] = []
  const rules: Split["rules"] = new Map()
  const texts = commandTexts(commands)
  for (const [i, command] of commands.entries()) {
    const rule = (command.add as { rule?: RuleRef } | undefined)?.rule
    if (!rule) {
      skeleton.push(texts[i] as string)
      continue
    }
    const key = `${rule.family} ${rule.table} ${rule.chain}`
    const entry = rules.get(key) ?? { ref: { family: rule.family, table: rule.table, chain: rule.chain }, texts: [] }
    entry.texts.push(texts[i] as string)
    rules.set(key, entry)
  }
  return { skeleton: skeleton.join("\n"), rules }
}

/** one chain's edit: the old rules that go (by position), and new rules put after an old one that stays (-1: first) */
export interface ChainEdit {
  readonly ref: RuleRef
  readonly deleted: ReadonlyArray<number>
  readonly inserted: ReadonlyArray<{ readonly after: number; readonly command: Json }>
}

export interface RuleEdits {
  readonly chains: ReadonlyArray<ChainEdit>
}

/** the most rules an edit deletes and adds one by one; more, and replacing the table is as cheap */
export const MAX_EDITED_RULES = 64

/**
 * The rules `after` drops from and adds to `before`'s chains, keeping the others in their order
 * (a greedy alignment: a rule of `after` met later in the old chain drops the old rules before
 * it), or undefined when the skeletons differ, or more rules change than MAX_EDITED_RULES or
 * than stay.
 */
export const editedRules = (before: ReadonlyArray<Json>, after: ReadonlyArray<Json>): RuleEdits | undefined => {
  const old = split(before)
  const next = split(after)
  if (old.skeleton !== next.skeleton) return undefined
  for (const key of next.rules.keys()) if (!old.rules.has(key)) return undefined
  const nextCommands = new Map<string, Json[]>()
  for (const command of after) {
    const key = ruleKey(command)
    if (key === undefined) continue
    const list = nextCommands.get(key)
    if (list === undefined) nextCommands.set(key, [command])
    else list.push(command)
  }
  const chains: Array<ChainEdit> = []
  let changed = 0
  let kept = 0
  for (const [key, { ref, texts }] of old.rules) {
    const wanted = next.rules.get(key)?.texts ?? []
    const commands = nextCommands.get(key) ?? []
    // where each text occurs in the old chain, in order, and how far each list has been passed
    const at = new Map<string, { readonly positions: number[]; next: number }>()
    texts.forEach((text, i) => {
      const entry = at.get(text)
      if (entry === undefined) at.set(text, { positions: [i], next: 0 })
      else entry.positions.push(i)
    })
    const laterThan = (text: string, from: number): number | undefined => {
      const entry = at.get(text)
      if (entry === undefined) return undefined
      while (entry.next < entry.positions.length && (entry.positions[entry.next] as number) < from) entry.next++
      return entry.positions[entry.next]
    }
    const deleted: number[] = []
    const inserted: Array<{ after: number; command: Json }> = []
    let i = 0
    let lastKept = -1
    for (let j = 0; j < wanted.length; j++) {
      const text = wanted[j] as string
      const later = laterThan(text, i)
      if (later === undefined || later - i > MAX_EDITED_RULES) {
        inserted.push({ after: lastKept, command: commands[j] as Json })
        continue
      }
      for (; i < later; i++) deleted.push(i)
      lastKept = later
      i = later + 1
      kept++
    }
    for (; i < texts.length; i++) deleted.push(i)
    changed += deleted.length + inserted.length
    if (changed > MAX_EDITED_RULES) return undefined
    if (deleted.length > 0 || inserted.length > 0) chains.push({ ref, deleted, inserted })
  }
  if (changed === 0 || changed > kept) return undefined
  return { chains }
}

const ruleKey = (command: Json): string | undefined => {
  const rule = (command.add as { rule?: RuleRef } | undefined)?.rule
  return rule === undefined ? undefined : `${rule.family} ${rule.table} ${rule.chain}`
}

/**
 * The commands of the rules put in (undefined when rules go: deleting one takes its handle, which
 * only a listing of the table gives, firewall.ts says why that is not done), by the position
 * (`index`) in the old chain of the rule each follows: nft 1.0.6 reads an add's `index` and
 * ignores its `handle` and `position` there (measured). The anchors go from the chain's end to its
 * start, where an insertion moves nothing still to be used, and the rules after one anchor last
 * first, each landing right after it; `insert` at the chain's start.
 */
export const editCommands = (edits: RuleEdits): Json[] | undefined => {
  const commands: Json[] = []
  for (const { deleted, inserted } of edits.chains) {
    if (deleted.length > 0) return undefined
    const byAnchor = [...inserted].map((entry, order) => ({ ...entry, order })).sort((a, b) => b.after - a.after || b.order - a.order)
    for (const { after, command } of byAnchor) {
      const rule = (command.add as { rule: Json }).rule
      commands.push(after < 0 ? { insert: { rule } } : { add: { rule: { ...rule, index: after } } })
    }
  }
  return commands
}
