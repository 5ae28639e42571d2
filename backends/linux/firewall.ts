import type { FwTable } from "../kernel-types.ts"
import type { NetnsAddon } from "./addon.ts"
import { ipvsForm, type IpvsForm } from "../ipvs-form.ts"
import type { IpvsControl, IpvsService, IpvsServiceState } from "../ipvs-types.ts"
import type { NamespaceTable } from "./namespaces.ts"
import { parseRuleset, sameTable } from "./nft/parse.ts"
import { appendedRules } from "./nft/append.ts"
import { movePort, portSetDelta } from "./nft/port-sets.ts"
import { editCommands, editedRules } from "./nft/rule-edits.ts"
import { bridgesMatched, type Family, nftTableName, renderDelete, renderTable } from "./nft/render.ts"
import { NftContexts, NftFailure } from "./nft/run.ts"
import { dumpLinks } from "./read.ts"

type Json = Record<string, unknown>

const balances = (table: FwTable): boolean => table.chains.some((c) => c.rules.some((r) => r.verdict.kind === "dnatBalance"))

/** a table set in IPVS form: what the caller asked for, and the services that carry out its balancing rules */
interface Balanced {
  readonly asked: FwTable
  readonly form: IpvsForm
}

/** the kernel holds the service as the form made it: round robin, these NAT destinations in this order, weight 1 */
const sameService = (made: IpvsService, held: IpvsServiceState | undefined): boolean =>
  held !== undefined &&
  held.scheduler === "rr" &&
  held.destinations.length === made.destinations.length &&
  made.destinations.every((d, i) => {
    const h = held.destinations[i]
    return h !== undefined && h.address === d.address && h.port === d.port && h.forward === "nat" && h.weight === 1
  })

/**
 * Firewall tables in our namespaces, through libnftables (nft/run.ts); a table that only grew or
 * only gained a few rules is changed by those rules alone (nft/append.ts, nft/rule-edits.ts). Remembers, per namespace, the last table set
 * under each name: read() shows that exact table when the kernel's content matches it (spelling
 * and defaults aside), and the kernel's own version otherwise; and tables that match on a bridge
 * are re-rendered whenever that bridge's ports change (their port set, see nft/render.ts).
 *
 * Given IPVS (the kernel has ip_vs, Capabilities.ipvs), a table's balancing rules are carried out
 * in IPVS form (ipvs-form.ts): nftables holds the form's table, and an IPVS service per rule holds
 * the addresses. The new services are made before the nftables commit that points the marks at
 * them and the old ones deleted after it, so a refusal anywhere leaves the old form working.
 */
export class Firewall {
  private readonly requested = new Map<string, Map<string, FwTable>>()
  /** watchesBridges, remembered until the namespace's tables change */
  private readonly watching = new Map<string, boolean>()
  /**
   * per namespace, the commands of each table as last committed by us, and nftables' generation
   * right after our last commit there: while it is unchanged, the kernel holds exactly those
   */
  private readonly committed = new Map<string, { generation: number; readonly tables: Map<string, Json[]> }>()
  private readonly nft: NftContexts
  /** per namespace, the tables set in IPVS form */
  private readonly balanced = new Map<string, Map<string, Balanced>>()

  constructor(
    native: NetnsAddon,
    private readonly namespaces: NamespaceTable,
    /** where the kernel has ip_vs: balancing rules are carried out by IPVS */
    private readonly ipvs?: IpvsControl,
  ) {
    this.nft = new NftContexts(native, namespaces)
    namespaces.onBeforeDelete((ns) => this.forget(ns))
  }

  get available(): boolean {
    return this.nft.available
  }

  async set(ns: string, table: FwTable): Promise<void> {
    const before = this.balanced.get(ns)?.get(table.name)
    const form = this.ipvs && ipvsForm(table, this.marksInUse(ns))
    const made: Array<number> = []
    try {
      for (const service of form?.services ?? []) {
        this.ipvs?.add(ns, service)
        made.push(service.fwmark)
      }
      await this.setHeld(ns, form?.table ?? table)
    } catch (error) {
      // the refusal is what the caller needs to hear; a service left behind only waits for a mark nothing sets
      for (const fwmark of made) this.ipvs?.deleteQuietly(ns, fwmark)
      throw error
    }
    if (form) {
      const tables = this.balanced.get(ns) ?? new Map<string, Balanced>()
      tables.set(table.name, { asked: table, form })
      this.balanced.set(ns, tables)
    } else this.balanced.get(ns)?.delete(table.name)
    // recorded first: the new form is in force whatever the kernel says to these deletes
    for (const service of before?.form.services ?? []) this.ipvs?.delete(ns, service.fwmark)
  }

  /** the table nftables is to hold (a balanced table's IPVS form, or the table itself) */
  private async setHeld(ns: string, table: FwTable): Promise<void> {
    const ports = this.bridgePorts(ns, bridgesMatched(table))
    const commands = renderTable(table, ports).nftables as Json[]
    const known = this.committed.get(ns)
    const before = known?.tables.get(table.name)
    // rules added at the ends of chains (a network created) are sent alone, when nothing else
    // changed the namespace's tables since our last commit; otherwise the whole table is replaced
    // a balancing rule's turn starts at 0 whenever its table is set (kernel-types.ts: dnatBalance),
    // so such a table is always replaced, even when it only grew or did not change at all
    const appendable = before && known && this.nft.generation(ns) === known.generation && !balances(table)
    // a few rules put in the middle (a container's published ports came) are sent alone
    const batch = appendable ? (appendedRules(before, commands) ?? this.edits(before, commands) ?? commands) : commands
    // an empty batch: the kernel holds this very table already
    if (batch.length > 0) {
      this.nft.run(ns, JSON.stringify({ nftables: batch }))
      this.remember(ns, table.name, commands)
    }
    this.tablesOf(ns).set(table.name, table)
    this.watching.delete(ns)
  }

  async delete(ns: string, name: string): Promise<void> {
    const present = this.familiesHolding(ns, name)
    if (present.length === 0) throw new NftFailure("ENOENT", `no firewall table ${name} in ${ns}`)
    this.nft.run(ns, JSON.stringify(renderDelete(name, present)))
    this.remember(ns, name, undefined)
    this.tablesOf(ns).delete(name)
    this.watching.delete(ns)
    const balanced = this.balanced.get(ns)?.get(name)
    this.balanced.get(ns)?.delete(name)
    for (const service of balanced?.form.services ?? []) this.ipvs?.delete(ns, service.fwmark)
  }

  async read(ns: string): Promise<FwTable[]> {
    if (!this.available) return []
    const ruleset = JSON.parse(this.nft.run(ns, "list ruleset")) as unknown
    const known = this.requested.get(ns)
    const balanced = this.balanced.get(ns)
    const services = this.ipvs && balanced !== undefined && balanced.size > 0 ? new Map(this.ipvs.read(ns).map((s) => [s.fwmark, s])) : undefined
    return parseRuleset(ruleset).map((actual) => {
      const held = known?.get(actual.name)
      if (!held || !sameTable(held, actual)) return actual
      // a table in IPVS form reads back as asked while its services are as they were made
      const form = balanced?.get(actual.name)
      if (form === undefined) return held
      return form.form.services.every((service) => sameService(service, services?.get(service.fwmark))) ? form.asked : actual
    })
  }

  /** the IPVS fwmark services of `ns` as the kernel holds them, by mark; undefined where the firewall made none */
  ipvsServices(ns: string): IpvsServiceState[] | undefined {
    if (this.ipvs === undefined || (this.balanced.get(ns)?.size ?? 0) === 0) return undefined
    return this.ipvs.read(ns).sort((a, b) => a.fwmark - b.fwmark)
  }

  /** the firewall marks the IPVS services of `ns` are keyed by */
  private marksInUse(ns: string): Set<number> {
    return new Set([...(this.balanced.get(ns)?.values() ?? [])].flatMap((b) => b.form.services.map((s) => s.fwmark)))
  }

  /**
   * The rule commands that turn the kernel's table (`before`'s, as committed) into `after`'s, when
   * only a few rules are put in (a container's published ports joining): by index, no listing.
   * Rules that go stay a replacement: deleting one needs its handle, and nft loads the whole
   * table's rules for any listing; measured at 1,000 published ports (3,000 rules, load 4-5, two
   * interleaved runs of 15), one container leaving cost 208 and 225 ms that way against 164 and
   * 199 ms for the replacement, where one joining costs 65 and 95 ms against 213 and 202 ms.
   */
  private edits(before: ReadonlyArray<Json>, after: ReadonlyArray<Json>): Json[] | undefined {
    const edits = editedRules(before, after)
    if (edits === undefined || edits.chains.some((chain) => chain.deleted.length > 0)) return undefined
    return editCommands(edits)
  }

  /** after a link joined or left a bridge in `ns`: refresh the port sets that mention bridges */
  async portsChanged(ns: string): Promise<void> {
    const tables = this.requested.get(ns)
    if (!tables) return
    for (const table of tables.values()) {
      const bridges = bridgesMatched(table)
      if (bridges.length === 0) continue
      const commands = renderTable(table, this.bridgePorts(ns, bridges)).nftables as Json[]
      const known = this.committed.get(ns)
      const before = known?.tables.get(table.name)
      // only the port sets' elements, while nothing else changed the namespace's tables since our last commit
      const delta = before && known && this.nft.generation(ns) === known.generation ? portSetDelta(before, commands) : undefined
      if (delta === undefined) {
        await this.setHeld(ns, table)
        continue
      }
      if (delta.length === 0) continue
      this.nft.run(ns, JSON.stringify({ nftables: delta }))
      this.remember(ns, table.name, commands)
    }
  }

  /**
   * after the link `port` in `ns` came to be on `bridge` (null: on none), by an op that says so:
   * the port sets change by that link alone, with no dump of the namespace's links
   */
  async portMoved(ns: string, port: string, bridge: string | null): Promise<void> {
    const tables = this.requested.get(ns)
    if (!tables) return
    for (const table of tables.values()) {
      if (bridgesMatched(table).length === 0) continue
      const known = this.committed.get(ns)
      const before = known?.tables.get(table.name)
      const moved = before && movePort(before, port, bridge)
      // nothing to send when the sets we committed already say so (the kernel's, unless someone
      // else's commit came in between: then the table is set again, which reads the ports)
      if (moved && moved.delta.length === 0) continue
      if (!moved || !known || this.nft.generation(ns) !== known.generation) {
        await this.setHeld(ns, table)
        continue
      }
      this.nft.run(ns, JSON.stringify({ nftables: moved.delta }))
      this.remember(ns, table.name, moved.commands)
    }
  }

  /** true when some table in `ns` matches on a bridge (so membership changes matter); asked on every veth */
  watchesBridges(ns: string): boolean {
    let watching = this.watching.get(ns)
    if (watching === undefined) {
      watching = [...(this.requested.get(ns)?.values() ?? [])].some((t) => bridgesMatched(t).length > 0)
      this.watching.set(ns, watching)
    }
    return watching
  }

  /** what was set in `ns` no longer counts (it is being deleted) */
  forget(ns: string): void {
    this.requested.delete(ns)
    this.watching.delete(ns)
    this.committed.delete(ns)
    // the kernel deletes a namespace's IPVS services with it
    this.balanced.delete(ns)
  }

  /** after a commit of ours: the table's commands (none: deleted) and the generation it made */
  private remember(ns: string, table: string, commands: Json[] | undefined): void {
    const generation = this.nft.generation(ns)
    const known = this.committed.get(ns)
    // a generation that moved by more than our own commit means someone else's came in between:
    // nothing known before counts
    const tables = known && generation === known.generation + 1 ? known.tables : new Map<string, Json[]>()
    if (commands) tables.set(table, commands)
    else tables.delete(table)
    this.committed.set(ns, { generation, tables })
  }

  /** closes every namespace's nftables context (the kernel instance is closing) */
  close(): void {
    this.nft.closeAll()
  }

  private tablesOf(ns: string): Map<string, FwTable> {
    let tables = this.requested.get(ns)
    if (!tables) {
      tables = new Map()
      this.requested.set(ns, tables)
    }
    return tables
  }

  private bridgePorts(ns: string, bridges: ReadonlyArray<string>): Map<string, string[]> {
    const ports = new Map<string, string[]>()
    if (bridges.length === 0) return ports
    const links = dumpLinks(this.namespaces, ns)
    const names = new Map(links.map((l) => [l.index, l.name]))
    for (const bridge of bridges) {
      ports.set(
        bridge,
        links.filter((l) => l.masterIndex !== undefined && names.get(l.masterIndex) === bridge).map((l) => l.name),
      )
    }
    return ports
  }

  private familiesHolding(ns: string, name: string): Family[] {
    const listing = JSON.parse(this.nft.run(ns, "list tables")) as {
      nftables?: Array<{ table?: { family?: string; name?: string } }>
    }
    const families = new Set<Family>()
    for (const item of listing.nftables ?? []) {
      const family = item.table?.family
      if (item.table?.name === nftTableName(name) && (family === "ip" || family === "bridge")) families.add(family)
    }
    return [...families]
  }
}

