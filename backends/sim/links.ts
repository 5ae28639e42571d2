import { CNMLAB_LINK_GROUP, type KernelOp, type LinkSpec } from "../kernel-types.ts"
import { ensureLoopbackAddress, forgetAddresses } from "./addresses.ts"
import { enslave, portMacChanged, portMtuChanged, release } from "./bridge-ports.ts"
import { INVALID, parseIpv4 } from "./ipv4.ts"
import { checkMac, lowerCaseMac, randomMac } from "./random.ts"
import { checkLinkName, linkOf, namespaceOf, noDevice, noNamespace, type Outcome, refuse } from "./refusal.ts"
import { addConnectedRoute, flushRoutesVia } from "./routes.ts"
import { SimBridge, SimLink, type SimMachine, type SimNamespace } from "./state.ts"

/**
 * Links: creation with every refusal Linux gives (errnos measured on a 6.18 kernel), deletion with
 * what goes along (the veth peer wherever it lives, macvlan/ipvlan children, vxlans over the
 * device, bridge ports released), and changes in do_setlink's order.
 */

const MIN_MTU = 68
const MAX_MTU = 65535
const VXLAN_OVERHEAD = 50
/** the kernel's vxlan_port default when no destination port is given */
const VXLAN_DEFAULT_PORT = 8472

type LinkAddOp = KernelOp & { readonly op: "linkAdd" }
type LinkSetOp = KernelOp & { readonly op: "linkSet" }

const checkMtu = (op: KernelOp, mtu: number | undefined, max = MAX_MTU): Outcome => {
  if (mtu === undefined) return undefined
  if (!Number.isInteger(mtu) || mtu < MIN_MTU) return refuse(op, "EINVAL", `mtu ${mtu} is less than the device minimum`)
  if (mtu > max) return refuse(op, "EINVAL", `mtu ${mtu} is greater than the device maximum ${max}`)
  return undefined
}

const checkMacText = (op: KernelOp, mac: string | undefined): Outcome => {
  if (mac === undefined) return undefined
  const verdict = checkMac(mac)
  if (verdict === "malformed") return refuse(op, "EINVAL", `invalid MAC "${mac}"`)
  if (verdict === "not-unicast") return refuse(op, "EADDRNOTAVAIL", `MAC ${mac} is not a unicast address`)
  return undefined
}

const newLink = (
  machine: SimMachine,
  ns: SimNamespace,
  name: string,
  kind: SimLink["kind"],
  mac: string | undefined,
  mtu: number,
): SimLink => {
  const link = new SimLink(ns, name, kind, ns.nextIndex++, mac === undefined ? randomMac(machine.random) : lowerCaseMac(mac), mtu)
  ns.links.set(name, link)
  return link
}

const stackOn = (upper: SimLink, lower: SimLink): void => {
  upper.lower = lower
  if (lower.uppers === undefined) lower.uppers = [upper]
  else lower.uppers.push(upper)
}

/** IFLA_MASTER: what br_add_if and do_set_master refuse */
const checkMaster = (
  op: KernelOp,
  link: SimLink | undefined,
  kind: SimLink["kind"],
  master: SimLink | undefined,
  masterName: string,
  ns: SimNamespace,
): Outcome => {
  if (master === undefined) return noDevice(op, ns, masterName)
  if (master.kind !== "bridge") return refuse(op, "EOPNOTSUPP", `${masterName} is not a bridge`)
  if (link !== undefined && link === master) return refuse(op, "EINVAL", `${masterName} cannot be its own master`)
  if (kind === "loopback") return refuse(op, "EINVAL", "the loopback device cannot be bridged")
  if (kind === "bridge") return refuse(op, "ELOOP", "can not enslave a bridge to a bridge")
  if (link?.uppers?.some((upper) => upper.kind === "macvlan" || upper.kind === "ipvlan")) {
    return refuse(op, "EBUSY", `${link.name} already has a receive handler (macvlan/ipvlan parent)`)
  }
  if (link?.master !== master && (master.bridge?.ports.length ?? 0) >= BRIDGE_MAX_PORTS) {
    return refuse(op, "EXFULL", `${masterName} has no free port: a bridge holds ${BRIDGE_MAX_PORTS}`)
  }
  return undefined
}

/** br_add_if numbers a bridge's ports 1..1023 (BR_MAX_PORTS is 1024, port 0 reserved); measured: the 1,024th veth is refused with EXFULL */
const BRIDGE_MAX_PORTS = 1023

/** macvlan/ipvlan parent: resolved in the namespace the request is sent in */
const checkParent = (op: LinkAddOp, ns: SimNamespace, spec: LinkSpec & { readonly parent: string }): SimLink | Outcome => {
  const parent = linkOf(ns, spec.parent)
  if (parent === undefined) return noDevice(op, ns, spec.parent)
  if (parent.kind === "loopback") return refuse(op, "EINVAL", `${spec.parent} cannot be a ${spec.kind} parent`)
  if (parent.master !== undefined) return refuse(op, "EBUSY", `${spec.parent} is a bridge port`)
  const otherKind = spec.kind === "macvlan" ? "ipvlan" : "macvlan"
  if (parent.uppers?.some((upper) => upper.kind === otherKind)) {
    return refuse(op, "EBUSY", `${spec.parent} already carries ${otherKind} devices`)
  }
  if (spec.kind === "ipvlan" && parent.kind === "ipvlan") return refuse(op, "EINVAL", "ipvlan over ipvlan")
  return parent
}

export const linkAdd = (machine: SimMachine, op: LinkAddOp): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const spec = op.link
  if (!machine.capabilities[spec.kind]) return refuse(op, "EOPNOTSUPP", `link kind ${spec.kind} is not supported by this kernel`)
  const invalidName = checkLinkName(op, spec.name)
  if (invalidName) return invalidName
  let home = ns
  if ((spec.kind === "macvlan" || spec.kind === "ipvlan" || spec.kind === "vxlan") && spec.targetNs !== undefined) {
    const target = namespaceOf(machine, spec.targetNs)
    if (target === undefined) return noNamespace(op, spec.targetNs)
    home = target
  }
  if (home.links.has(spec.name)) return refuse(op, "EEXIST", `a link "${spec.name}" exists in namespace "${home.name}"`)
  const badMac = checkMacText(op, spec.mac)
  if (badMac) return badMac
  let master: SimLink | undefined
  if (spec.master !== undefined) {
    master = linkOf(home, spec.master)
    const refused = checkMaster(op, undefined, spec.kind, master, spec.master, home)
    if (refused) return refused
  }
  let link: SimLink
  switch (spec.kind) {
    case "veth": {
      const refused = checkMtu(op, spec.mtu)
      if (refused) return refused
      const peerNs = spec.peer.ns === undefined ? ns : namespaceOf(machine, spec.peer.ns)
      if (peerNs === undefined) return noNamespace(op, spec.peer.ns ?? op.ns)
      const invalidPeer = checkLinkName(op, spec.peer.name) ?? checkMtu(op, spec.peer.mtu) ?? checkMacText(op, spec.peer.mac)
      if (invalidPeer) return invalidPeer
      if (peerNs.links.has(spec.peer.name) || (peerNs === ns && spec.peer.name === spec.name)) {
        return refuse(op, "EEXIST", `a link "${spec.peer.name}" exists in namespace "${peerNs.name}"`)
      }
      // veth_newlink registers the peer first: in one namespace the peer gets the lower index
      const peer = newLink(machine, peerNs, spec.peer.name, "veth", spec.peer.mac, spec.peer.mtu ?? 1500)
      link = newLink(machine, ns, spec.name, "veth", spec.mac, spec.mtu ?? 1500)
      link.peer = peer
      peer.peer = link
      break
    }
    case "bridge":
    case "dummy": {
      const refused = checkMtu(op, spec.mtu)
      if (refused) return refused
      link = newLink(machine, ns, spec.name, spec.kind, spec.mac, spec.mtu ?? 1500)
      if (spec.kind === "bridge") {
        link.bridge = new SimBridge()
        link.bridge.macFixed = spec.mac !== undefined
        link.bridge.mtuFixed = spec.mtu !== undefined
      }
      break
    }
    case "vxlan": {
      if (typeof spec.vni !== "number" || !Number.isInteger(spec.vni) || spec.vni < 0 || spec.vni > 0xffffff) {
        return refuse(op, "EINVAL", "vxlan: missing or invalid virtual network identifier")
      }
      const port = spec.port === undefined || spec.port === 0 ? VXLAN_DEFAULT_PORT : spec.port
      if (!Number.isInteger(port) || port < 0 || port > 65535) return refuse(op, "EINVAL", `vxlan: invalid port ${spec.port}`)
      let local = INVALID
      if (spec.local !== undefined) {
        local = parseIpv4(spec.local)
        if (local === INVALID) return refuse(op, "EINVAL", `vxlan: invalid local address "${spec.local}"`)
      }
      let underlay: SimLink | undefined
      if (spec.dev !== undefined) {
        underlay = linkOf(ns, spec.dev)
        if (underlay === undefined) return noDevice(op, ns, spec.dev)
      }
      const maxMtu = underlay === undefined ? MAX_MTU : underlay.mtu - VXLAN_OVERHEAD
      const refused = checkMtu(op, spec.mtu, maxMtu)
      if (refused) return refused
      // vxlan_vni_in_use: the VNI and port are taken per socket namespace, wherever the devices are
      for (const other of ns.vxlanSockets ?? []) {
        if (other.vxlan !== undefined && other.vxlan.vni === spec.vni && other.vxlan.port === port) {
          return refuse(op, "EEXIST", `a VXLAN device with VNI ${spec.vni} exists`)
        }
      }
      link = newLink(machine, home, spec.name, "vxlan", spec.mac, spec.mtu ?? (underlay === undefined ? 1500 : underlay.mtu - VXLAN_OVERHEAD))
      link.vxlan = { vni: spec.vni, port, local, learning: spec.learning ?? true, proxy: spec.proxy ?? false, net: ns }
      if (ns.vxlanSockets === undefined) ns.vxlanSockets = [link]
      else ns.vxlanSockets.push(link)
      if (underlay !== undefined) stackOn(link, underlay)
      break
    }
    case "vlan": {
      const parent = linkOf(ns, spec.parent)
      if (parent === undefined) return noDevice(op, ns, spec.parent)
      // NETIF_F_VLAN_CHALLENGED
      if (parent.kind === "loopback") return refuse(op, "EOPNOTSUPP", `VLANs not supported on ${spec.parent}`)
      if (!Number.isInteger(spec.id) || spec.id < 0 || spec.id >= 4095) return refuse(op, "ERANGE", `invalid VLAN id ${spec.id}`)
      if (parent.uppers?.some((upper) => upper.kind === "vlan" && upper.vlanId === spec.id)) {
        return refuse(op, "EEXIST", `${spec.parent} already has VLAN ${spec.id}`)
      }
      const refused = checkMtu(op, spec.mtu, parent.mtu)
      if (refused) return refused
      link = newLink(machine, ns, spec.name, "vlan", spec.mac ?? parent.mac, spec.mtu ?? parent.mtu)
      link.vlanId = spec.id
      stackOn(link, parent)
      break
    }
    case "macvlan":
    case "ipvlan": {
      const parent = checkParent(op, ns, spec)
      if (!(parent instanceof SimLink)) return parent
      // a macvlan over a macvlan hangs off the real device, as macvlan_common_newlink does
      const lower = spec.kind === "macvlan" && parent.kind === "macvlan" && parent.lower !== undefined ? parent.lower : parent
      const refused = checkMtu(op, spec.mtu, lower.mtu)
      if (refused) return refused
      if (spec.kind === "macvlan") {
        const siblings = lower.uppers?.filter((upper) => upper.kind === "macvlan") ?? []
        if (siblings.some((sibling) => sibling.macvlanMode === "passthru") || (spec.mode === "passthru" && siblings.length > 0)) {
          // measured on 6.18: EINVAL both ways (a second child of a passthru one, a passthru child of a parent that has one)
          return refuse(op, "EINVAL", `${lower.name}: passthru mode allows a single macvlan`)
        }
      }
      // ipvlan children share their parent's MAC; a passthru macvlan inherits it, whatever was asked (measured)
      const mac = spec.kind === "ipvlan" || (spec.kind === "macvlan" && spec.mode === "passthru") ? lower.mac : spec.mac
      link = newLink(machine, home, spec.name, spec.kind, mac, spec.mtu ?? lower.mtu)
      if (spec.kind === "macvlan") link.macvlanMode = spec.mode
      else {
        link.ipvlanMode = spec.mode
        link.ipvlanFlag = spec.flag ?? "bridge"
      }
      stackOn(link, lower)
      break
    }
  }
  // as backends/linux sends it: every link made through the Kernel interface carries a group,
  // cnmlab's own unless asked otherwise, and a veth's peer the same one as the link
  link.group = spec.group ?? CNMLAB_LINK_GROUP
  if (link.peer !== undefined) link.peer.group = link.group
  if (master !== undefined) enslave(link, master)
  if (spec.up === true) bringUp(link)
  return undefined
}

const bringUp = (link: SimLink): void => {
  if (link.up) return
  link.up = true
  if (link.kind === "loopback") ensureLoopbackAddress(link.ns, link)
  for (const address of link.addresses) addConnectedRoute(link.ns, link, address)
}

const bringDown = (link: SimLink): void => {
  if (!link.up) return
  link.up = false
  flushRoutesVia(link.ns, link)
}

/** removes a link and everything Linux removes with it */
export const deleteLink = (link: SimLink): void => {
  if (link.deleted) return
  link.deleted = true
  const ns = link.ns
  ns.links.delete(link.name)
  flushRoutesVia(ns, link)
  forgetAddresses(ns, link)
  const neighbours = ns.neighbours
  if (neighbours !== undefined) for (let i = neighbours.length - 1; i >= 0; i--) if (neighbours[i]?.dev === link) neighbours.splice(i, 1)
  ns.forwardingByDev?.delete(link)
  if (link.bridge !== undefined) for (const port of link.bridge.ports.slice()) release(port)
  if (link.master !== undefined) release(link)
  if (link.uppers !== undefined) for (const upper of [...link.uppers]) deleteLink(upper)
  const sockets = link.vxlan?.net.vxlanSockets
  if (sockets !== undefined) {
    const at = sockets.indexOf(link)
    if (at >= 0) sockets.splice(at, 1)
  }
  const lower = link.lower
  if (lower?.uppers !== undefined) {
    const at = lower.uppers.indexOf(link)
    if (at >= 0) lower.uppers.splice(at, 1)
  }
  const peer = link.peer
  if (peer !== undefined) {
    link.peer = undefined
    peer.peer = undefined
    deleteLink(peer)
  }
}

export const linkDel = (machine: SimMachine, op: KernelOp & { readonly op: "linkDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const link = linkOf(ns, op.name)
  if (link === undefined) return noDevice(op, ns, op.name)
  if (link.kind === "loopback") return refuse(op, "EOPNOTSUPP", "the loopback device cannot be deleted")
  deleteLink(link)
  return undefined
}

export const linkDelGroup = (machine: SimMachine, op: KernelOp & { readonly op: "linkDelGroup" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const members = [...ns.links.values()].filter((link) => link.group === op.group)
  if (members.length === 0) return refuse(op, "ENODEV", `no link in group ${op.group}`)
  // rtnl_group_dellink checks every member before deleting any
  if (members.some((link) => link.kind === "loopback")) return refuse(op, "EOPNOTSUPP", "the loopback device cannot be deleted")
  for (const link of members) deleteLink(link)
  return undefined
}

const maxMtuOf = (link: SimLink): number => {
  if (link.kind === "vxlan" && link.lower !== undefined) return link.lower.mtu - VXLAN_OVERHEAD
  if ((link.kind === "macvlan" || link.kind === "ipvlan" || link.kind === "vlan") && link.lower !== undefined) return link.lower.mtu
  return MAX_MTU
}

/** do_setlink order: address, mtu, name, master, flags; earlier changes stay when a later one fails */
export const linkSet = (machine: SimMachine, op: LinkSetOp): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const link = linkOf(ns, op.name)
  if (link === undefined) return noDevice(op, ns, op.name)
  if (op.mac !== undefined) {
    const badMac = checkMacText(op, op.mac)
    if (badMac) return badMac
    link.mac = op.mac.toLowerCase()
    if (link.bridge !== undefined) link.bridge.macFixed = true
    portMacChanged(link)
  }
  if (op.mtu !== undefined && op.mtu !== link.mtu) {
    const badMtu = checkMtu(op, op.mtu, maxMtuOf(link))
    if (badMtu) return badMtu
    const previous = link.mtu
    link.mtu = op.mtu
    if (link.bridge !== undefined) link.bridge.mtuFixed = true
    portMtuChanged(link, previous)
    // stacked devices may not exceed their lower device
    for (const upper of link.uppers ?? []) {
      const limit = maxMtuOf(upper)
      if (upper.mtu > limit) upper.mtu = limit
    }
  }
  if (op.newName !== undefined && op.newName !== link.name) {
    const badName = checkLinkName(op, op.newName)
    if (badName) return badName
    if (ns.links.has(op.newName)) return refuse(op, "EEXIST", `a link "${op.newName}" exists in namespace "${ns.name}"`)
    ns.links.delete(link.name)
    link.name = op.newName
    ns.links.set(link.name, link)
  }
  if (op.master !== undefined) {
    if (op.master === null) release(link)
    else {
      const master = linkOf(ns, op.master)
      const refused = checkMaster(op, link, link.kind, master, op.master, ns)
      if (refused) return refused
      if (master !== undefined) enslave(link, master)
    }
  }
  if (op.up === true) bringUp(link)
  else if (op.up === false) bringDown(link)
  return undefined
}
