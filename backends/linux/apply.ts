import type { KernelOp } from "../kernel-types.ts"
import { addrAdd, addrDel } from "./addresses.ts"
import type { NetnsAddon } from "./addon.ts"
import type { Firewall } from "./firewall.ts"
import { linkAdd, linkDel, linkDelGroup, linkSet } from "./links.ts"
import type { NamespaceTable } from "./namespaces.ts"
import { fdbAdd, fdbDel, neighAdd, neighDel } from "./neighbours.ts"
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

/** the namespaces whose bridge membership an op may change (firewall port sets follow it) */
const membershipChangedIn = (op: KernelOp): string[] => {
  switch (op.op) {
    case "linkAdd": {
      const link = op.link
      const target = link.kind === "macvlan" || link.kind === "ipvlan" ? (link.targetNs ?? op.ns) : op.ns
      return link.master ? [target] : []
    }
    case "linkSet":
      return op.master !== undefined || op.newName !== undefined ? [op.ns] : []
    default:
      return []
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
  const watched = membershipChangedIn(op).filter((ns) => ctx.firewall.watchesBridges(ns))
  if (watched.length > 0)
    return (async () => {
      for (const ns of watched) await ctx.firewall.portsChanged(ns)
    })()
}
