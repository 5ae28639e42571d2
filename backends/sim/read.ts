import type { AddrState, FdbState, LinkState, NeighState, NsState, RouteState } from "../kernel-types.ts"
import { formatCidr, formatIpv4, INVALID } from "./ipv4.ts"
import type { SimLink, SimNamespace } from "./state.ts"
import { readIpvs } from "./ipvs.ts"
import { readSysctls } from "./sysctl.ts"
import { readXfrm } from "./xfrm.ts"

/**
 * A namespace read back as `ip link/addr/route`, `ip neigh` (permanent entries), `bridge fdb`
 * (permanent entries), the sysctls that were set, and the firewall tables, in the kernel's order:
 * links by index, routes in trie order (by destination, longer prefix first, then as added).
 */

const linkState = (link: SimLink): LinkState => {
  const state: {
    -readonly [K in keyof LinkState]: LinkState[K]
  } = { name: link.name, index: link.index, kind: link.kind, mac: link.mac, mtu: link.mtu, up: link.up, group: link.group }
  if (link.master !== undefined) state.master = link.master.name
  if (link.peer !== undefined) state.peer = { name: link.peer.name, ns: link.peer.ns.name }
  if (link.lower !== undefined && (link.kind === "macvlan" || link.kind === "ipvlan" || link.kind === "vlan")) state.parent = link.lower.name
  if (link.vlanId !== undefined) state.vlanId = link.vlanId
  if (link.vxlan !== undefined) state.vni = link.vxlan.vni
  return state
}

export const readNamespace = (ns: SimNamespace): NsState => {
  const links = [...ns.links.values()].sort((a, b) => a.index - b.index)
  const addrs: Array<AddrState> = []
  const fdb: Array<FdbState> = []
  for (const link of links) {
    for (const address of link.addresses) addrs.push({ dev: link.name, cidr: formatCidr(address.address, address.length) })
    for (const entry of link.fdb ?? []) {
      fdb.push(entry.dst === INVALID ? { dev: link.name, mac: entry.mac } : { dev: link.name, mac: entry.mac, dst: formatIpv4(entry.dst) })
    }
  }
  const routes: Array<RouteState> = [...ns.routes]
    .map((route, order) => ({ route, order }))
    .sort((a, b) => a.route.dst - b.route.dst || b.route.length - a.route.length || a.order - b.order)
    .map(({ route }) => {
      const dst = route.length === 0 ? "default" : formatCidr(route.dst, route.length)
      return route.via === INVALID
        ? { dst, dev: route.dev.name, scope: route.scope, origin: route.origin }
        : { dst, via: formatIpv4(route.via), dev: route.dev.name, scope: route.scope, origin: route.origin }
    })
  const xfrm = readXfrm(ns)
  const ipvs = readIpvs(ns)
  const neighs: Array<NeighState> = (ns.neighbours ?? []).map((entry) => ({ dev: entry.dev.name, ip: formatIpv4(entry.ip), mac: entry.mac }))
  return {
    ns: ns.name,
    links: links.map(linkState),
    addrs,
    routes,
    neighs,
    fdb,
    sysctls: readSysctls(ns),
    firewall: [...(ns.tables?.values() ?? [])].map((table) => table.source),
    xfrmStates: xfrm.states,
    xfrmPolicies: xfrm.policies,
    ...(ipvs === undefined ? {} : { ipvs }),
  }
}
