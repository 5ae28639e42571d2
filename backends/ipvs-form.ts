import type { FwChain, FwRule, FwTable } from "./kernel-types.ts"
import type { IpvsService } from "./ipvs-types.ts"

/**
 * A firewall table's balancing rules in IPVS form, as libnetwork 20.10 makes a service VIP
 * (service_linux.go: addLBBackend, invokeFWMarker): each dnatBalance rule becomes
 * - a mark rule with the same match in a mangle chain on prerouting (every packet of the
 *   connection gets the mark, iptables `-t mangle -A PREROUTING … -j MARK --set-mark`),
 * - an IPVS service keyed by that firewall mark, round robin, with the rule's addresses as NAT
 *   destinations (the rule's port, or 0: the port the connection was made to),
 * - and, where the rule was, an accept with the same match, so the rest of the nat chain still
 *   does not see what the rule took (dnat ended the chain there).
 * Pure, and shared: the linux backend sets this form in nftables and the kernel's IPVS
 * (linux/firewall.ts), the simulator holds it and walks packets through it (sim/firewall.ts,
 * sim/ipvs.ts). Which marks are free is the caller's to say.
 *
 * IPVS takes connections only in LOCAL_IN, to an address of the namespace: Docker makes its VIPs
 * local (an alias on the load balancer's interface), as the controller here does
 * (controller/service-lb.ts). A rule whose addresses repeat, or that is not in a base nat chain on
 * prerouting (a regular chain is reached by jumps the mark rule would have to repeat), keeps the
 * nftables form (numgen); so does every rule of a table that has a chain named IPVS_MARK_CHAIN.
 */

/** the mangle chain the mark rules go in; a table of the caller's with a chain so named keeps the numgen form */
export const IPVS_MARK_CHAIN = "ipvs-mark"
/** libnetwork allocates its firewall marks from 256 upward */
export const FIRST_FWMARK = 256
/** mangle's priority on prerouting (NF_IP_PRI_MANGLE), before nat's -100 */
const MANGLE_PRIORITY = -150

export interface IpvsForm {
  /** the table as nftables holds it in this form */
  readonly table: FwTable
  /** one fwmark service per balancing rule carried out by IPVS, in the table's rule order */
  readonly services: ReadonlyArray<IpvsService>
}

const inIpvsForm = (chain: FwChain, rule: FwRule): boolean =>
  rule.verdict.kind === "dnatBalance" &&
  chain.hook === "prerouting" &&
  chain.type === "nat" &&
  rule.verdict.to.length > 0 &&
  new Set(rule.verdict.to).size === rule.verdict.to.length

/** the mark values the table itself sets (its own mark rules): never given to a service */
const marksSetBy = (table: FwTable): Set<number> =>
  new Set(table.chains.flatMap((chain) => chain.rules.flatMap((rule) => (rule.verdict.kind === "mark" ? [rule.verdict.value] : []))))

/**
 * The IPVS form of `table`, with marks from FIRST_FWMARK up that are not `taken` (nor set by the
 * table's own rules); undefined when no rule of it would be carried out by IPVS.
 */
export const ipvsForm = (table: FwTable, taken: ReadonlySet<number>): IpvsForm | undefined => {
  if (table.chains.some((chain) => chain.name === IPVS_MARK_CHAIN)) return undefined
  if (!table.chains.some((chain) => chain.rules.some((rule) => inIpvsForm(chain, rule)))) return undefined
  const unavailable = new Set([...taken, ...marksSetBy(table)])
  let candidate = FIRST_FWMARK
  const nextMark = (): number => {
    while (unavailable.has(candidate)) candidate++
    unavailable.add(candidate)
    return candidate
  }
  const services: Array<IpvsService> = []
  const markRules: Array<FwRule> = []
  const chains = table.chains.map((chain): FwChain => ({
    ...chain,
    rules: chain.rules.map((rule): FwRule => {
      if (!inIpvsForm(chain, rule) || rule.verdict.kind !== "dnatBalance") return rule
      const fwmark = nextMark()
      const port = rule.verdict.port ?? 0
      services.push({ fwmark, destinations: rule.verdict.to.map((address) => ({ address, port })) })
      markRules.push({ match: rule.match, verdict: { kind: "mark", value: fwmark }, ...(rule.comment !== undefined ? { comment: rule.comment } : {}) })
      return { match: rule.match, verdict: { kind: "accept" }, ...(rule.comment !== undefined ? { comment: rule.comment } : {}) }
    }),
  }))
  const markChain: FwChain = { name: IPVS_MARK_CHAIN, hook: "prerouting", type: "filter", priority: MANGLE_PRIORITY, policy: "accept", rules: markRules }
  return { table: { name: table.name, chains: [...chains, markChain] }, services }
}
