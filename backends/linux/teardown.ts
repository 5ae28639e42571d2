import { existsSync } from "node:fs"
import { nsPath, type NamespaceTable } from "./namespaces.ts"
import { IFLA, RTM } from "./netlink/constants.ts"
import { attrU32, ifinfomsg } from "./netlink/wire.ts"
import { nsidOf } from "./nsid.ts"
import { linkDel } from "./links.ts"
import { dumpLinks, type RawLink } from "./read.ts"

/** a link in another namespace that goes when a deleted namespace is finally destroyed */
export interface Teardown {
  /** the deleted namespace */
  readonly ns: string
  readonly observer: string
  /** the link's ifindex in the observer (IFLA_LINK of its peer in the deleted namespace) */
  readonly index: number
}

/**
 * Before deleting `ns`: the far ends of its links that live in our other namespaces (veth peers).
 * Dumping `ns` makes the kernel give those namespaces ids inside `ns`, which RTM_GETNSID then
 * names; a namespace that was never asked may have no id assigned yet. The namespaces our own
 * links joined to `ns` are asked first, so deleting one of a thousand sandboxes asks one or two
 * namespaces, not all of them; the rest are asked only for ids still unnamed.
 */
export const observersOf = (namespaces: NamespaceTable, ns: string, links: ReadonlyArray<RawLink>): Teardown[] => {
  // only a veth's far end goes with the namespace: a macvlan's parent or the link a vxlan made
  // from another namespace names stays there (waiting for it would wait out the bound)
  const crossing = links.filter((l) => l.kind === "veth" && l.linkNetnsid !== undefined && l.linkIndex !== undefined)
  if (crossing.length === 0) return []
  const unnamed = new Set(crossing.map((l) => l.linkNetnsid as number))
  const names = new Map<number, string>()
  const asked = new Set<string>([ns])
  const ask = (candidates: Iterable<string>): void => {
    for (const other of candidates) {
      if (unnamed.size === 0) return
      if (asked.has(other)) continue
      asked.add(other)
      const nsid = nsidOf(namespaces, ns, other)
      if (nsid === undefined || !unnamed.has(nsid)) continue
      names.set(nsid, other)
      unnamed.delete(nsid)
    }
  }
  ask(namespaces.joinedTo(ns))
  if (unnamed.size > 0) ask(namespaces.known())
  return crossing.flatMap((l) => {
    const observer = names.get(l.linkNetnsid as number)
    return observer === undefined ? [] : [{ ns, observer, index: l.linkIndex as number }]
  })
}

/**
 * Before deleting `ns`: its macvlan and ipvlan children whose parent lives in another namespace
 * are deleted now. Left to the namespace's destruction, a child would hold its parent until the
 * kernel's worker gets to it, later and later as the machine gets busier: a passthru child keeps
 * taking all of the parent's unicast (the host answers ARP and then loses the echo), and a
 * child's MAC stays taken on the parent, so a container given the same address at once would be
 * refused. Docker deletes the child when the endpoint goes; so does this, in one request each.
 */
export const releaseChildren = (namespaces: NamespaceTable, ns: string, links: ReadonlyArray<RawLink>): void => {
  for (const link of links) {
    if ((link.kind === "macvlan" || link.kind === "ipvlan") && link.linkNetnsid !== undefined) linkDel(namespaces, ns, link.name)
  }
}

const stillThere = (namespaces: NamespaceTable, { observer, index }: Teardown): boolean => {
  if (!existsSync(nsPath(observer))) return false
  try {
    namespaces.channel(observer).request(RTM.GETLINK, 0, [ifinfomsg({ index }), attrU32(IFLA.EXT_MASK, 0)], `link ${index}`)
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Deleting a namespace only unmounts its name: the kernel destroys it later, in a worker, and
 * only then do the veth peers it had elsewhere disappear (a few ms; seconds when the machine is
 * busy or other processes destroy namespaces too, since the kernel destroys them one batch at a
 * time). Waits until those links are gone, so that nsDel's effects are visible when apply
 * returns, as they are for every other operation. Bounded, generously: what is still there when
 * the bound is reached is taken out of `pending` and returned, for the caller to report.
 */
export const awaitTeardowns = async (namespaces: NamespaceTable, pending: Teardown[], maxMs: number): Promise<Teardown[]> => {
  const started = performance.now()
  while (pending.length > 0) {
    pending.splice(0, pending.length, ...pending.filter((t) => stillThere(namespaces, t)))
    if (pending.length === 0) break
    if (performance.now() - started > maxMs) return pending.splice(0, pending.length)
    await sleep(2)
  }
  return []
}
