import { errnoReasons, type KernelError, kernelError } from "../KernelError.ts"
import type { KernelOp } from "../kernel-types.ts"
import type { SimLink, SimMachine, SimNamespace } from "./state.ts"

/**
 * The simulator refuses with the errno Linux gives (measured on a 6.18 kernel in throwaway
 * namespaces) and turns it into a reason through the same table the linux backend uses, so both
 * backends cannot drift apart on the mapping.
 */
export const refuse = (op: KernelOp | undefined, errno: string, detail: string): KernelError =>
  kernelError(errnoReasons[errno] ?? "Unknown", detail, op, errno)

/** an operation either changes the machine or says why not (no exceptions on the fast path) */
export type Outcome = KernelError | undefined

/** a namespace by name: one of the two looked up last if it is (and still exists), else from the map */
export const namespaceOf = (machine: SimMachine, name: string): SimNamespace | undefined => {
  const recent = machine.recent
  const last = recent[0]
  if (last !== undefined && last.name === name && !last.deleted) return last
  const before = recent[1]
  if (before !== undefined && before.name === name && !before.deleted) {
    recent[1] = last
    recent[0] = before
    return before
  }
  const ns = machine.namespaces.get(name)
  if (ns !== undefined) {
    recent[1] = last
    recent[0] = ns
  }
  return ns
}

export const noNamespace = (op: KernelOp | undefined, name: string): KernelError =>
  refuse(op, "ENOENT", `network namespace "${name}" does not exist`)

export const noDevice = (op: KernelOp | undefined, ns: SimNamespace, name: string): KernelError =>
  refuse(op, "ENODEV", `no link "${name}" in namespace "${ns.name}"`)

/** a link of the namespace, or undefined (the caller refuses with ENODEV) */
export const linkOf = (ns: SimNamespace, name: string): SimLink | undefined => ns.links.get(name)

/** IFNAMSIZ is 16 with the NUL: 15 bytes of name; "/", ":" and whitespace are refused by dev_valid_name */
export const checkLinkName = (op: KernelOp | undefined, name: string): Outcome => {
  if (name.length === 0 || name === "." || name === "..") return refuse(op, "EINVAL", `invalid link name "${name}"`)
  let ascii = true
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0x7f) ascii = false
  const bytes = ascii ? name.length : Buffer.byteLength(name)
  if (bytes > 15) return refuse(op, "ERANGE", `link name "${name}" is longer than 15 bytes`)
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i)
    if (code === 47 || code === 58 || code <= 32) return refuse(op, "EINVAL", `invalid link name "${name}"`)
  }
  return undefined
}
