import type { FwChain, FwHook, FwMatch, FwRule, FwTable, FwVerdict } from "../../kernel-types.ts"
import { parseCidr } from "../netlink/wire.ts"

/**
 * FwTable -> nftables JSON commands (`nft -j -f -`). JSON rather than nft's text syntax because
 * the text parser treats many words as keywords (a chain may not be called "fwd" there) while
 * JSON takes any name; and `nft -j list ruleset` answers in the same shape, see parse.ts.
 *
 * One FwTable becomes the nft table `cnm-<name>` in family `ip` (hooks prerouting … postrouting)
 * and, when it has a "bridge-forward" chain, also in family `bridge` (hook forward there).
 * Regular chains go to the family whose base chains jump to them (both when both do).
 *
 * `match.bridge` has no direct nftables form on kernels without CONFIG_NFT_BRIDGE_META (meta
 * ibrname is refused with EOPNOTSUPP, as on the kernels cnmlab runs on): it becomes "the input
 * port is in the set ports-<bridge>", a named set of interface names that firewall.ts keeps equal
 * to the bridge's ports.
 */

export const TABLE_PREFIX = "cnm-"
export const PORT_SET_PREFIX = "ports-"

export type Family = "ip" | "bridge"

export const nftTableName = (table: string): string => `${TABLE_PREFIX}${table}`

type Json = Record<string, unknown>

/** nftables' standard priorities, used when a chain names none */
export const defaultPriority = (type: "filter" | "nat" | "route", hook: FwHook): number => {
  // route chains hang where iptables' mangle table does
  if (type === "route") return -150
  if (type === "nat") return hook === "postrouting" || hook === "input" ? 100 : -100
  return 0
}

const nftHook = (hook: FwHook): string => (hook === "bridge-forward" ? "forward" : hook)

/** which family each chain lives in; regular chains follow the base chains that reach them */
export const chainFamilies = (table: FwTable): Map<string, Set<Family>> => {
  const families = new Map<string, Set<Family>>()
  const byName = new Map(table.chains.map((c) => [c.name, c]))
  const visit = (chain: FwChain, family: Family): void => {
    const seen = families.get(chain.name) ?? new Set<Family>()
    if (seen.has(family)) return
    seen.add(family)
    families.set(chain.name, seen)
    for (const rule of chain.rules) {
      if (rule.verdict.kind !== "jump") continue
      const target = byName.get(rule.verdict.chain)
      if (target && target.hook === undefined) visit(target, family)
    }
  }
  for (const chain of table.chains) {
    if (chain.hook !== undefined) visit(chain, chain.hook === "bridge-forward" ? "bridge" : "ip")
  }
  const onlyBridge = table.chains.length > 0 && table.chains.every((c) => c.hook === undefined || c.hook === "bridge-forward")
  for (const chain of table.chains) {
    if (!families.has(chain.name)) families.set(chain.name, new Set([onlyBridge ? "bridge" : "ip"]))
  }
  return families
}

/** the bridges a table matches on (each needs its port set) */
export const bridgesMatched = (table: FwTable): string[] => [
  ...new Set(table.chains.flatMap((c) => c.rules.flatMap((r) => (r.match.bridge ? [r.match.bridge] : [])))),
]

/** `@th,96,24`: the VNI of a VXLAN datagram, raw from the transport header */
export const VNI_PAYLOAD: Json = { payload: { base: "th", offset: 96, len: 24 } }

const match = (op: "==" | "!=" | "in", left: Json, right: unknown): Json => ({ match: { op, left, right } })

const meta = (key: string): Json => ({ meta: { key } })
const payload = (protocol: string, field: string): Json => ({ payload: { protocol, field } })
/** the address type of saddr/daddr as the routing table sees it (fib … type) */
const fib = (address: "saddr" | "daddr"): Json => ({ fib: { result: "type", flags: [address] } })

/** "10.0.0.0/24" -> prefix; "10.0.0.7" or "10.0.0.7/32" -> the plain address */
const addressValue = (cidr: string): unknown => {
  const { address, prefixLength } = parseCidr(cidr)
  return prefixLength === 32 ? address : { prefix: { addr: address, len: prefixLength } }
}

const matchExprs = (m: FwMatch, family: Family): Json[] => {
  const out: Json[] = []
  // Docker's rules see switched frames through br_netfilter, which hands iptables IPv4 only: ARP
  // between the ports passes (an icc=false neighbour's SYN is dropped, its ARP answered: a timeout)
  if (family === "bridge") out.push(match("==", meta("protocol"), "ip"))
  if (m.bridge !== undefined) {
    if (family !== "bridge") throw nftInputError(`match.bridge is only valid in a bridge-forward chain`)
    out.push(match("==", meta("iifname"), `@${PORT_SET_PREFIX}${m.bridge}`))
  }
  if (m.iif !== undefined) out.push(match("==", meta("iifname"), m.iif))
  if (m.iifNot !== undefined) out.push(match("!=", meta("iifname"), m.iifNot))
  if (m.oif !== undefined) out.push(match("==", meta("oifname"), m.oif))
  if (m.oifNot !== undefined) out.push(match("!=", meta("oifname"), m.oifNot))
  if (m.src !== undefined) out.push(match("==", payload("ip", "saddr"), addressValue(m.src)))
  if (m.srcNot !== undefined) out.push(match("!=", payload("ip", "saddr"), addressValue(m.srcNot)))
  if (m.dst !== undefined) out.push(match("==", payload("ip", "daddr"), addressValue(m.dst)))
  if (m.dstNot !== undefined) out.push(match("!=", payload("ip", "daddr"), addressValue(m.dstNot)))
  if (m.dstLocal !== undefined) out.push(match(m.dstLocal ? "==" : "!=", fib("daddr"), "local"))
  if (m.srcLocal !== undefined) out.push(match(m.srcLocal ? "==" : "!=", fib("saddr"), "local"))
  if ((m.dport !== undefined || m.sport !== undefined) && m.proto === "icmp") throw nftInputError(`icmp has no ports`)
  // a port match names its protocol (tcp dport), which implies the protocol match; th: either
  if (m.sport !== undefined) out.push(match("==", payload(m.proto ?? "th", "sport"), m.sport))
  if (m.dport !== undefined) out.push(match("==", payload(m.proto ?? "th", "dport"), m.dport))
  if (m.proto !== undefined && m.dport === undefined && m.sport === undefined) out.push(match("==", payload("ip", "protocol"), m.proto))
  if (m.ctState !== undefined && m.ctState.length > 0) {
    out.push(m.ctState.length === 1 ? match("==", { ct: { key: "state" } }, m.ctState[0]) : match("in", { ct: { key: "state" } }, [...m.ctState]))
  }
  // the VXLAN header follows the 8-byte UDP header: flags (1), reserved (3), VNI (3), reserved (1)
  if (m.vni !== undefined) out.push(match("==", VNI_PAYLOAD, m.vni))
  if (m.ipsec !== undefined) out.push(match("==", meta("ipsec"), m.ipsec))
  return out
}

/** a rule's closing statement: a verdict, or (mark) a statement after which nftables goes on */
const verdictExpr = (v: FwVerdict): Json => {
  switch (v.kind) {
    case "accept":
      return { accept: null }
    case "drop":
      return { drop: null }
    case "return":
      return { return: null }
    case "jump":
      return { jump: { target: v.chain } }
    case "masquerade":
      return { masquerade: null }
    case "snat":
      return { snat: { addr: v.to, ...(v.port !== undefined ? { port: v.port } : {}) } }
    case "dnat":
      return { dnat: { addr: v.to, ...(v.port !== undefined ? { port: v.port } : {}) } }
    case "dnatBalance": {
      if (v.to.length === 0) throw nftInputError("dnatBalance needs at least one address")
      // dnat to numgen inc mod N map { 0 : a, 1 : b, … }: one counter per rule, advanced per new flow
      const addr = {
        map: { key: { numgen: { mode: "inc", mod: v.to.length, offset: 0 } }, data: { set: v.to.map((to, i) => [i, to]) } },
      }
      return { dnat: { addr, ...(v.port !== undefined ? { port: v.port } : {}) } }
    }
    case "mark":
      return { mangle: { key: meta("mark"), value: v.value } }
  }
}

const ruleCommand = (family: Family, table: string, chain: string, rule: FwRule): Json => ({
  add: {
    rule: {
      family,
      table,
      chain,
      expr: [...matchExprs(rule.match, family), verdictExpr(rule.verdict)],
      ...(rule.comment !== undefined ? { comment: rule.comment } : {}),
    },
  },
})

const chainCommand = (family: Family, table: string, chain: FwChain): Json => {
  if (chain.hook === undefined) return { add: { chain: { family, table, name: chain.name } } }
  const type = chain.type ?? "filter"
  return {
    add: {
      chain: {
        family,
        table,
        name: chain.name,
        type,
        hook: nftHook(chain.hook),
        prio: chain.priority ?? defaultPriority(type, chain.hook),
        policy: chain.policy ?? "accept",
      },
    },
  }
}

/**
 * The commands that replace table `cnm-<name>` in both families in one transaction: creating and
 * deleting first makes the delete valid whether or not the table existed.
 * `bridgePorts` gives the current ports of every bridge the table matches on.
 */
export const renderTable = (table: FwTable, bridgePorts: ReadonlyMap<string, ReadonlyArray<string>>): Json => {
  const name = nftTableName(table.name)
  const families = chainFamilies(table)
  const commands: Json[] = []
  for (const family of ["ip", "bridge"] as const) {
    commands.push({ add: { table: { family, name } } }, { delete: { table: { family, name } } })
  }
  const inFamily = (family: Family): FwChain[] => table.chains.filter((c) => families.get(c.name)?.has(family))
  const ipChains = inFamily("ip")
  const bridgeChains = inFamily("bridge")
  if (ipChains.length > 0 || bridgeChains.length === 0) {
    commands.push({ add: { table: { family: "ip", name } } })
    for (const chain of ipChains) commands.push(chainCommand("ip", name, chain))
    for (const chain of ipChains) for (const rule of chain.rules) commands.push(ruleCommand("ip", name, chain.name, rule))
  }
  if (bridgeChains.length > 0) {
    commands.push({ add: { table: { family: "bridge", name } } })
    for (const bridge of bridgesMatched(table)) {
      // sorted, so that the same ports always render the same commands (port-sets.ts keeps them so)
      const elem = [...(bridgePorts.get(bridge) ?? [])].sort()
      commands.push({
        add: { set: { family: "bridge", table: name, name: `${PORT_SET_PREFIX}${bridge}`, type: "ifname", ...(elem.length ? { elem } : {}) } },
      })
    }
    for (const chain of bridgeChains) commands.push(chainCommand("bridge", name, chain))
    for (const chain of bridgeChains) for (const rule of chain.rules) commands.push(ruleCommand("bridge", name, chain.name, rule))
  }
  return { nftables: commands }
}

/** the commands that delete table `cnm-<name>` in the given families */
export const renderDelete = (table: string, families: ReadonlyArray<Family>): Json => ({
  nftables: families.map((family) => ({ delete: { table: { family, name: nftTableName(table) } } })),
})

/** a table the caller described wrongly: nft itself would refuse it as invalid */
export const nftInputError = (message: string): Error => Object.assign(new Error(message), { code: "EINVAL" })
