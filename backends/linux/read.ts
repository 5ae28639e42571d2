import { readdirSync } from "node:fs"
import type { AddrState, FdbState, LinkKind, LinkState, NeighState, RouteState } from "../kernel-types.ts"
import { NETNS_DIR, NS_PREFIX, type NamespaceTable } from "./namespaces.ts"
import { nsidOf } from "./nsid.ts"
import {
  AF_BRIDGE,
  AF_INET,
  ARPHRD_LOOPBACK,
  IF_OPER,
  IFF_UP,
  IFLA_BRPORT_STATE,
  IFLA,
  IFLA_INFO,
  IFLA_VLAN_ID,
  IFLA_VXLAN,
  NDA,
  NTF,
  NUD,
  RT_SCOPE,
  RT_TABLE_MAIN,
  RTA,
  RTM,
  RTN_UNICAST,
  RTPROT_KERNEL,
} from "./netlink/constants.ts"
import {
  ifinfomsg,
  ndmsg,
  networkOf,
  parseAttrs,
  parseIfaddrmsg,
  parseIfinfomsg,
  parseNdmsg,
  parseRtmsg,
  readI32,
  readIpv4,
  readMac,
  readString,
  readU16,
  readU32,
  readU8,
  rtgenmsg,
  rtmsg,
} from "./netlink/wire.ts"

const KINDS: ReadonlySet<string> = new Set<LinkKind>(["veth", "bridge", "dummy", "vxlan", "macvlan", "ipvlan", "vlan"])

/** one link as the kernel dumps it, before names are resolved */
export interface RawLink {
  readonly index: number
  readonly name: string
  readonly kind: LinkKind | "loopback" | undefined
  readonly flags: number
  /** IFLA_OPERSTATE (IF_OPER) */
  readonly operstate: number
  readonly mac: string
  readonly mtu: number
  readonly group: number
  readonly masterIndex?: number
  /** IFLA_LINK: a veth's peer, a macvlan's parent (in linkNetnsid's namespace when set) */
  readonly linkIndex?: number
  readonly linkNetnsid?: number
  readonly vni?: number
  readonly vxlanDevIndex?: number
  readonly vlanId?: number
  /** a bridge port's STP state (BR_STATE) */
  readonly portState?: number
}

export const dumpLinks = (namespaces: NamespaceTable, ns: string): RawLink[] =>
  namespaces
    .channel(ns)
    .dump(RTM.GETLINK, [ifinfomsg()], "dump links")
    .filter((m) => m.type === RTM.NEWLINK)
    .map((m) => {
      const link = parseIfinfomsg(m.payload)
      const info = link.attrs.get(IFLA.LINKINFO)
      const infoAttrs = info ? parseAttrs(info) : undefined
      const kindName = readString(infoAttrs?.get(IFLA_INFO.KIND))
      const data = infoAttrs?.get(IFLA_INFO.DATA)
      const vxlan = kindName === "vxlan" && data ? parseAttrs(data) : undefined
      const kind =
        kindName && KINDS.has(kindName) ? (kindName as LinkKind) : link.type === ARPHRD_LOOPBACK ? "loopback" : undefined
      const masterIndex = readU32(link.attrs.get(IFLA.MASTER))
      const linkIndex = readI32(link.attrs.get(IFLA.LINK))
      const linkNetnsid = readI32(link.attrs.get(IFLA.LINK_NETNSID))
      const remoteNs = linkNetnsid !== undefined && linkNetnsid >= 0
      const vni = readU32(vxlan?.get(IFLA_VXLAN.ID))
      const vxlanDevIndex = readU32(vxlan?.get(IFLA_VXLAN.LINK))
      const vlanId = kindName === "vlan" && data ? readU16(parseAttrs(data).get(IFLA_VLAN_ID)) : undefined
      const slaveData = readString(infoAttrs?.get(IFLA_INFO.SLAVE_KIND)) === "bridge" ? infoAttrs?.get(IFLA_INFO.SLAVE_DATA) : undefined
      const portState = slaveData ? readU8(parseAttrs(slaveData).get(IFLA_BRPORT_STATE)) : undefined
      return {
        index: link.index,
        name: readString(link.attrs.get(IFLA.IFNAME)) ?? `if${link.index}`,
        kind,
        flags: link.flags,
        operstate: readU8(link.attrs.get(IFLA.OPERSTATE)) ?? IF_OPER.unknown,
        mac: readMac(link.attrs.get(IFLA.ADDRESS)) ?? "00:00:00:00:00:00",
        mtu: readU32(link.attrs.get(IFLA.MTU)) ?? 0,
        group: readU32(link.attrs.get(IFLA.GROUP)) ?? 0,
        ...(masterIndex ? { masterIndex } : {}),
        // a device that names itself as its link has none; across namespaces the indexes may be equal
        ...(linkIndex !== undefined && linkIndex > 0 && (linkIndex !== link.index || remoteNs) ? { linkIndex } : {}),
        ...(remoteNs ? { linkNetnsid } : {}),
        ...(vni !== undefined ? { vni } : {}),
        ...(vxlanDevIndex ? { vxlanDevIndex } : {}),
        ...(vlanId !== undefined ? { vlanId } : {}),
        ...(portState !== undefined ? { portState } : {}),
      }
    })

/** nsid -> namespace name, for every cnm- namespace `ns` has given an id */
const peerNamespaces = (namespaces: NamespaceTable, ns: string): Map<number, string> => {
  const out = new Map<number, string>()
  let names: string[] = []
  try {
    names = readdirSync(NETNS_DIR).filter((n) => n.startsWith(NS_PREFIX) && n !== ns)
  } catch {
    return out
  }
  for (const other of names) {
    const nsid = nsidOf(namespaces, ns, other)
    if (nsid !== undefined) out.set(nsid, other)
  }
  return out
}

/** links with names resolved: master, veth peer (name and namespace), parent */
export const readLinks = (namespaces: NamespaceTable, ns: string): LinkState[] => {
  const raw = dumpLinks(namespaces, ns)
  const byIndex = new Map(raw.map((l) => [l.index, l]))
  const needsPeers = raw.some((l) => l.linkNetnsid !== undefined)
  const nsids = needsPeers ? peerNamespaces(namespaces, ns) : new Map<number, string>()
  const remoteLinks = new Map<string, Map<number, RawLink>>()
  const remote = (other: string, index: number): RawLink | undefined => {
    if (!remoteLinks.has(other)) {
      try {
        remoteLinks.set(other, new Map(dumpLinks(namespaces, other).map((l) => [l.index, l])))
      } catch {
        remoteLinks.set(other, new Map())
      }
    }
    return remoteLinks.get(other)?.get(index)
  }
  /** the link IFLA_LINK points at, wherever it lives */
  const target = (l: RawLink): { readonly name: string; readonly ns: string } | undefined => {
    if (l.linkIndex === undefined) return undefined
    if (l.linkNetnsid === undefined) {
      const local = byIndex.get(l.linkIndex)
      return local ? { name: local.name, ns } : undefined
    }
    const other = nsids.get(l.linkNetnsid)
    const found = other ? remote(other, l.linkIndex) : undefined
    return other && found ? { name: found.name, ns: other } : undefined
  }

  return raw.flatMap((l): LinkState[] => {
    if (l.kind === undefined) return []
    const master = l.masterIndex !== undefined ? byIndex.get(l.masterIndex)?.name : undefined
    const linked = target(l)
    const parent =
      l.kind === "macvlan" || l.kind === "ipvlan" || l.kind === "vlan"
        ? linked?.name
        : // an index in the vxlan's own namespace only when its socket is there too
          l.kind === "vxlan" && l.vxlanDevIndex !== undefined && l.linkNetnsid === undefined
          ? byIndex.get(l.vxlanDevIndex)?.name
          : undefined
    return [
      {
        name: l.name,
        index: l.index,
        kind: l.kind,
        mac: l.mac,
        mtu: l.mtu,
        up: (l.flags & IFF_UP) !== 0,
        group: l.group,
        ...(master ? { master } : {}),
        ...(l.kind === "veth" && linked ? { peer: linked } : {}),
        ...(parent ? { parent } : {}),
        ...(l.kind === "vxlan" && l.vni !== undefined ? { vni: l.vni } : {}),
        ...(l.vlanId !== undefined ? { vlanId: l.vlanId } : {}),
      },
    ]
  })
}

const namesByIndex = (links: ReadonlyArray<{ readonly index: number; readonly name: string }>): Map<number, string> =>
  new Map(links.map((l) => [l.index, l.name]))

export const readAddrs = (namespaces: NamespaceTable, ns: string, names: Map<number, string>): AddrState[] =>
  namespaces
    .channel(ns)
    .dump(RTM.GETADDR, [rtgenmsg(AF_INET)], "dump addresses")
    .filter((m) => m.type === RTM.NEWADDR)
    .flatMap((m) => {
      const a = parseIfaddrmsg(m.payload)
      const local = readIpv4(a.attrs.get(2 /* IFA_LOCAL */)) ?? readIpv4(a.attrs.get(1 /* IFA_ADDRESS */))
      const dev = names.get(a.index)
      return a.family === AF_INET && local && dev ? [{ dev, cidr: `${local}/${a.prefixLength}` }] : []
    })

const SCOPES: ReadonlyMap<number, RouteState["scope"]> = new Map([
  [RT_SCOPE.universe, "universe"],
  [RT_SCOPE.link, "link"],
  [RT_SCOPE.host, "host"],
])

/** the main table's unicast routes; "kernel" ones are those an address made (RTPROT_KERNEL) */
export const readRoutes = (namespaces: NamespaceTable, ns: string, names: Map<number, string>): RouteState[] =>
  namespaces
    .channel(ns)
    .dump(RTM.GETROUTE, [rtmsg({ family: AF_INET, dstLength: 0, table: 0, protocol: 0, scope: 0, type: 0 })], "dump routes")
    .filter((m) => m.type === RTM.NEWROUTE)
    .flatMap((m) => {
      const r = parseRtmsg(m.payload)
      const table = readU32(r.attrs.get(RTA.TABLE)) ?? r.table
      if (r.family !== AF_INET || table !== RT_TABLE_MAIN || r.type !== RTN_UNICAST) return []
      const dst = readIpv4(r.attrs.get(RTA.DST))
      const via = readIpv4(r.attrs.get(RTA.GATEWAY))
      const oif = readU32(r.attrs.get(RTA.OIF))
      const route: RouteState = {
        dst: r.dstLength === 0 || !dst ? "default" : `${networkOf(dst, r.dstLength)}/${r.dstLength}`,
        ...(via ? { via } : {}),
        dev: (oif !== undefined ? names.get(oif) : undefined) ?? "",
        scope: SCOPES.get(r.scope) ?? "universe",
        origin: r.protocol === RTPROT_KERNEL ? "kernel" : "static",
      }
      return [route]
    })

export const readNeighs = (namespaces: NamespaceTable, ns: string, names: Map<number, string>): NeighState[] =>
  namespaces
    .channel(ns)
    .dump(RTM.GETNEIGH, [ndmsg({ family: AF_INET, index: 0, state: 0, flags: 0 })], "dump neighbours")
    .filter((m) => m.type === RTM.NEWNEIGH)
    .flatMap((m) => {
      const n = parseNdmsg(m.payload)
      const ip = readIpv4(n.attrs.get(NDA.DST))
      const mac = readMac(n.attrs.get(NDA.LLADDR))
      const dev = names.get(n.index)
      return n.family === AF_INET && n.state & NUD.PERMANENT && ip && mac && dev ? [{ dev, ip, mac }] : []
    })

const isMulticastMac = (mac: string): boolean => (parseInt(mac.slice(0, 2), 16) & 1) === 1

/**
 * The FDB entries someone put there: on a vxlan device, its own permanent entries (they carry the
 * remote VTEP); on a bridge port, the bridge's static entries. Left out: what the kernel adds by
 * itself (each port's own MAC as a permanent "local" entry, each device's multicast list).
 */
export const readFdb = (namespaces: NamespaceTable, ns: string, names: Map<number, string>): FdbState[] =>
  namespaces
    .channel(ns)
    .dump(RTM.GETNEIGH, [ndmsg({ family: AF_BRIDGE, index: 0, state: 0, flags: 0 })], "dump fdb")
    .filter((m) => m.type === RTM.NEWNEIGH)
    .flatMap((m) => {
      const n = parseNdmsg(m.payload)
      const mac = readMac(n.attrs.get(NDA.LLADDR))
      const dst = readIpv4(n.attrs.get(NDA.DST))
      const dev = names.get(n.index)
      if (n.family !== AF_BRIDGE || !mac || !dev) return []
      const vxlanEntry = (n.flags & NTF.SELF) !== 0 && dst !== undefined && (n.state & NUD.PERMANENT) !== 0
      // the bridge's own entries name it in NDA_MASTER (their ndm_flags stay 0)
      const bridgeEntry = n.attrs.has(NDA.MASTER) && n.state === NUD.NOARP && !isMulticastMac(mac)
      if (vxlanEntry) return [{ dev, mac, dst }]
      if (bridgeEntry) return [{ dev, mac }]
      return []
    })

export { namesByIndex }
