/**
 * When a table's new commands only drop a few rules from its chains (a container with published
 * ports left: its DNAT, its accept and its hairpin masquerade go), those rules are all that needs
 * to be sent, as `delete rule … handle N`: the kernel's table then equals the full replacement's,
 * and a leave among 1,000 published ports costs three rules, not 3,000. The handles are the
 * kernel's: the caller lists the chains concerned (nft lists rules in order, with their handles)
 * while the kernel still holds exactly the old commands' table (firewall.ts asks nftables'
 * generation). Anything else (a chain, a policy, a set, a rule added or changed, or more rules
 * dropped than kept) is a replacement.
 */

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
  for (const command of commands) {
    const rule = (command.add as { rule?: RuleRef } | undefined)?.rule
    if (!rule) {
      skeleton.push(JSON.stringify(command))
      continue
    }
    const key = `${rule.family} ${rule.table} ${rule.chain}`
    const entry = rules.get(key) ?? { ref: { family: rule.family, table: rule.table, chain: rule.chain }, texts: [] }
    entry.texts.push(JSON.stringify(command))
    rules.set(key, entry)
  }
  return { skeleton: skeleton.join("\n"), rules }
}

/** what is to be deleted: per chain, the positions (in the old chain) of the rules that go */
export interface Removal {
  readonly chains: ReadonlyArray<{ readonly ref: RuleRef; readonly positions: ReadonlyArray<number> }>
}

/** the most rules a removal deletes one by one; more, and replacing the table is as cheap */
export const MAX_REMOVED_RULES = 64

/**
 * The rules `after` drops from `before`'s chains, by position, or undefined when dropping rules
 * cannot make the change (or would drop more than MAX_REMOVED_RULES, or more than it keeps).
 */
export const removedRules = (before: ReadonlyArray<Json>, after: ReadonlyArray<Json>): Removal | undefined => {
  const old = split(before)
  const next = split(after)
  if (old.skeleton !== next.skeleton) return undefined
  for (const key of next.rules.keys()) if (!old.rules.has(key)) return undefined
  const chains: Array<{ ref: RuleRef; positions: number[] }> = []
  let removed = 0
  let kept = 0
  for (const [key, { ref, texts }] of old.rules) {
    const wanted = next.rules.get(key)?.texts ?? []
    // the new chain must be the old one with some rules left out, in the same order
    const positions: number[] = []
    let w = 0
    for (let i = 0; i < texts.length; i++) {
      if (w < wanted.length && texts[i] === wanted[w]) w++
      else positions.push(i)
    }
    if (w !== wanted.length) return undefined
    removed += positions.length
    kept += wanted.length
    if (positions.length > 0) chains.push({ ref, positions })
  }
  if (removed === 0 || removed > MAX_REMOVED_RULES || removed > kept) return undefined
  return { chains }
}

/** the handles of a chain's rules, in order, from `nft -j list chain` output */
export const ruleHandles = (listing: unknown): number[] => {
  const items = (listing as { nftables?: Array<{ rule?: { handle?: number } }> }).nftables ?? []
  return items.flatMap((item) => (item.rule?.handle === undefined ? [] : [item.rule.handle]))
}

/** `list chain` for one chain, in nft's syntax */
export const listChainCommand = (ref: RuleRef): string => `list chain ${ref.family} ${ref.table} ${ref.chain}`

/** the delete commands, given each chain's handles in order (undefined when a chain lists fewer rules than expected) */
export const deleteCommands = (removal: Removal, handlesOf: (ref: RuleRef) => ReadonlyArray<number>): Json[] | undefined => {
  const commands: Json[] = []
  for (const { ref, positions } of removal.chains) {
    const handles = handlesOf(ref)
    for (const position of positions) {
      const handle = handles[position]
      if (handle === undefined) return undefined
      commands.push({ delete: { rule: { family: ref.family, table: ref.table, chain: ref.chain, handle } } })
    }
  }
  return commands
}
