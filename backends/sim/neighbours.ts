import type { KernelOp } from "../kernel-types.ts"
import { INVALID, parseIpv4 } from "./ipv4.ts"
import { checkMac } from "./random.ts"
import { linkOf, namespaceOf, noDevice, noNamespace, type Outcome, refuse } from "./refusal.ts"
import type { SimMachine } from "./state.ts"

/**
 * Permanent neighbour (ARP) entries and permanent FDB entries. Neighbours are written with
 * NLM_F_REPLACE and FDB entries with NLM_F_APPEND, as the linux backend sends them, so adding one
 * twice is not an error; removing a missing one is (ENOENT, measured for both).
 */

const badMac = (op: KernelOp, mac: string): Outcome =>
  checkMac(mac.toLowerCase()) === "malformed" ? refuse(op, "EINVAL", `invalid MAC "${mac}"`) : undefined

export const neighAdd = (machine: SimMachine, op: KernelOp & { readonly op: "neighAdd" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const dev = linkOf(ns, op.dev)
  if (dev === undefined) return noDevice(op, ns, op.dev)
  const ip = parseIpv4(op.ip)
  if (ip === INVALID) return refuse(op, "EINVAL", `invalid neighbour address "${op.ip}"`)
  const invalid = badMac(op, op.mac)
  if (invalid) return invalid
  const mac = op.mac.toLowerCase()
  const neighbours = ns.neighbours ?? (ns.neighbours = [])
  const existing = neighbours.find((entry) => entry.dev === dev && entry.ip === ip)
  if (existing !== undefined) existing.mac = mac
  else neighbours.push({ dev, ip, mac })
  return undefined
}

export const neighDel = (machine: SimMachine, op: KernelOp & { readonly op: "neighDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const dev = linkOf(ns, op.dev)
  if (dev === undefined) return noDevice(op, ns, op.dev)
  const ip = parseIpv4(op.ip)
  if (ip === INVALID) return refuse(op, "EINVAL", `invalid neighbour address "${op.ip}"`)
  const at = ns.neighbours?.findIndex((entry) => entry.dev === dev && entry.ip === ip) ?? -1
  if (at < 0) return refuse(op, "ENOENT", `no neighbour ${op.ip} on ${op.dev}`)
  ns.neighbours?.splice(at, 1)
  return undefined
}

export const fdbAdd = (machine: SimMachine, op: KernelOp & { readonly op: "fdbAdd" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const dev = linkOf(ns, op.dev)
  if (dev === undefined) return noDevice(op, ns, op.dev)
  const invalid = badMac(op, op.mac)
  if (invalid) return invalid
  const mac = op.mac.toLowerCase()
  let dst = INVALID
  if (op.dst !== undefined) {
    if (dev.kind !== "vxlan") return refuse(op, "EINVAL", `${op.dev} is not a vxlan device: an FDB entry with a destination needs one`)
    dst = parseIpv4(op.dst)
    if (dst === INVALID) return refuse(op, "EINVAL", `invalid FDB destination "${op.dst}"`)
  } else if (dev.master?.bridge === undefined) {
    return refuse(op, "EINVAL", `${op.dev} is not a bridge port`)
  }
  const entries = dev.fdb ?? (dev.fdb = [])
  if (entries.some((entry) => entry.mac === mac && entry.dst === dst)) return undefined
  entries.push({ mac, dst })
  if (dst === INVALID) dev.master?.bridge?.staticMacs.set(mac, dev)
  return undefined
}

export const fdbDel = (machine: SimMachine, op: KernelOp & { readonly op: "fdbDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const dev = linkOf(ns, op.dev)
  if (dev === undefined) return noDevice(op, ns, op.dev)
  const mac = op.mac.toLowerCase()
  const dst = op.dst === undefined ? INVALID : parseIpv4(op.dst)
  const entries = dev.fdb ?? []
  const at = entries.findIndex((entry) => entry.mac === mac && (op.dst === undefined || entry.dst === dst))
  if (at < 0) return refuse(op, "ENOENT", `no FDB entry ${op.mac} on ${op.dev}`)
  entries.splice(at, 1)
  const bridge = dev.master?.bridge
  if (bridge !== undefined && bridge.staticMacs.get(mac) === dev && !entries.some((entry) => entry.mac === mac)) {
    bridge.staticMacs.delete(mac)
  }
  return undefined
}

/** the bridge forgets what it learned of the MAC behind this port, if anything (fdbForget) */
export const fdbForget = (machine: SimMachine, op: KernelOp & { readonly op: "fdbForget" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const dev = linkOf(ns, op.dev)
  if (dev === undefined) return noDevice(op, ns, op.dev)
  const bridge = dev.master?.bridge
  const mac = op.mac.toLowerCase()
  if (bridge !== undefined && bridge.learned.get(mac) === dev) bridge.learned.delete(mac)
  return undefined
}
