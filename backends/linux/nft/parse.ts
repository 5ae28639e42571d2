import type { CtState, FwChain, FwHook, FwMatch, FwRule, FwTable, FwVerdict } from "../../kernel-types.ts"
import { parseCidr } from "../netlink/wire.ts"
import { defaultPriority, PORT_SET_PREFIX, TABLE_PREFIX } from "./render.ts"

/**
 * `nft -j list ruleset` -> the FwTables cnmlab made (tables named cnm-*, family ip and bridge,
 * merged by name). Expressions cnmlab never writes are skipped; a rule made only of such
 * expressions still appears, with an empty match, so a foreign rule is visible, not hidden.
 */

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

interface ParsedChain {
  name: string
  family: string
  hook?: FwHook
  type?: "filter" | "nat" | "route"
  priority?: number
  policy?: "accept" | "drop"
  rules: FwRule[]
}

const HOOKS: ReadonlySet<string> = new Set(["prerouting", "input", "forward", "output", "postrouting"])

const hookOf = (family: string, hook: unknown): FwHook | undefined => {
  if (typeof hook !== "string") return undefined
  if (family === "bridge") return hook === "forward" ? "bridge-forward" : undefined
  return HOOKS.has(hook) ? (hook as FwHook) : undefined
}

const addressOf = (right: unknown): string | undefined => {
  if (typeof right === "string") return `${right}/32`
  if (isObject(right) && isObject(right.prefix)) {
    const { addr, len } = right.prefix as { addr?: unknown; len?: unknown }
    if (typeof addr === "string" && typeof len === "number") return `${addr}/${len}`
  }
  return undefined
}

const CT_STATES: ReadonlySet<string> = new Set(["new", "established", "related"])

/** folds one match expression into the FwMatch being built */
const applyMatch = (m: { -readonly [K in keyof FwMatch]: FwMatch[K] }, expr: Json): void => {
  const { op, left, right } = expr as { op?: unknown; left?: unknown; right?: unknown }
  if (!isObject(left)) return
  const negated = op === "!="
  if (isObject(left.meta)) {
    const key = (left.meta as { key?: unknown }).key
    if (key === "ipsec" && typeof right === "boolean") m.ipsec = negated ? !right : right
    if (typeof right !== "string") return
    if (key === "iifname" && right.startsWith(`@${PORT_SET_PREFIX}`) && !negated) m.bridge = right.slice(PORT_SET_PREFIX.length + 1)
    else if (key === "iifname") negated ? (m.iifNot = right) : (m.iif = right)
    else if (key === "oifname") negated ? (m.oifNot = right) : (m.oif = right)
    return
  }
  if (isObject(left.payload)) {
    const { protocol, field, base, offset, len } = left.payload as { protocol?: unknown; field?: unknown; base?: unknown; offset?: unknown; len?: unknown }
    if (base === "th" && offset === 96 && len === 24 && typeof right === "number" && !negated) m.vni = right
    else if (protocol === "ip" && (field === "saddr" || field === "daddr")) {
      const cidr = addressOf(right)
      if (cidr === undefined) return
      if (field === "saddr") negated ? (m.srcNot = cidr) : (m.src = cidr)
      else negated ? (m.dstNot = cidr) : (m.dst = cidr)
    } else if (protocol === "ip" && field === "protocol" && (right === "icmp" || right === "tcp" || right === "udp")) {
      m.proto = right
    } else if ((field === "dport" || field === "sport") && typeof right === "number") {
      m[field] = right
      if (protocol === "tcp" || protocol === "udp") m.proto = protocol
    }
    return
  }
  if (isObject(left.fib) && (left.fib as { result?: unknown }).result === "type" && right === "local") {
    const flags = (left.fib as { flags?: unknown }).flags
    const which = Array.isArray(flags) ? flags : [flags]
    if (which.includes("daddr")) m.dstLocal = !negated
    else if (which.includes("saddr")) m.srcLocal = !negated
    return
  }
  if (isObject(left.ct) && (left.ct as { key?: unknown }).key === "state") {
    const states = (Array.isArray(right) ? right : [right]).filter((s): s is CtState => typeof s === "string" && CT_STATES.has(s))
    m.ctState = states
  }
}

const verdictOf = (expr: Json): FwVerdict | undefined => {
  if ("accept" in expr) return { kind: "accept" }
  if ("drop" in expr) return { kind: "drop" }
  if ("return" in expr) return { kind: "return" }
  if ("masquerade" in expr) return { kind: "masquerade" }
  if (isObject(expr.jump) && typeof (expr.jump as { target?: unknown }).target === "string")
    return { kind: "jump", chain: (expr.jump as { target: string }).target }
  if (isObject(expr.mangle)) {
    const { key, value } = expr.mangle as { key?: unknown; value?: unknown }
    if (isObject(key) && isObject(key.meta) && (key.meta as { key?: unknown }).key === "mark" && typeof value === "number") return { kind: "mark", value }
  }
  for (const kind of ["dnat", "snat"] as const) {
    if (!isObject(expr[kind])) continue
    const { addr, port } = expr[kind] as { addr?: unknown; port?: unknown }
    const withPort = typeof port === "number" ? { port } : {}
    if (typeof addr === "string") return { kind, to: addr, ...withPort }
    const balanced = kind === "dnat" ? balancedAddresses(addr) : undefined
    if (balanced !== undefined) return { kind: "dnatBalance", to: balanced, ...withPort }
  }
  return undefined
}

/** `numgen inc mod N map { 0 : a, … }` -> [a, …] in key order; undefined for any other map */
const balancedAddresses = (addr: unknown): string[] | undefined => {
  if (!isObject(addr) || !isObject(addr.map)) return undefined
  const { key, data } = addr.map as { key?: unknown; data?: unknown }
  if (!isObject(key) || !isObject(key.numgen) || (key.numgen as { mode?: unknown }).mode !== "inc") return undefined
  if (!isObject(data) || !Array.isArray(data.set)) return undefined
  const pairs: Array<[number, string]> = []
  for (const element of data.set) {
    if (!Array.isArray(element) || typeof element[0] !== "number" || typeof element[1] !== "string") return undefined
    pairs.push([element[0], element[1]])
  }
  return pairs.sort((a, b) => a[0] - b[0]).map(([, to]) => to)
}

/** a rule without a verdict statement (a counter, say) filters nothing: it is left out */
const ruleOf = (rule: Json): FwRule | undefined => {
  const match: { -readonly [K in keyof FwMatch]: FwMatch[K] } = {}
  let verdict: FwVerdict | undefined
  for (const expr of Array.isArray(rule.expr) ? rule.expr : []) {
    if (!isObject(expr)) continue
    if (isObject(expr.match)) applyMatch(match, expr.match)
    verdict = verdictOf(expr) ?? verdict
  }
  if (!verdict) return undefined
  return { match, verdict, ...(typeof rule.comment === "string" ? { comment: rule.comment } : {}) }
}

/** every cnm-* table in the ruleset, ip and bridge halves merged, in ruleset order */
export const parseRuleset = (ruleset: unknown): FwTable[] => {
  const items = isObject(ruleset) && Array.isArray(ruleset.nftables) ? ruleset.nftables : []
  const tables = new Map<string, ParsedChain[]>()
  const chains = new Map<string, ParsedChain>()
  const chainKey = (family: string, table: string, name: string): string => `${family}\u0000${table}\u0000${name}`
  for (const item of items) {
    if (!isObject(item)) continue
    if (isObject(item.table)) {
      const { family, name } = item.table as { family?: unknown; name?: unknown }
      if ((family === "ip" || family === "bridge") && typeof name === "string" && name.startsWith(TABLE_PREFIX)) {
        if (!tables.has(name)) tables.set(name, [])
      }
    } else if (isObject(item.chain)) {
      const c = item.chain as Json
      const family = String(c.family)
      const table = String(c.table)
      const list = tables.get(table)
      if (!list || (family !== "ip" && family !== "bridge")) continue
      const hook = hookOf(family, c.hook)
      const chain: ParsedChain = {
        name: String(c.name),
        family,
        rules: [],
        ...(hook ? { hook } : {}),
        ...(hook && (c.type === "filter" || c.type === "nat" || c.type === "route") ? { type: c.type } : {}),
        ...(hook && typeof c.prio === "number" ? { priority: c.prio } : {}),
        ...(hook && (c.policy === "accept" || c.policy === "drop") ? { policy: c.policy } : {}),
      }
      chains.set(chainKey(family, table, chain.name), chain)
      list.push(chain)
    } else if (isObject(item.rule)) {
      const r = item.rule as Json
      const rule = ruleOf(r)
      if (rule) chains.get(chainKey(String(r.family), String(r.table), String(r.chain)))?.rules.push(rule)
    }
  }
  return [...tables].map(([name, list]) => {
    // a regular chain reachable from both families is written twice: show it once
    const seen = new Set<string>()
    const merged: FwChain[] = []
    for (const chain of list) {
      if (chain.hook === undefined && seen.has(chain.name)) continue
      seen.add(chain.name)
      const { family: _family, ...rest } = chain
      merged.push(rest)
    }
    return { name: name.slice(TABLE_PREFIX.length), chains: merged }
  })
}

// ---------------------------------------------------------------------------------------------
// comparing what the kernel holds with what was asked for
// ---------------------------------------------------------------------------------------------

const canonicalAddress = (cidr: string | undefined): string | undefined => {
  if (cidr === undefined) return undefined
  try {
    const { address, prefixLength } = parseCidr(cidr)
    return `${address}/${prefixLength}`
  } catch {
    return cidr
  }
}

const canonicalVerdict = (v: FwVerdict): unknown => {
  switch (v.kind) {
    case "jump":
      return { kind: v.kind, chain: v.chain }
    case "dnat":
    case "snat":
      return { kind: v.kind, to: v.to, port: v.port }
    case "dnatBalance":
      return { kind: v.kind, to: [...v.to], port: v.port }
    case "mark":
      return { kind: v.kind, value: v.value >>> 0 }
    default:
      return { kind: v.kind }
  }
}

const canonicalRule = (rule: FwRule): unknown => {
  const m = rule.match
  return {
    match: {
      bridge: m.bridge,
      iif: m.iif,
      iifNot: m.iifNot,
      oif: m.oif,
      oifNot: m.oifNot,
      src: canonicalAddress(m.src),
      srcNot: canonicalAddress(m.srcNot),
      dst: canonicalAddress(m.dst),
      dstNot: canonicalAddress(m.dstNot),
      proto: m.proto,
      dport: m.dport,
      sport: m.sport,
      dstLocal: m.dstLocal,
      srcLocal: m.srcLocal,
      ctState: m.ctState && m.ctState.length > 0 ? [...new Set(m.ctState)].sort() : undefined,
      vni: m.vni,
      ipsec: m.ipsec,
    },
    verdict: canonicalVerdict(rule.verdict),
    comment: rule.comment,
  }
}

const canonicalChain = (chain: FwChain): unknown => {
  const type = chain.hook ? (chain.type ?? "filter") : undefined
  return {
    name: chain.name,
    hook: chain.hook,
    type,
    priority: chain.hook && type ? (chain.priority ?? defaultPriority(type, chain.hook)) : undefined,
    policy: chain.hook ? (chain.policy ?? "accept") : undefined,
    rules: chain.rules.map(canonicalRule),
  }
}

const canonicalTable = (table: FwTable): string =>
  JSON.stringify({
    name: table.name,
    chains: [...table.chains].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(canonicalChain),
  })

/** do the two tables filter and rewrite exactly alike (defaults and spelling aside)? */
export const sameTable = (a: FwTable, b: FwTable): boolean => canonicalTable(a) === canonicalTable(b)
