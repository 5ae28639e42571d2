import type { NamespaceTable } from "./namespaces.ts"
import { linkIndex } from "./links.ts"
import { AF_BRIDGE, AF_INET, NDA, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE, NTF, NUD, RTM } from "./netlink/constants.ts"
import { NetlinkRefusal } from "./netlink/channel.ts"
import { attrIpv4, attrMac, ndmsg } from "./netlink/wire.ts"

/** a permanent ARP entry; replaces a learned one for the same address, as libnetwork's NeighSet */
export const neighAdd = (namespaces: NamespaceTable, ns: string, dev: string, ip: string, mac: string): void => {
  const index = linkIndex(namespaces, ns, dev)
  namespaces
    .channel(ns)
    .request(
      RTM.NEWNEIGH,
      NLM_F_CREATE | NLM_F_REPLACE,
      [ndmsg({ family: AF_INET, index, state: NUD.PERMANENT, flags: 0 }), attrIpv4(NDA.DST, ip), attrMac(NDA.LLADDR, mac)],
      `add neighbour ${ip} on ${dev}`,
    )
}

export const neighDel = (namespaces: NamespaceTable, ns: string, dev: string, ip: string): void => {
  const index = linkIndex(namespaces, ns, dev)
  namespaces
    .channel(ns)
    .request(
      RTM.DELNEIGH,
      0,
      [ndmsg({ family: AF_INET, index, state: 0, flags: 0 }), attrIpv4(NDA.DST, ip)],
      `delete neighbour ${ip} on ${dev}`,
    )
}

/**
 * With `dst` (a vxlan device): the device's own table (NTF_SELF), a permanent entry pointing the
 * MAC at a remote VTEP; appended, so the all-zero MAC can list several VTEPs for flooding.
 * Without: the bridge's table (NTF_MASTER), a static entry. Static, not permanent: the bridge
 * treats a permanent entry as one of its own addresses and would deliver those frames locally.
 */
export const fdbAdd = (namespaces: NamespaceTable, ns: string, dev: string, mac: string, dst?: string): void => {
  const index = linkIndex(namespaces, ns, dev)
  const header =
    dst !== undefined
      ? ndmsg({ family: AF_BRIDGE, index, state: NUD.PERMANENT, flags: NTF.SELF })
      : ndmsg({ family: AF_BRIDGE, index, state: NUD.NOARP, flags: NTF.MASTER })
  const flags = dst !== undefined ? NLM_F_CREATE | NLM_F_APPEND : NLM_F_CREATE | NLM_F_REPLACE
  const attrs = [attrMac(NDA.LLADDR, mac), ...(dst !== undefined ? [attrIpv4(NDA.DST, dst)] : [])]
  namespaces.channel(ns).request(RTM.NEWNEIGH, flags, [header, ...attrs], `add fdb ${mac} on ${dev}`)
}

export const fdbDel = (namespaces: NamespaceTable, ns: string, dev: string, mac: string, dst?: string): void => {
  const index = linkIndex(namespaces, ns, dev)
  const header = ndmsg({ family: AF_BRIDGE, index, state: 0, flags: dst !== undefined ? NTF.SELF : NTF.MASTER })
  const attrs = [attrMac(NDA.LLADDR, mac), ...(dst !== undefined ? [attrIpv4(NDA.DST, dst)] : [])]
  namespaces.channel(ns).request(RTM.DELNEIGH, 0, [header, ...attrs], `delete fdb ${mac} on ${dev}`)
}

const ENOENT = 2

/** the bridge's learned entry for the MAC behind this port, deleted if there is one (fdbForget) */
export const fdbForget = (namespaces: NamespaceTable, ns: string, dev: string, mac: string): void => {
  const index = linkIndex(namespaces, ns, dev)
  const header = ndmsg({ family: AF_BRIDGE, index, state: 0, flags: NTF.MASTER })
  try {
    namespaces.channel(ns).request(RTM.DELNEIGH, 0, [header, attrMac(NDA.LLADDR, mac)], `forget learned fdb ${mac} on ${dev}`)
  } catch (error) {
    if (!(error instanceof NetlinkRefusal && error.errno === ENOENT)) throw error
  }
}
