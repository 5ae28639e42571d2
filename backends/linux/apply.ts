import type { KernelOp } from "../kernel-types.ts"
import { addrAdd, addrDel } from "./addresses.ts"
import type { NetnsAddon } from "./addon.ts"
import type { Firewall } from "./firewall.ts"
import { linkAdd, linkDel, linkDelGroup, linkSet } from "./links.ts"
import type { NamespaceTable } from "./namespaces.ts"
import { fdbAdd, fdbDel, fdbForget, neighAdd, neighDel } from "./neighbours.ts"
import { routeAdd, routeDel } from "./routes.ts"
import { sysctlWrite } from "./sysctl.ts"
import { dumpLinks } from "./read.ts"
import { observersOf, releaseChildren, type Teardown } from "./teardown.ts"
import { xfrmPolicyAdd, xfrmPolicyDel, xfrmStateAdd, xfrmStateDel } from "./xfrm.ts"

export interface ApplyContext {
  readonly native: NetnsAddon
  readonly namespaces: NamespaceTable
  readonly firewall: Firewall
  /** keys set through sysctlSet, per namespace: read() reports exactly these */
  readonly sysctlKeys: Map<string, Set<string>>
  /** links into deleted namespaces the kernel has yet to remove (awaited at the end of apply) */
  readonly teardowns: Teardown[]
}

/**
 * What an op changes in bridge membership (firewall port sets follow it): links now on a bridge
 * (or on none, bridge null), each named in its namespace; `rescan` when the op cannot say (a rename)
 * and the namespace's ports have to be read.
 */
type Membership = { readonly moved: ReadonlyArray<{ ns: string; port: string; bridge: string | null }>; readonly rescan: ReadonlyArray<string> }

const NO_CHANGE: Membership = { moved: [], rescan: [] }

const membershipChangedBy = (op: KernelOp): Membership => {
  switch (op.op) {
    case "linkAdd": {
      const link = op.link
      const target = link.kind === "macvlan" || link.kind === "ipvlan" || link.kind === "vxlan" ? (link.targetNs ?? op.ns) : op.ns
      // a new link without a bridge still counts: a set may hold its name from a link that is gone
      const moved = [{ ns: target, port: link.name, bridge: link.master ?? null }]
      if (link.kind === "veth") moved.push({ ns: link.peer.ns ?? op.ns, port: link.peer.name, bridge: null })
      return { moved, rescan: [] }
    }
    case "linkSet":
      if (op.newName !== undefined) return { moved: [], rescan: [op.ns] }
      return op.master !== undefined ? { moved: [{ ns: op.ns, port: op.name, bridge: op.master }], rescan: [] } : NO_CHANGE
    default:
      return NO_CHANGE
  }
}

/**
 * One operation on the real kernel; throws whatever the kernel said (toKernelError maps it).
 * Synchronous except where nft has to run (firewall tables, and bridge port sets they match on):
 * then it returns the promise of that.
 */
export const applyOne = (ctx: ApplyContext, op: KernelOp): Promise<void> | void => {
  const { namespaces } = ctx
  switch (op.op) {
    case "nsAdd":
      return namespaces.create(op.ns)
    case "nsDel": {
      const links = dumpLinks(namespaces, op.ns)
      releaseChildren(namespaces, op.ns, links)
      const observers = observersOf(namespaces, op.ns, links)
      namespaces.delete(op.ns)
      ctx.teardowns.push(...observers)
      ctx.sysctlKeys.delete(op.ns)
      return
    }
    case "linkAdd":
      linkAdd(namespaces, op.ns, op.link)
      break
    case "linkDel":
      return linkDel(namespaces, op.ns, op.name)
    case "linkDelGroup":
      return linkDelGroup(namespaces, op.ns, op.group)
    case "linkSet":
      linkSet(namespaces, op.ns, op.name, {
        ...(op.up !== undefined ? { up: op.up } : {}),
        ...(op.master !== undefined ? { master: op.master } : {}),
        ...(op.mtu !== undefined ? { mtu: op.mtu } : {}),
        ...(op.mac !== undefined ? { mac: op.mac } : {}),
        ...(op.newName !== undefined ? { newName: op.newName } : {}),
      })
      break
    case "addrAdd":
      return addrAdd(namespaces, op.ns, op.dev, op.cidr)
    case "addrDel":
      return addrDel(namespaces, op.ns, op.dev, op.cidr)
    case "routeAdd":
      return routeAdd(namespaces, op.ns, op.route)
    case "routeDel":
      return routeDel(namespaces, op.ns, op.route)
    case "neighAdd":
      return neighAdd(namespaces, op.ns, op.dev, op.ip, op.mac)
    case "neighDel":
      return neighDel(namespaces, op.ns, op.dev, op.ip)
    case "fdbAdd":
      return fdbAdd(namespaces, op.ns, op.dev, op.mac, op.dst)
    case "fdbDel":
      return fdbDel(namespaces, op.ns, op.dev, op.mac, op.dst)
    case "fdbForget":
      return fdbForget(namespaces, op.ns, op.dev, op.mac)
    case "sysctlSet": {
      sysctlWrite(ctx.native, namespaces, op.ns, op.key, op.value)
      const keys = ctx.sysctlKeys.get(op.ns) ?? new Set<string>()
      keys.add(op.key)
      ctx.sysctlKeys.set(op.ns, keys)
      return
    }
    case "firewallSet":
      return ctx.firewall.set(op.ns, op.table)
    case "firewallDel":
      return ctx.firewall.delete(op.ns, op.table)
    case "xfrmStateAdd":
      return xfrmStateAdd(ctx.native, namespaces, op.ns, op.state)
    case "xfrmStateDel":
      return xfrmStateDel(ctx.native, namespaces, op.ns, op.dst, op.spi, op.mark)
    case "xfrmPolicyAdd":
      return xfrmPolicyAdd(ctx.native, namespaces, op.ns, op.policy)
    case "xfrmPolicyDel":
      return xfrmPolicyDel(ctx.native, namespaces, op.ns, op.selector, op.dir, op.mark)
  }
  const { moved, rescan } = membershipChangedBy(op)
  const movedWatched = moved.filter((m) => ctx.firewall.watchesBridges(m.ns))
  const rescanWatched = rescan.filter((ns) => ctx.firewall.watchesBridges(ns))
  if (movedWatched.length > 0 || rescanWatched.length > 0)
    return (async () => {
      for (const m of movedWatched) await ctx.firewall.portMoved(m.ns, m.port, m.bridge)
      for (const ns of rescanWatched) await ctx.firewall.portsChanged(ns)
    })()
}
