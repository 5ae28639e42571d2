import type { KernelOp } from "../kernel-types.ts"
import { inPrefix, networkOf, parseCidr } from "./ipv4.ts"
import { addressesChanged, ownsAddress } from "./local-addresses.ts"
import { linkOf, namespaceOf, noDevice, noNamespace, type Outcome, refuse } from "./refusal.ts"
import { addConnectedRoute, flushRoutesVia, removeConnectedRoute } from "./routes.ts"
import { SimAddress, type SimLink, type SimMachine, type SimNamespace } from "./state.ts"

/**
 * IPv4 addresses with Linux's primary/secondary rule: the first address of a subnet on a link is
 * primary and owns the connected route; later ones of the same subnet are secondaries and go
 * away with it (net.ipv4.conf.*.promote_secondaries is 0 in a new namespace, measured).
 */

export const isLocalAddress = (ns: SimNamespace, address: number): boolean => {
  if (ownsAddress(ns, address)) return true
  // a prefix on lo is local as a whole ("local 127.0.0.0/8 dev lo" in the local table)
  for (const onLoopback of ns.loopback.addresses) {
    if (inPrefix(address, networkOf(onLoopback.address, onLoopback.length), onLoopback.length)) return true
  }
  return false
}

const sameSubnet = (a: SimAddress, address: number, length: number): boolean =>
  a.length === length && inPrefix(address, networkOf(a.address, a.length), length)

/** adds an address that is known not to be there yet */
const insertAddress = (ns: SimNamespace, link: SimLink, address: number, length: number): void => {
  const list = link.addresses
  let secondary = false
  for (const existing of list) if (!existing.secondary && sameSubnet(existing, address, length)) secondary = true
  const added = new SimAddress(address, length, secondary)
  if (secondary) {
    list.push(added)
  } else {
    let position = 0
    while (position < list.length && list[position]?.secondary === false) position++
    // in place of splice, which is slow for the one-element insert every address makes
    list.push(added)
    for (let i = list.length - 1; i > position; i--) list[i] = list[i - 1] as SimAddress
    list[position] = added
  }
  addressesChanged(ns)
  addConnectedRoute(ns, link, added)
}

export const addrAdd = (machine: SimMachine, op: KernelOp & { readonly op: "addrAdd" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const link = linkOf(ns, op.dev)
  if (link === undefined) return noDevice(op, ns, op.dev)
  const prefix = parseCidr(op.cidr)
  if (prefix === undefined) return refuse(op, "EINVAL", `invalid address "${op.cidr}"`)
  for (const existing of link.addresses) {
    if (existing.address === prefix.address && existing.length === prefix.length) {
      return refuse(op, "EEXIST", `${op.cidr} is already assigned to ${link.name}`)
    }
  }
  insertAddress(ns, link, prefix.address, prefix.length)
  return undefined
}

export const addrDel = (machine: SimMachine, op: KernelOp & { readonly op: "addrDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const link = linkOf(ns, op.dev)
  if (link === undefined) return noDevice(op, ns, op.dev)
  const prefix = parseCidr(op.cidr)
  if (prefix === undefined) return refuse(op, "EINVAL", `invalid address "${op.cidr}"`)
  const found = link.addresses.find((a) => a.address === prefix.address && a.length === prefix.length)
  if (found === undefined) return refuse(op, "EADDRNOTAVAIL", `${op.cidr} is not assigned to ${link.name}`)
  deleteAddress(ns, link, found)
  return undefined
}

const promotesSecondaries = (ns: SimNamespace, link: SimLink): boolean =>
  ns.sysctls !== undefined &&
  (ns.sysctls.get("net.ipv4.conf.all.promote_secondaries") === "1" ||
    ns.sysctls.get(`net.ipv4.conf.${link.name}.promote_secondaries`) === "1")

const deleteAddress = (ns: SimNamespace, link: SimLink, removed: SimAddress): void => {
  const list = link.addresses
  list.splice(list.indexOf(removed), 1)
  addressesChanged(ns)
  removeConnectedRoute(ns, link, removed)
  if (!removed.secondary) {
    const followers = list.filter((a) => a.secondary && sameSubnet(a, removed.address, removed.length))
    const first = followers[0]
    if (first !== undefined && promotesSecondaries(ns, link)) {
      // the first secondary becomes primary (and gets the route); the others stay its secondaries
      list.splice(list.indexOf(first), 1)
      insertAddress(ns, link, first.address, first.length)
    } else {
      for (const follower of followers) {
        list.splice(list.indexOf(follower), 1)
      }
    }
  }
  // Linux disables IPv4 on a device whose last address went: every route through it is flushed
  if (list.length === 0) flushRoutesVia(ns, link)
}

/** what inetdev does when a loopback device comes up */
export const ensureLoopbackAddress = (ns: SimNamespace, link: SimLink): void => {
  const loopbackAddress = 0x7f000001
  for (const a of link.addresses) if (a.address === loopbackAddress && a.length === 8) return
  insertAddress(ns, link, loopbackAddress, 8)
}

/** the link is going away: its addresses leave the namespace's local set */
export const forgetAddresses = (ns: SimNamespace, link: SimLink): void => {
  if (link.addresses.length === 0) return
  // pop rather than `length = 0`, which goes through the runtime: this runs for every deleted link
  while (link.addresses.length > 0) link.addresses.pop()
  addressesChanged(ns)
}
