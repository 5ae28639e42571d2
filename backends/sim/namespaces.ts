import type { KernelOp } from "../kernel-types.ts"
import { deleteLink } from "./links.ts"
import { namespaceOf, noNamespace, type Outcome, refuse } from "./refusal.ts"
import { type SimMachine, type SimNamespace, SimNamespace as Namespace } from "./state.ts"

/**
 * Namespaces. A new one holds only `lo` (index 1, down, mtu 65536, all-zero MAC). Deleting one
 * destroys its links the way cleanup_net does: veth peers in other namespaces go too, and so do
 * macvlan/ipvlan children living elsewhere whose parent was here, and vxlans living elsewhere
 * whose socket was here (vxlan_destroy_tunnels).
 */

export const nsAdd = (machine: SimMachine, op: KernelOp & { readonly op: "nsAdd" }): Outcome => {
  if (machine.namespaces.has(op.ns)) return refuse(op, "EEXIST", `network namespace "${op.ns}" exists`)
  if (op.ns.length === 0 || op.ns.includes("/") || op.ns === "." || op.ns === "..") {
    return refuse(op, "EINVAL", `invalid namespace name "${op.ns}"`)
  }
  machine.namespaces.set(op.ns, new Namespace(op.ns))
  return undefined
}

export const nsDel = (machine: SimMachine, op: KernelOp & { readonly op: "nsDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  destroyNamespace(machine, ns)
  return undefined
}

export const destroyNamespace = (machine: SimMachine, ns: SimNamespace): void => {
  ns.deleted = true
  machine.namespaces.delete(ns.name)
  for (const link of [...ns.links.values()]) deleteLink(link)
  for (const vxlan of [...(ns.vxlanSockets ?? [])]) deleteLink(vxlan)
  ns.dns = undefined
  ns.sockets = undefined
}
