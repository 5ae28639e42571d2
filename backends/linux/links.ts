import { closeSync, openSync } from "node:fs"
import { CNMLAB_LINK_GROUP, type LinkSpec } from "../kernel-types.ts"
import type { NamespaceTable } from "./namespaces.ts"
import {
  IFF_UP,
  IFLA,
  IFLA_INFO,
  IFLA_IPVLAN,
  IFLA_MACVLAN_MODE,
  IFLA_VLAN_ID,
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

/**
 * The ifindex of `name` in `ns`, from what an earlier lookup saw when there was one: a bridge
 * every container attaches to, or a container's eth0 that its address and route both name, is
 * looked up once instead of once per request (`ip -batch` keeps the same cache). An index seen
 * earlier can be stale, since links also vanish with a peer in another namespace; it never names
 * another link, because the kernel hands out ifindexes cyclically over 2^31. So a request built
 * from it is sent through retryIfStale. Renames and deletions made through this backend forget
 * the names they change.
 */
export const cachedLinkIndex = (namespaces: NamespaceTable, ns: string, name: string): number => {
  const known = namespaces.knownIndex(ns, name)
  if (known !== undefined) return known
  const index = linkIndex(namespaces, ns, name)
  namespaces.rememberIndex(ns, name, index)
  return index
}

/**
 * Sends a request built with cachedLinkIndex; if the kernel answers as it does for an index whose
 * link is gone (ENODEV for the device of an address or route; EINVAL for a master: the new link is
 * then unregistered again, nothing is left), forgets the namespace's indexes and sends it once
 * more, built from fresh lookups. A refusal for any other reason comes back the same the second time.
 */
export const retryIfStale = <T>(namespaces: NamespaceTable, ns: string, staleCodes: ReadonlyArray<string>, send: () => T): T => {
  try {
    return send()
  } catch (error) {
    if (!staleCodes.includes((error as { code?: string }).code ?? "")) throw error
    namespaces.forgetIndexes(ns)
    return send()
  }
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
 * A veth asked for nothing gets one queue per possible CPU, and the driver then cuts the real
 * count back to one after registering the device, which waits for an expedited RCU grace period
 * with rtnl held. Asking for one queue each way up front gives the same device without the wait:
 * measured on this 2-CPU machine, 0.44 -> 0.23 ms per veth created from the cnmlab process
 * (`ip link add … type veth` paid 0.22 ms with or without it).
 */
const ONE_QUEUE_EACH_WAY: ReadonlyArray<Buffer> = [attrU32(IFLA.NUM_TX_QUEUES, 1), attrU32(IFLA.NUM_RX_QUEUES, 1)]

/**
 * RTM_NEWLINK (create, exclusive) for any LinkSpec. A veth's peer and a macvlan/ipvlan/vxlan with
 * targetNs are created directly inside their namespace (IFLA_NET_NS_FD), never moved afterwards.
 * The kernel hands such a device's newlink the namespace the request came from: a macvlan's
 * parent is looked up there, and a vxlan keeps its UDP socket there.
 */
export const linkAdd = (namespaces: NamespaceTable, ns: string, link: LinkSpec): void => {
  const channel = namespaces.channel(ns)
  const targetNs = link.kind === "macvlan" || link.kind === "ipvlan" || link.kind === "vxlan" ? link.targetNs : undefined
  const movesAway = targetNs !== undefined && targetNs !== ns
  const common: Buffer[] = [attrString(IFLA.IFNAME, link.name), attrU32(IFLA.GROUP, link.group ?? CNMLAB_LINK_GROUP)]
  if (link.mac) common.push(attrMac(IFLA.ADDRESS, link.mac))
  if (link.mtu) common.push(attrU32(IFLA.MTU, link.mtu))
  const header = ifinfomsg(link.up ? { flags: IFF_UP, change: IFF_UP } : {})
  // a bridge index is only meaningful in the namespace the link ends up in
  const master = link.master && !movesAway ? link.master : undefined
  const send = (attrs: ReadonlyArray<Buffer>): void => {
    const request = () =>
      channel.request(
        RTM.NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL,
        [header, ...common, ...(master ? [attrU32(IFLA.MASTER, cachedLinkIndex(namespaces, ns, master))] : []), ...attrs],
        `create ${link.kind} ${link.name}`,
      )
    if (master) retryIfStale(namespaces, ns, ["EINVAL"], request)
    else request()
  }
  // created in targetNs: the master (an index there) is set once it is there
  const sendToTarget = (attrs: ReadonlyArray<Buffer>): void => {
    if (!movesAway) return send(attrs)
    withNsFd(namespaces, targetNs, (fd) => send([attrU32(IFLA.NET_NS_FD, fd), ...attrs]))
    namespaces.join(ns, targetNs)
    if (link.master) linkSet(namespaces, targetNs, link.name, { master: link.master })
  }
  // a link made under a name some earlier lookup saw is a new link
  namespaces.forgetIndexes(ns, link.name)
  if (link.kind === "veth") namespaces.forgetIndexes(link.peer.ns ?? ns, link.peer.name)
  if (targetNs !== undefined) namespaces.forgetIndexes(targetNs, link.name)

  switch (link.kind) {
    case "bridge":
      namespaces.prepare(ns, "bridges")
      return send([linkInfo(link.kind)])
    case "dummy":
      return send([linkInfo(link.kind)])
    case "veth": {
      const peer = link.peer
      const peerAttrs = (nsFd?: number): Buffer[] => [
        attrString(IFLA.IFNAME, peer.name),
        attrU32(IFLA.GROUP, link.group ?? CNMLAB_LINK_GROUP),
        ...ONE_QUEUE_EACH_WAY,
        ...(nsFd !== undefined ? [attrU32(IFLA.NET_NS_FD, nsFd)] : []),
        ...(peer.mtu ? [attrU32(IFLA.MTU, peer.mtu)] : []),
        ...(peer.mac ? [attrMac(IFLA.ADDRESS, peer.mac)] : []),
      ]
      // the peer's ifinfomsg must not ask for IFF_UP: the kernel answers ENOTCONN
      const info = (nsFd?: number): Buffer => linkInfo("veth", [attrNested(VETH_INFO_PEER, [ifinfomsg(), ...peerAttrs(nsFd)])])
      if (peer.ns === undefined || peer.ns === ns) return send([...ONE_QUEUE_EACH_WAY, info()])
      withNsFd(namespaces, peer.ns, (fd) => send([...ONE_QUEUE_EACH_WAY, info(fd)]))
      return namespaces.join(ns, peer.ns)
    }
    case "vxlan": {
      // the kernel would take a missing VNI as VNI 0; refuse it as `ip link add … type vxlan` does
      if (!Number.isInteger(link.vni)) throw Object.assign(new Error(`vxlan ${link.name}: missing VNI`), { code: "EINVAL" })
      const data: Buffer[] = [attrU32(IFLA_VXLAN.ID, link.vni), attrBe16(IFLA_VXLAN.PORT, link.port)]
      if (link.local) data.push(attrIpv4(IFLA_VXLAN.LOCAL, link.local))
      if (link.dev) data.push(attrU32(IFLA_VXLAN.LINK, linkIndex(namespaces, ns, link.dev)))
      if (link.learning !== undefined) data.push(attrU8(IFLA_VXLAN.LEARNING, link.learning ? 1 : 0))
      if (link.proxy !== undefined) data.push(attrU8(IFLA_VXLAN.PROXY, link.proxy ? 1 : 0))
      return sendToTarget([linkInfo("vxlan", data)])
    }
    case "vlan": {
      if (!Number.isInteger(link.id)) throw Object.assign(new Error(`vlan ${link.name}: missing VLAN id`), { code: "EINVAL" })
      const parent = attrU32(IFLA.LINK, linkIndex(namespaces, ns, link.parent))
      return send([parent, linkInfo("vlan", [attrU16(IFLA_VLAN_ID, link.id)])])
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
      return sendToTarget([parent, info])
    }
  }
}

export const linkDel = (namespaces: NamespaceTable, ns: string, name: string): void => {
  namespaces.forgetIndexes(ns, name)
  namespaces.channel(ns).request(RTM.DELLINK, 0, [ifinfomsg(), attrString(IFLA.IFNAME, name)], `delete link ${name}`)
}

/** every link of the group in one request: far cheaper than one RTM_DELLINK per veth */
export const linkDelGroup = (namespaces: NamespaceTable, ns: string, group: number): void => {
  namespaces.forgetIndexes(ns)
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
  if (renaming) {
    namespaces.forgetIndexes(ns, name)
    namespaces.forgetIndexes(ns, changes.newName as string)
  }
  const attrs: Buffer[] = [attrString(IFLA.IFNAME, renaming ? (changes.newName as string) : name)]
  if (changes.mtu !== undefined) attrs.push(attrU32(IFLA.MTU, changes.mtu))
  if (changes.mac !== undefined) attrs.push(attrMac(IFLA.ADDRESS, changes.mac))
  if (changes.master !== undefined)
    attrs.push(attrU32(IFLA.MASTER, changes.master === null ? 0 : linkIndex(namespaces, ns, changes.master)))
  const flags = changes.up === undefined ? {} : { flags: changes.up ? IFF_UP : 0, change: IFF_UP }
  namespaces.channel(ns).request(RTM.SETLINK, 0, [ifinfomsg({ index, ...flags }), ...attrs], `set link ${name}`)
}
