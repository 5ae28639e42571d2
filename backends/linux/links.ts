import { closeSync, openSync } from "node:fs"
import { CNMLAB_LINK_GROUP, type LinkSpec } from "../kernel-types.ts"
import type { NamespaceTable } from "./namespaces.ts"
import {
  IFF_UP,
  IFLA,
  IFLA_INFO,
  IFLA_IPVLAN,
  IFLA_MACVLAN_MODE,
  IFLA_VXLAN,
  IPVLAN_FLAG,
  IPVLAN_MODE,
  MACVLAN_MODE,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM,
  VETH_INFO_PEER,
} from "./netlink/constants.ts"
import {
  attrBe16,
  attrIpv4,
  attrMac,
  attrNested,
  attrString,
  attrU16,
  attrU32,
  attrU8,
  ifinfomsg,
  parseIfinfomsg,
} from "./netlink/wire.ts"

/** the ifindex of link `name` in `ns`; the kernel answers ENODEV when there is none */
export const linkIndex = (namespaces: NamespaceTable, ns: string, name: string): number => {
  const replies = namespaces
    .channel(ns)
    .request(RTM.GETLINK, 0, [ifinfomsg(), attrString(IFLA.IFNAME, name)], `find link ${name}`)
  const reply = replies.find((m) => m.type === RTM.NEWLINK)
  if (!reply) throw Object.assign(new Error(`link ${name} not found in ${ns}`), { code: "ENODEV" })
  return parseIfinfomsg(reply.payload).index
}

/** runs `fn` with an open fd of another namespace (for IFLA_NET_NS_FD), closed afterwards */
const withNsFd = <T>(namespaces: NamespaceTable, ns: string, fn: (fd: number) => T): T => {
  const fd = openSync(namespaces.path(ns), "r")
  try {
    return fn(fd)
  } finally {
    closeSync(fd)
  }
}

/** IFLA_LINKINFO for a kind, with its IFLA_INFO_DATA */
const linkInfo = (kind: string, data: ReadonlyArray<Uint8Array> = []): Buffer =>
  attrNested(IFLA.LINKINFO, [
    attrString(IFLA_INFO.KIND, kind),
    ...(data.length > 0 ? [attrNested(IFLA_INFO.DATA, data)] : []),
  ])

/**
 * RTM_NEWLINK (create, exclusive) for any LinkSpec. A veth's peer and a macvlan/ipvlan with
 * targetNs are created directly inside their namespace (IFLA_NET_NS_FD), never moved afterwards.
 */
export const linkAdd = (namespaces: NamespaceTable, ns: string, link: LinkSpec): void => {
  const channel = namespaces.channel(ns)
  const targetNs = link.kind === "macvlan" || link.kind === "ipvlan" ? link.targetNs : undefined
  const movesAway = targetNs !== undefined && targetNs !== ns
  const common: Buffer[] = [attrString(IFLA.IFNAME, link.name), attrU32(IFLA.GROUP, link.group ?? CNMLAB_LINK_GROUP)]
  if (link.mac) common.push(attrMac(IFLA.ADDRESS, link.mac))
  if (link.mtu) common.push(attrU32(IFLA.MTU, link.mtu))
  // a bridge index is only meaningful in the namespace the link ends up in
  if (link.master && !movesAway) common.push(attrU32(IFLA.MASTER, linkIndex(namespaces, ns, link.master)))
  const header = ifinfomsg(link.up ? { flags: IFF_UP, change: IFF_UP } : {})
  const send = (attrs: ReadonlyArray<Buffer>): void => {
    channel.request(RTM.NEWLINK, NLM_F_CREATE | NLM_F_EXCL, [header, ...common, ...attrs], `create ${link.kind} ${link.name}`)
  }

  switch (link.kind) {
    case "bridge":
    case "dummy":
      return send([linkInfo(link.kind)])
    case "veth": {
      const peer = link.peer
      const peerAttrs = (nsFd?: number): Buffer[] => [
        attrString(IFLA.IFNAME, peer.name),
        attrU32(IFLA.GROUP, link.group ?? CNMLAB_LINK_GROUP),
        ...(nsFd !== undefined ? [attrU32(IFLA.NET_NS_FD, nsFd)] : []),
        ...(peer.mtu ? [attrU32(IFLA.MTU, peer.mtu)] : []),
        ...(peer.mac ? [attrMac(IFLA.ADDRESS, peer.mac)] : []),
      ]
      // the peer's ifinfomsg must not ask for IFF_UP: the kernel answers ENOTCONN
      const info = (nsFd?: number): Buffer => linkInfo("veth", [attrNested(VETH_INFO_PEER, [ifinfomsg(), ...peerAttrs(nsFd)])])
      if (peer.ns === undefined || peer.ns === ns) return send([info()])
      withNsFd(namespaces, peer.ns, (fd) => send([info(fd)]))
      return namespaces.join(ns, peer.ns)
    }
    case "vxlan": {
      // the kernel would take a missing VNI as VNI 0; refuse it as `ip link add … type vxlan` does
      if (!Number.isInteger(link.vni)) throw Object.assign(new Error(`vxlan ${link.name}: missing VNI`), { code: "EINVAL" })
      const data: Buffer[] = [attrU32(IFLA_VXLAN.ID, link.vni), attrBe16(IFLA_VXLAN.PORT, link.port)]
      if (link.local) data.push(attrIpv4(IFLA_VXLAN.LOCAL, link.local))
      if (link.dev) data.push(attrU32(IFLA_VXLAN.LINK, linkIndex(namespaces, ns, link.dev)))
      if (link.learning !== undefined) data.push(attrU8(IFLA_VXLAN.LEARNING, link.learning ? 1 : 0))
      return send([linkInfo("vxlan", data)])
    }
    case "macvlan":
    case "ipvlan": {
      const parent = attrU32(IFLA.LINK, linkIndex(namespaces, ns, link.parent))
      const info =
        link.kind === "macvlan"
          ? linkInfo("macvlan", [attrU32(IFLA_MACVLAN_MODE, MACVLAN_MODE[link.mode])])
          : linkInfo("ipvlan", [
              attrU16(IFLA_IPVLAN.MODE, IPVLAN_MODE[link.mode]),
              ...(link.flag ? [attrU16(IFLA_IPVLAN.FLAGS, IPVLAN_FLAG[link.flag])] : []),
            ])
      if (!movesAway) return send([parent, info])
      withNsFd(namespaces, targetNs, (fd) => send([parent, attrU32(IFLA.NET_NS_FD, fd), info]))
      namespaces.join(ns, targetNs)
      if (link.master) linkSet(namespaces, targetNs, link.name, { master: link.master })
      return
    }
  }
}

export const linkDel = (namespaces: NamespaceTable, ns: string, name: string): void => {
  namespaces.channel(ns).request(RTM.DELLINK, 0, [ifinfomsg(), attrString(IFLA.IFNAME, name)], `delete link ${name}`)
}

/** every link of the group in one request: far cheaper than one RTM_DELLINK per veth */
export const linkDelGroup = (namespaces: NamespaceTable, ns: string, group: number): void => {
  namespaces.channel(ns).request(RTM.DELLINK, 0, [ifinfomsg(), attrU32(IFLA.GROUP, group)], `delete link group ${group}`)
}

export interface LinkChanges {
  readonly up?: boolean
  readonly master?: string | null
  readonly mtu?: number
  readonly mac?: string
  readonly newName?: string
}

/**
 * One RTM_SETLINK carrying every change, as `ip link set` sends it; the kernel applies them in its
 * own order (address, MTU, name, master, then flags). Renaming a link that is up is allowed since
 * Linux 6.2 (measured on 6.18: no EBUSY).
 */
export const linkSet = (namespaces: NamespaceTable, ns: string, name: string, changes: LinkChanges): void => {
  // the kernel finds the link by IFLA_IFNAME when no index is given (ENODEV if there is none);
  // only a rename needs the index, since IFLA_IFNAME then carries the new name
  const renaming = changes.newName !== undefined
  const index = renaming ? linkIndex(namespaces, ns, name) : 0
  const attrs: Buffer[] = [attrString(IFLA.IFNAME, renaming ? (changes.newName as string) : name)]
  if (changes.mtu !== undefined) attrs.push(attrU32(IFLA.MTU, changes.mtu))
  if (changes.mac !== undefined) attrs.push(attrMac(IFLA.ADDRESS, changes.mac))
  if (changes.master !== undefined)
    attrs.push(attrU32(IFLA.MASTER, changes.master === null ? 0 : linkIndex(namespaces, ns, changes.master)))
  const flags = changes.up === undefined ? {} : { flags: changes.up ? IFF_UP : 0, change: IFF_UP }
  namespaces.channel(ns).request(RTM.SETLINK, 0, [ifinfomsg({ index, ...flags }), ...attrs], `set link ${name}`)
}
