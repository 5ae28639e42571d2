/**
 * When a table's new commands only add rules at the ends of its chains (a network created, a port
 * published), the rules added are all that needs to be sent: the kernel's table then equals the
 * full replacement's, and libnftables and the kernel handle a few rules instead of all of them.
 * Anything else (a chain, a policy, a set's elements, a rule removed or changed) is a replacement.
 * Whether the kernel still holds exactly the old commands' table is the caller's to know
 * (firewall.ts asks nftables' generation).
 */

import { commandTexts } from "./command-texts.ts"

type Json = Record<string, unknown>

interface Split {
  /** every command that is not `add rule`, in order, as JSON text */
  readonly skeleton: string
  /** the `add rule` commands of each chain, in order, keyed by family, table and chain */
  readonly rules: Map<string, Array<{ readonly text: string; readonly command: Json }>>
}

const split = (commands: ReadonlyArray<Json>): Split => {
  const skeleton: string[] = []
  const rules: Split["rules"] = new Map()
  const texts = commandTexts(commands)
  for (const [i, command] of commands.entries()) {
    const rule = (command.add as { rule?: { family: string; table: string; chain: string } } | undefined)?.rule
    if (!rule) {
      skeleton.push(texts[i] as string)
      continue
    }
    const key = `${rule.family} ${rule.table} ${rule.chain}`
    const list = rules.get(key) ?? []
    list.push({ text: texts[i] as string, command })
    rules.set(key, list)
  }
  return { skeleton: skeleton.join("\n"), rules }
}

/** the `add rule` commands that turn `before`'s table into `after`'s, or undefined when adding rules cannot */
export const appendedRules = (before: ReadonlyArray<Json>, after: ReadonlyArray<Json>): Json[] | undefined => {
  const old = split(before)
  const next = split(after)
  if (old.skeleton !== next.skeleton) return undefined
  for (const key of old.rules.keys()) if (!next.rules.has(key)) return undefined
  const added: Json[] = []
  for (const [key, rules] of next.rules) {
    const kept = old.rules.get(key) ?? []
    if (kept.length > rules.length) return undefined
    for (let i = 0; i < kept.length; i++) if ((kept[i] as { text: string }).text !== (rules[i] as { text: string }).text) return undefined
    for (const rule of rules.slice(kept.length)) added.push(rule.command)
  }
  return added
}
