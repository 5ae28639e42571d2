import type { KernelOp } from "../kernel-types.ts"
import { addrAdd, addrDel } from "./addresses.ts"
import { firewallDel, firewallSet } from "./firewall.ts"
import { linkAdd, linkDel, linkDelGroup, linkSet } from "./links.ts"
import { nsAdd, nsDel } from "./namespaces.ts"
import { fdbAdd, fdbDel, fdbForget, neighAdd, neighDel } from "./neighbours.ts"
import type { Outcome } from "./refusal.ts"
import { routeAdd, routeDel } from "./routes.ts"
import type { SimMachine } from "./state.ts"
import { sysctlSet } from "./sysctl.ts"
import { xfrmPolicyAdd, xfrmPolicyDel, xfrmStateAdd, xfrmStateDel } from "./xfrm.ts"

/** one operation on the machine: done, or the refusal Linux would give (the machine unchanged by it) */
const applyOp = (machine: SimMachine, op: KernelOp): Outcome => {
  switch (op.op) {
    case "nsAdd":
      return nsAdd(machine, op)
    case "nsDel":
      return nsDel(machine, op)
    case "linkAdd":
      return linkAdd(machine, op)
    case "linkDel":
      return linkDel(machine, op)
    case "linkDelGroup":
      return linkDelGroup(machine, op)
    case "linkSet":
      return linkSet(machine, op)
    case "addrAdd":
      return addrAdd(machine, op)
    case "addrDel":
      return addrDel(machine, op)
    case "routeAdd":
      return routeAdd(machine, op)
    case "routeDel":
      return routeDel(machine, op)
    case "neighAdd":
      return neighAdd(machine, op)
    case "neighDel":
      return neighDel(machine, op)
    case "fdbAdd":
      return fdbAdd(machine, op)
    case "fdbDel":
      return fdbDel(machine, op)
    case "fdbForget":
      return fdbForget(machine, op)
    case "sysctlSet":
      return sysctlSet(machine, op)
    case "firewallSet":
      return firewallSet(machine, op)
    case "firewallDel":
      return firewallDel(machine, op)
    case "xfrmStateAdd":
      return xfrmStateAdd(machine, op)
    case "xfrmStateDel":
      return xfrmStateDel(machine, op)
    case "xfrmPolicyAdd":
      return xfrmPolicyAdd(machine, op)
    case "xfrmPolicyDel":
      return xfrmPolicyDel(machine, op)
  }
}

/** runs the operations in order and stops at the first refusal; the ones before it stay applied */
export const applyAll = (machine: SimMachine, ops: ReadonlyArray<KernelOp>): Outcome => {
  machine.generation++
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]
    if (op === undefined) continue
    const refused = applyOp(machine, op)
    if (refused !== undefined) return refused
  }
  return undefined
}
