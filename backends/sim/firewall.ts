import { ipvsForm } from "../ipvs-form.ts"
import type { IpvsService } from "../ipvs-types.ts"
import type { CtState, FwChain, FwHook, FwMatch, FwTable, FwVerdict, KernelOp } from "../kernel-types.ts"
import { KernelError } from "../KernelError.ts"
import { isLocalAddress } from "./addresses.ts"
import { ipvsAdd, ipvsDelete } from "./ipvs.ts"
import { INVALID, inPrefix, networkOf, parseCidr, parseIpv4, type Prefix } from "./ipv4.ts"
import { namespaceOf, noNamespace, type Outcome, refuse } from "./refusal.ts"
import type { SimMachine, SimNamespace } from "./state.ts"

/**
 * nftables semantics over FwTable: every table's base chains on a hook see the packet, by
 * priority; a drop anywhere ends the packet, an accept ends only its chain; jump/return; the
 * policy at the end of a base chain. nat chains are consulted for the first packet of a flow only
 * (later ones follow conntrack). Tables are compiled when set, so a packet is matched against
 * numbers, not strings.
 */

interface CompiledMatch {
  readonly iif: string | undefined
  readonly iifNot: string | undefined
  readonly oif: string | undefined
  readonly oifNot: string | undefined
  readonly bridge: string | undefined
  readonly src: Prefix | undefined
  readonly srcNot: Prefix | undefined
  readonly dst: Prefix | undefined
  readonly dstNot: Prefix | undefined
  readonly proto: FwMatch["proto"]
  readonly dport: number | undefined
  readonly sport: number | undefined
  readonly dstLocal: boolean | undefined
  readonly srcLocal: boolean | undefined
  readonly ctState: ReadonlyArray<CtState> | undefined
  readonly vni: number | undefined
  readonly ipsec: boolean | undefined
}

interface CompiledRule {
  readonly match: CompiledMatch
  readonly verdict: FwVerdict
  /** jump target, resolved at compile time */
  jump: CompiledChain | undefined
  /** dnat/snat: the address; dnatBalance: the first of `balance` */
  readonly natTo: number
  /** dnatBalance: every address, taken in turn */
  readonly balance: ReadonlyArray<number> | undefined
  /** dnatBalance: nftables' numgen inc, one counter per rule, from 0 when the table is set */
  counter: number
  readonly label: string
}

export interface CompiledChain {
  readonly table: string
  readonly name: string
  readonly hook: FwHook | undefined
  readonly nat: boolean
  readonly priority: number
  readonly policyDrop: boolean
  readonly rules: Array<CompiledRule>
}

export interface CompiledTable {
  /** the table as it was set, what a read gives back */
  readonly source: FwTable
  /** the chains the packets see: the table's own, or its IPVS form's */
  readonly chains: Map<string, CompiledChain>
  /** the IPVS services its balancing rules became (Capabilities.ipvs), none otherwise */
  readonly services: ReadonlyArray<IpvsService>
}

export type HookChains = Map<FwHook, ReadonlyArray<CompiledChain>>

/** what a hook sees of a packet; proto undefined means "not IPv4" (an ARP frame on a bridge) */
export interface FwPacket {
  /** the namespace whose hook it is (for fib … type local) */
  ns: SimNamespace | undefined
  iif: string | undefined
  oif: string | undefined
  bridge: string | undefined
  proto: "icmp" | "udp" | "tcp" | "esp" | undefined
  src: number
  dst: number
  dport: number
  sport: number
  ct: CtState | undefined
  /** a VXLAN datagram's VNI, INVALID for anything else */
  vni: number
  /** it was opened by an xfrm state on the way in */
  ipsec: boolean
}

/** filled by evaluateHook: why it dropped, which NAT a nat chain asked for */
export class FwResult {
  detail = ""
  masquerade = false
  dnatTo = INVALID
  dnatPort = 0
  snatTo = INVALID
  snatPort = 0
  /** the mark a `mark` rule set, INVALID when none did */
  mark = INVALID

  reset(): void {
    this.detail = ""
    this.masquerade = false
    this.dnatTo = INVALID
    this.dnatPort = 0
    this.snatTo = INVALID
    this.snatPort = 0
    this.mark = INVALID
  }
}

const NAT_HOOKS: ReadonlySet<FwHook> = new Set<FwHook>(["prerouting", "input", "output", "postrouting"])
const DNAT_HOOKS: ReadonlySet<FwHook> = new Set<FwHook>(["prerouting", "output"])
/** nftables takes snat in postrouting and input (masquerade in postrouting only) */
const SNAT_HOOKS: ReadonlySet<FwHook> = new Set<FwHook>(["postrouting", "input"])

const validPort = (port: number | undefined): boolean => port === undefined || (Number.isInteger(port) && port >= 0 && port <= 65535)

const compilePrefix = (op: KernelOp, text: string | undefined): Prefix | undefined | KernelError => {
  if (text === undefined) return undefined
  const prefix = parseCidr(text)
  if (prefix === undefined) return refuse(op, "EINVAL", `invalid address "${text}" in a firewall match`)
  return { address: networkOf(prefix.address, prefix.length), length: prefix.length }
}

const isError = (value: unknown): value is KernelError => value instanceof KernelError

const compileMatch = (op: KernelOp, match: FwMatch): CompiledMatch | KernelError => {
  const src = compilePrefix(op, match.src)
  if (isError(src)) return src
  const srcNot = compilePrefix(op, match.srcNot)
  if (isError(srcNot)) return srcNot
  const dst = compilePrefix(op, match.dst)
  if (isError(dst)) return dst
  const dstNot = compilePrefix(op, match.dstNot)
  if (isError(dstNot)) return dstNot
  if (!validPort(match.dport)) return refuse(op, "EINVAL", `invalid port ${match.dport}`)
  if (!validPort(match.sport)) return refuse(op, "EINVAL", `invalid port ${match.sport}`)
  if (match.proto === "icmp" && (match.dport !== undefined || match.sport !== undefined)) {
    return refuse(op, "EINVAL", "icmp has no ports")
  }
  return {
    iif: match.iif,
    iifNot: match.iifNot,
    oif: match.oif,
    oifNot: match.oifNot,
    bridge: match.bridge,
    src,
    srcNot,
    dst,
    dstNot,
    proto: match.proto,
    dport: match.dport,
    sport: match.sport,
    dstLocal: match.dstLocal,
    srcLocal: match.srcLocal,
    ctState: match.ctState,
    vni: match.vni,
    ipsec: match.ipsec,
  }
}

const compileChain = (op: KernelOp, table: string, chain: FwChain): CompiledChain | KernelError => {
  const nat = chain.type === "nat"
  if (nat && (chain.hook === undefined || !NAT_HOOKS.has(chain.hook))) {
    return refuse(op, "EOPNOTSUPP", `chain ${chain.name}: a nat chain cannot hook ${chain.hook ?? "nothing"}`)
  }
  // nftables: "Route chains only on hook output"
  if (chain.type === "route" && chain.hook !== "output") {
    return refuse(op, "EOPNOTSUPP", `chain ${chain.name}: a route chain can only hook output`)
  }
  const rules: Array<CompiledRule> = []
  for (const [position, rule] of chain.rules.entries()) {
    const match = compileMatch(op, rule.match)
    if (isError(match)) return match
    const verdict = rule.verdict
    let natTo = INVALID
    let balance: Array<number> | undefined
    if (verdict.kind === "dnat" || verdict.kind === "snat" || verdict.kind === "dnatBalance") {
      const targets = verdict.kind === "dnatBalance" ? verdict.to : [verdict.to]
      if (targets.length === 0) return refuse(op, "EINVAL", `chain ${chain.name}: dnatBalance needs at least one address`)
      const parsed = targets.map((target) => parseIpv4(target))
      const bad = parsed.indexOf(INVALID)
      if (bad >= 0) return refuse(op, "EINVAL", `invalid ${verdict.kind} address "${targets[bad]}"`)
      if (!validPort(verdict.port)) return refuse(op, "EINVAL", `invalid port ${verdict.port}`)
      natTo = parsed[0] as number
      if (verdict.kind === "dnatBalance") balance = parsed
      const hooks = verdict.kind === "snat" ? SNAT_HOOKS : DNAT_HOOKS
      if (chain.hook !== undefined && (!nat || !hooks.has(chain.hook))) {
        const where = verdict.kind === "snat" ? "postrouting or input" : "prerouting or output"
        return refuse(op, "EOPNOTSUPP", `chain ${chain.name}: ${verdict.kind} needs a nat chain on ${where}`)
      }
    }
    if (verdict.kind === "masquerade" && chain.hook !== undefined && (!nat || chain.hook !== "postrouting")) {
      return refuse(op, "EOPNOTSUPP", `chain ${chain.name}: masquerade needs a nat chain on postrouting`)
    }
    rules.push({ match, verdict, jump: undefined, natTo, balance, counter: 0, label: rule.comment ?? `rule ${position}` })
  }
  return {
    table,
    name: chain.name,
    hook: chain.hook,
    nat,
    priority: chain.priority ?? 0,
    policyDrop: chain.policy === "drop",
    rules,
  }
}

const compileTable = (op: KernelOp, table: FwTable): CompiledTable | KernelError => {
  if (table.name.length === 0) return refuse(op, "EINVAL", "a table needs a name")
  const chains = new Map<string, CompiledChain>()
  for (const chain of table.chains) {
    if (chains.has(chain.name)) return refuse(op, "EEXIST", `chain ${chain.name} appears twice in table ${table.name}`)
    const compiled = compileChain(op, table.name, chain)
    if (isError(compiled)) return compiled
    chains.set(chain.name, compiled)
  }
  for (const chain of chains.values()) {
    for (const rule of chain.rules) {
      if (rule.verdict.kind !== "jump") continue
      const target = chains.get(rule.verdict.chain)
      if (target === undefined) return refuse(op, "ENOENT", `jump to chain ${rule.verdict.chain}, which table ${table.name} does not have`)
      if (target.hook !== undefined) return refuse(op, "EOPNOTSUPP", `jump to base chain ${target.name}`)
      rule.jump = target
    }
  }
  for (const chain of chains.values()) {
    if (jumpsBackTo(chain, chain, 0)) return refuse(op, "ELOOP", `chain ${chain.name} jumps back to itself`)
  }
  return { source: table, chains, services: [] }
}

const jumpsBackTo = (start: CompiledChain, at: CompiledChain, depth: number): boolean => {
  if (depth > 64) return true
  for (const rule of at.rules) {
    if (rule.jump === undefined) continue
    if (rule.jump === start || jumpsBackTo(start, rule.jump, depth + 1)) return true
  }
  return false
}

const rebuildHooks = (ns: SimNamespace): void => {
  const hooks = new Map<FwHook, Array<CompiledChain>>()
  for (const table of ns.tables?.values() ?? []) {
    for (const chain of table.chains.values()) {
      if (chain.hook === undefined) continue
      const list = hooks.get(chain.hook)
      if (list === undefined) hooks.set(chain.hook, [chain])
      else list.push(chain)
    }
  }
  for (const list of hooks.values()) list.sort((a, b) => a.priority - b.priority)
  ns.hooks = hooks.size === 0 ? undefined : hooks
}

/**
 * Where the machine has IPVS (Capabilities.ipvs), a table's balancing rules are carried out in
 * IPVS form, as the linux backend carries them out (ipvs-form.ts): the packets see the form's
 * chains, and an IPVS service per rule, under marks no other service of the namespace holds (the
 * old form's included, as the linux backend makes the new services before deleting the old). The
 * table itself is compiled first, so what it gets wrong is refused as without IPVS.
 */
const compileHeld = (machine: SimMachine, ns: SimNamespace, op: KernelOp & { readonly op: "firewallSet" }): CompiledTable | KernelError => {
  const compiled = compileTable(op, op.table)
  if (isError(compiled) || !machine.capabilities.ipvs) return compiled
  const form = ipvsForm(op.table, new Set(ns.ipvs?.keys() ?? []))
  if (form === undefined) return compiled
  const held = compileTable(op, form.table)
  if (isError(held)) return held
  return { source: op.table, chains: held.chains, services: form.services }
}

export const firewallSet = (machine: SimMachine, op: KernelOp & { readonly op: "firewallSet" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const compiled = compileHeld(machine, ns, op)
  if (isError(compiled)) return compiled
  if (ns.tables === undefined) ns.tables = new Map()
  const before = ns.tables.get(op.table.name)
  for (const service of compiled.services) ipvsAdd(ns, service)
  ns.tables.set(op.table.name, compiled)
  for (const service of before?.services ?? []) ipvsDelete(ns, service.fwmark)
  rebuildHooks(ns)
  return undefined
}

export const firewallDel = (machine: SimMachine, op: KernelOp & { readonly op: "firewallDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const table = ns.tables?.get(op.table)
  if (table === undefined) return refuse(op, "ENOENT", `no table ${op.table}`)
  ns.tables?.delete(op.table)
  for (const service of table.services) ipvsDelete(ns, service.fwmark)
  rebuildHooks(ns)
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

const matchesName = (wanted: string | undefined, actual: string | undefined): boolean =>
  wanted === undefined || wanted === actual

/** "iifname != x" where there is no input device compares against the empty name, so it matches */
const differsFrom = (unwanted: string | undefined, actual: string | undefined): boolean =>
  unwanted === undefined || unwanted !== actual

const inside = (prefix: Prefix, address: number): boolean => inPrefix(address, prefix.address, prefix.length)

const matches = (match: CompiledMatch, packet: FwPacket): boolean => {
  if (!matchesName(match.iif, packet.iif) || !differsFrom(match.iifNot, packet.iif)) return false
  if (!matchesName(match.oif, packet.oif) || !differsFrom(match.oifNot, packet.oif)) return false
  if (match.bridge !== undefined && match.bridge !== packet.bridge) return false
  const ip = packet.proto !== undefined
  if (match.src !== undefined && (!ip || !inside(match.src, packet.src))) return false
  if (match.srcNot !== undefined && (!ip || inside(match.srcNot, packet.src))) return false
  if (match.dst !== undefined && (!ip || !inside(match.dst, packet.dst))) return false
  if (match.dstNot !== undefined && (!ip || inside(match.dstNot, packet.dst))) return false
  if (match.proto !== undefined && match.proto !== packet.proto) return false
  if (match.dport !== undefined && (packet.proto === "icmp" || !ip || packet.dport !== match.dport)) return false
  if (match.sport !== undefined && (packet.proto === "icmp" || !ip || packet.sport !== match.sport)) return false
  if (match.dstLocal !== undefined && (!ip || isLocal(packet, packet.dst) !== match.dstLocal)) return false
  if (match.srcLocal !== undefined && (!ip || isLocal(packet, packet.src) !== match.srcLocal)) return false
  if (match.ctState !== undefined && (packet.ct === undefined || !match.ctState.includes(packet.ct))) return false
  if (match.vni !== undefined && (packet.proto !== "udp" || packet.vni !== match.vni)) return false
  if (match.ipsec !== undefined && (!ip || packet.ipsec !== match.ipsec)) return false
  return true
}

/** fib daddr type local: an address of the namespace (127/8 included while lo holds it) */
const isLocal = (packet: FwPacket, address: number): boolean => packet.ns !== undefined && isLocalAddress(packet.ns, address)

const CONTINUE = 0
const ACCEPT = 1
const DROP = 2

const runChain = (chain: CompiledChain, hook: FwHook, packet: FwPacket, result: FwResult, depth: number): number => {
  for (const rule of chain.rules) {
    if (!matches(rule.match, packet)) continue
    const verdict = rule.verdict
    switch (verdict.kind) {
      case "accept":
        return ACCEPT
      case "drop":
        result.detail = `${chain.table}/${chain.name}/${rule.label}`
        return DROP
      case "return":
        return CONTINUE
      case "jump": {
        if (rule.jump === undefined || depth > 16) continue
        const outcome = runChain(rule.jump, hook, packet, result, depth + 1)
        if (outcome !== CONTINUE) return outcome
        continue
      }
      case "masquerade":
        if (hook === "postrouting") result.masquerade = true
        return ACCEPT
      case "dnat":
      case "dnatBalance":
        if (hook === "prerouting" || hook === "output") {
          result.dnatTo = rule.balance === undefined ? rule.natTo : (rule.balance[rule.counter++ % rule.balance.length] as number)
          result.dnatPort = verdict.port ?? 0
        }
        return ACCEPT
      case "snat":
        if (hook === "postrouting" || hook === "input") {
          result.snatTo = rule.natTo
          result.snatPort = verdict.port ?? 0
        }
        return ACCEPT
      case "mark":
        // a statement, not a verdict: the chain goes on
        result.mark = verdict.value >>> 0
        continue
    }
  }
  return CONTINUE
}

/** true: the packet goes on (result may carry NAT); false: dropped (result.detail says where) */
export const passesHook = (ns: SimNamespace, hook: FwHook, packet: FwPacket, result: FwResult, natAllowed = true): boolean => {
  result.reset()
  const chains = ns.hooks?.get(hook)
  if (chains === undefined) return true
  for (const chain of chains) {
    if (chain.nat && (!natAllowed || packet.ct !== "new")) continue
    const outcome = runChain(chain, hook, packet, result, 0)
    if (outcome === DROP) return false
    if (outcome === CONTINUE && chain.policyDrop) {
      result.detail = `${chain.table}/${chain.name}/policy drop`
      return false
    }
  }
  return true
}

export const hasHook = (ns: SimNamespace, hook: FwHook): boolean => ns.hooks?.has(hook) === true
