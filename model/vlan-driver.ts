/**
 * The macvlan and ipvlan drivers of Docker 20.10 as pure checks: a network's parent link and mode
 * when it is created (drivers/macvlan/macvlan_network.go, macvlan_setup.go; ipvlan alike, in
 * that order: mode, loopback, a parent already used, then the parent itself), and what the
 * kernel refuses when a container joins (a second child in passthru mode, the other kind of
 * child on a parent that has one).
 */
import { type Checked, accept, fail } from "./representation.ts"
import type { VlanInfo, VlanMode } from "./lab-types.ts"
import { ipvlanModes, macvlanModes } from "./lab-types.ts"
import { parseGoInt } from "./options.ts"
import type { Network } from "./types.ts"

export type VlanDriver = "macvlan" | "ipvlan"

export const isVlanDriver = (driver: string): driver is VlanDriver => driver === "macvlan" || driver === "ipvlan"

export const parentOption = "parent"
export const modeOption = (driver: VlanDriver): string => `${driver}_mode`

/** the link every host has on the underlay, and the loopback */
export const underlayLink = "eth0"
const loopback = "lo"

/** Docker's name for the dummy parent of a network without one: dm-/di- and the id's first 12 characters */
export const dummyParentName = (driver: VlanDriver, network: Network): string =>
  `${driver === "macvlan" ? "dm" : "di"}-${network.id.slice(0, 12)}`

const modesOf = (driver: VlanDriver): ReadonlyArray<VlanMode> => (driver === "macvlan" ? macvlanModes : ipvlanModes)

/** the driver's mode for these options; undefined when Docker refuses the value */
export const vlanMode = (driver: VlanDriver, options: Readonly<Record<string, string>>): VlanMode | undefined => {
  const text = options[modeOption(driver)] ?? ""
  if (text === "") return modesOf(driver)[0]
  return modesOf(driver).find((mode) => mode === text)
}

/** a network of the same driver on the same host, with what its driver holds */
export interface VlanNeighbour {
  readonly network: Network
  readonly info: VlanInfo
}

/**
 * What the driver makes of a new network on a host, or Docker's refusal. `links` are the links
 * the host has (lo, eth0, and the parents earlier networks made); `sameDriver` the networks of
 * this driver on the host. IPAM has already succeeded when this runs.
 */
export const planVlanNetwork = (
  driver: VlanDriver,
  network: Network,
  links: ReadonlySet<string>,
  sameDriver: ReadonlyArray<VlanNeighbour>,
): Checked<VlanInfo> => {
  const mode = vlanMode(driver, network.options)
  if (mode === undefined) {
    const text = network.options[modeOption(driver)]
    const fallback = modesOf(driver)[0]
    return fail("InvalidOption", `requested ${driver} mode '${text}' is not valid, '${fallback}' mode is the ${driver} driver default`)
  }
  const given = network.options[parentOption] ?? ""
  if (given === loopback) return fail("InvalidOption", `loopback interface is not a valid ${driver} parent link`)
  const dummy = dummyParentName(driver, network)
  const parent = given === "" ? dummy : given
  const user = sameDriver.find((other) => other.info.parent === parent)
  if (user !== undefined) {
    return fail("ParentInUse", `network ${dummyParentName(driver, user.network)} is already using parent interface ${parent}`)
  }
  if (links.has(parent)) return accept({ parent, mode, parentKind: "link", createdParent: false })
  if (parent === dummy) return accept({ parent, mode, parentKind: "dummy", createdParent: true })
  return planVlanLink(parent, mode, links)
}

/** an `X.N` parent the host lacks: the driver makes an 802.1Q sub-interface (createVlanLink, parseVlan) */
const planVlanLink = (parent: string, mode: VlanMode, links: ReadonlySet<string>): Checked<VlanInfo> => {
  if (!parent.includes(".")) {
    return fail("ParentNotFound", `invalid subinterface vlan name ${parent}, example formatting is eth0.10`)
  }
  const parts = parent.split(".")
  if (parts.length !== 2) {
    return fail(
      "InvalidOption",
      `required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received ${parent}`,
    )
  }
  const [link, idText] = parts as [string, string]
  const id = parseGoInt(idText)
  if (id === undefined) return fail("InvalidOption", `unable to parse a valid vlan id from: ${idText} (ex. eth0.10 for vlan 10)`)
  if (!links.has(link)) return fail("ParentNotFound", `-o parent interface does was not found on the host: ${link}`)
  if (id < 1n || id > 4094n) return fail("InvalidOption", `vlan id must be between 1-4094, received: ${id}`)
  return accept({ parent, mode, parentKind: "vlan", createdParent: true, vlanOf: { link, id: Number(id) } })
}

/** the links a host has: lo, eth0, and every parent a macvlan or ipvlan network on it made */
export const hostLinks = (infos: Iterable<VlanInfo>): Set<string> => {
  const links = new Set([loopback, underlayLink])
  for (const info of infos) if (info.createdParent) links.add(info.parent)
  return links
}

/** a network of either driver on the host with the endpoints it has there */
export interface VlanUser {
  readonly driver: VlanDriver
  readonly info: VlanInfo
  readonly endpoints: number
}

/**
 * Why the kernel refuses a new child of `info` on this host, if it does: passthru takes its
 * parent for one child only ("failed to create the macvlan port: invalid argument"), and a link
 * that has macvlan children takes no ipvlan child, nor the other way round (the receive handler is
 * taken: "device or resource busy"). Docker 20.10 checks neither before it asks the kernel.
 */
export const joinProblem = (
  driver: VlanDriver,
  info: VlanInfo,
  endpointsHere: number,
  others: ReadonlyArray<VlanUser>,
): string | undefined => {
  if (info.mode === "passthru" && endpointsHere > 0) return "failed to create the macvlan port: invalid argument"
  const otherKind = others.find((other) => other.driver !== driver && other.info.parent === info.parent && other.endpoints > 0)
  return otherKind === undefined ? undefined : `failed to create the ${driver} port: device or resource busy`
}
