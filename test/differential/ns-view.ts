import type { FwTable, LinkState, NsState } from "../../backends/kernel-types.ts"

/**
 * A namespace as both backends must agree on it. Left out: link indexes (they depend on what the
 * namespace held before) and the MACs the kernel makes up (random on both sides); a MAC the lab
 * set (a container's, derived from its address) must match exactly. Kept in kernel order: routes,
 * since the sim claims to list them as the kernel's dump does; the rest is keyed or sorted.
 */
export interface NsView {
  readonly links: Readonly<Record<string, LinkView>>
  readonly addrs: ReadonlyArray<string>
  readonly routes: ReadonlyArray<string>
  readonly neighs: ReadonlyArray<string>
  readonly fdb: ReadonlyArray<string>
  readonly sysctls: Readonly<Record<string, string>>
  readonly firewall: Readonly<Record<string, FwTable>>
}

export interface LinkView {
  readonly kind: LinkState["kind"]
  readonly up: boolean
  readonly mtu: number
  readonly group: number
  /** the MAC when the lab set it, "random" when the kernel made it up */
  readonly mac: string
  readonly master?: string
  readonly peer?: string
  readonly parent?: string
  readonly vni?: number
}

export const RANDOM_MAC = "random"

const sorted = (items: ReadonlyArray<string>): ReadonlyArray<string> => [...items].sort()

const byKey = <A>(entries: ReadonlyArray<readonly [string, A]>): Record<string, A> =>
  Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

const linkView = (link: LinkState, assignedMacs: ReadonlySet<string>): LinkView => ({
  kind: link.kind,
  up: link.up,
  mtu: link.mtu,
  group: link.group,
  mac: assignedMacs.has(link.mac) ? link.mac : RANDOM_MAC,
  ...(link.master !== undefined ? { master: link.master } : {}),
  ...(link.peer !== undefined ? { peer: `${link.peer.ns}/${link.peer.name}` } : {}),
  ...(link.parent !== undefined ? { parent: link.parent } : {}),
  ...(link.vni !== undefined ? { vni: link.vni } : {}),
})

/** `assignedMacs`: the MACs the lab gave its endpoints */
export const nsView = (state: NsState, assignedMacs: ReadonlySet<string>): NsView => ({
  links: byKey(state.links.map((link) => [link.name, linkView(link, assignedMacs)] as const)),
  addrs: sorted(state.addrs.map((a) => `${a.dev} ${a.cidr}`)),
  routes: state.routes.map((r) => `${r.dst}${r.via ? ` via ${r.via}` : ""} dev ${r.dev} scope ${r.scope} (${r.origin})`),
  neighs: sorted(state.neighs.map((n) => `${n.ip} dev ${n.dev} lladdr ${n.mac}`)),
  fdb: sorted(state.fdb.map((f) => `${f.mac} dev ${f.dev}${f.dst ? ` dst ${f.dst}` : ""}`)),
  sysctls: byKey(Object.entries(state.sysctls)),
  firewall: byKey(state.firewall.map((table) => [table.name, table] as const)),
})

const json = (value: unknown): string => JSON.stringify(value)

/** what differs, one readable line per item: "<ns> <what>: sim … / linux …" */
export const diffNsViews = (ns: string, sim: NsView, linux: NsView): string[] => {
  const lines: string[] = []
  for (const name of union(Object.keys(sim.links), Object.keys(linux.links))) {
    const a = sim.links[name]
    const b = linux.links[name]
    if (a === undefined || b === undefined) {
      lines.push(`${ns} link ${name}: ${a ? "only in sim" : "only in linux"} ${json(a ?? b)}`)
      continue
    }
    for (const field of union(Object.keys(a), Object.keys(b)) as Array<keyof LinkView>) {
      if (a[field] !== b[field]) lines.push(`${ns} link ${name} ${field}: sim ${json(a[field])} / linux ${json(b[field])}`)
    }
  }
  lines.push(...diffLists(`${ns} address`, sim.addrs, linux.addrs))
  if (json(sim.routes) !== json(linux.routes)) {
    const setDiff = diffLists(`${ns} route`, sim.routes, linux.routes)
    lines.push(...(setDiff.length > 0 ? setDiff : [`${ns} routes in another order: sim ${json(sim.routes)} / linux ${json(linux.routes)}`]))
  }
  lines.push(...diffLists(`${ns} neighbour`, sim.neighs, linux.neighs))
  lines.push(...diffLists(`${ns} fdb`, sim.fdb, linux.fdb))
  for (const key of union(Object.keys(sim.sysctls), Object.keys(linux.sysctls))) {
    if (sim.sysctls[key] !== linux.sysctls[key]) lines.push(`${ns} sysctl ${key}: sim ${json(sim.sysctls[key])} / linux ${json(linux.sysctls[key])}`)
  }
  for (const name of union(Object.keys(sim.firewall), Object.keys(linux.firewall))) {
    lines.push(...diffTables(`${ns} firewall table ${name}`, sim.firewall[name], linux.firewall[name]))
  }
  return lines
}

const union = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): string[] => [...new Set([...a, ...b])].sort()

export const diffLists = (what: string, sim: ReadonlyArray<string>, linux: ReadonlyArray<string>): string[] => {
  const inLinux = new Set(linux)
  const inSim = new Set(sim)
  return [
    ...sim.filter((item) => !inLinux.has(item)).map((item) => `${what} only in sim: ${item}`),
    ...linux.filter((item) => !inSim.has(item)).map((item) => `${what} only in linux: ${item}`),
  ]
}

/** chain by chain, so a long table does not hide the one rule that differs */
const diffTables = (what: string, sim: FwTable | undefined, linux: FwTable | undefined): string[] => {
  if (json(sim) === json(linux)) return []
  if (sim === undefined || linux === undefined) return [`${what}: ${sim ? "only in sim" : "only in linux"} ${json(sim ?? linux)}`]
  const simChains = new Map(sim.chains.map((c) => [c.name, c]))
  const linuxChains = new Map(linux.chains.map((c) => [c.name, c]))
  const order = json(sim.chains.map((c) => c.name)) === json(linux.chains.map((c) => c.name))
  const lines = union([...simChains.keys()], [...linuxChains.keys()]).flatMap((chain) => {
    const a = simChains.get(chain)
    const b = linuxChains.get(chain)
    return json(a) === json(b) ? [] : [`${what} chain ${chain}: sim ${json(a)} / linux ${json(b)}`]
  })
  return lines.length > 0 || order ? lines : [`${what}: chains in another order`]
}
