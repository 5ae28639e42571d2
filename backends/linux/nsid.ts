import { closeSync, openSync } from "node:fs"
import { NETNS_DIR, type NamespaceTable } from "./namespaces.ts"
import { AF_UNSPEC, NETNSA, RTM } from "./netlink/constants.ts"
import { attrU32, parseAttrs, readI32, rtgenmsg } from "./netlink/wire.ts"

/**
 * The id namespace `ns` gives namespace `other` (RTM_GETNSID), or undefined when it gave none.
 * The kernel assigns one when a link in `ns` needs to name `other` (a veth peer, a macvlan's
 * parent), so links report their far side as IFLA_LINK_NETNSID = that id.
 */
export const nsidOf = (namespaces: NamespaceTable, ns: string, other: string): number | undefined => {
  let fd: number
  try {
    fd = openSync(`${NETNS_DIR}/${other}`, "r")
  } catch {
    return undefined
  }
  try {
    const reply = namespaces
      .channel(ns)
      .request(RTM.GETNSID, 0, [rtgenmsg(AF_UNSPEC), attrU32(NETNSA.FD, fd)], `nsid of ${other}`)
      .find((m) => m.type === RTM.NEWNSID)
    const nsid = reply ? readI32(parseAttrs(reply.payload, 4).get(NETNSA.NSID)) : undefined
    return nsid !== undefined && nsid >= 0 ? nsid : undefined
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

