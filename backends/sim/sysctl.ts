import { IPVS_SYSCTLS } from "../ipvs-types.ts"
import type { KernelOp } from "../kernel-types.ts"
import { linkOf, namespaceOf, noNamespace, type Outcome, refuse } from "./refusal.ts"
import type { SimLink, SimMachine, SimNamespace } from "./state.ts"

/**
 * Per-namespace sysctls. A key /proc/sys does not have is refused with ENOENT, a value that is
 * not a number with EINVAL, as writing the file would. net.ipv4.ip_forward and
 * net.ipv4.conf.all.forwarding are the same switch in Linux (writing one changes the other, and
 * every device's conf.<dev>.forwarding); both are 0 in a new namespace (measured).
 */

const IPV4_CONF_FIELDS = new Set([
  "forwarding",
  "rp_filter",
  "arp_ignore",
  "arp_announce",
  "arp_filter",
  "arp_accept",
  "proxy_arp",
  "route_localnet",
  "accept_local",
  "send_redirects",
  "accept_redirects",
  "secure_redirects",
  "promote_secondaries",
  "bc_forwarding",
  "disable_policy",
  "log_martians",
])
const IPV6_CONF_FIELDS = new Set(["disable_ipv6", "forwarding", "accept_ra", "autoconf", "accept_dad"])
const GLOBAL_KEYS = new Set([
  "net.ipv4.ip_forward",
  "net.ipv4.icmp_echo_ignore_all",
  "net.ipv4.icmp_echo_ignore_broadcasts",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.ip_nonlocal_bind",
  "net.ipv4.conf.all.forwarding",
  "net.core.somaxconn",
])
const RANGE_KEYS = new Set(["net.ipv4.ping_group_range", "net.ipv4.ip_local_port_range"])
/** /proc/sys/net/ipv4/vs, there only where ip_vs is loaded (Capabilities.ipvs): the keys libnetwork writes */
const IPVS_KEYS = new Set(IPVS_SYSCTLS.map(([key]) => key))

interface ConfKey {
  readonly family: "ipv4" | "ipv6"
  /** "all", "default" or a link */
  readonly scope: "all" | "default" | SimLink
  readonly field: string
}

const parseConfKey = (ns: SimNamespace, key: string): ConfKey | "unknown" | "no-device" => {
  const family = key.startsWith("net.ipv4.conf.") ? "ipv4" : key.startsWith("net.ipv6.conf.") ? "ipv6" : undefined
  if (family === undefined) return "unknown"
  const rest = key.slice("net.ipv4.conf.".length)
  const dot = rest.lastIndexOf(".")
  if (dot <= 0) return "unknown"
  const device = rest.slice(0, dot)
  const field = rest.slice(dot + 1)
  if (!(family === "ipv4" ? IPV4_CONF_FIELDS : IPV6_CONF_FIELDS).has(field)) return "unknown"
  if (device === "all" || device === "default") return { family, scope: device, field }
  const link = linkOf(ns, device)
  return link === undefined ? "no-device" : { family, scope: link, field }
}

const normalizeInteger = (value: string): string | undefined => {
  const trimmed = value.trim()
  return /^-?\d+$/.test(trimmed) ? String(Number.parseInt(trimmed, 10)) : undefined
}

export const sysctlSet = (machine: SimMachine, op: KernelOp & { readonly op: "sysctlSet" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const key = op.key
  if (RANGE_KEYS.has(key)) {
    const parts = op.value.trim().split(/\s+/)
    const numbers = parts.map(normalizeInteger)
    if (numbers.length !== 2 || numbers.some((n) => n === undefined)) return refuse(op, "EINVAL", `invalid value for ${key}`)
    rememberSysctl(ns, key, numbers.join("\t"))
    return undefined
  }
  const conf = GLOBAL_KEYS.has(key) || (machine.capabilities.ipvs && IPVS_KEYS.has(key)) ? undefined : parseConfKey(ns, key)
  if (conf === "unknown") return refuse(op, "ENOENT", `no sysctl ${key}`)
  if (conf === "no-device") return refuse(op, "ENOENT", `no sysctl ${key}: no such link`)
  const value = normalizeInteger(op.value)
  if (value === undefined) return refuse(op, "EINVAL", `invalid value "${op.value}" for ${key}`)
  const on = value !== "0"
  if (key === "net.ipv4.ip_forward" || key === "net.ipv4.conf.all.forwarding") {
    ns.forwarding = on
    ns.forwardingByDev = undefined
  } else if (key === "net.ipv4.icmp_echo_ignore_all") {
    ns.echoIgnoreAll = on
  } else if (conf !== undefined && conf.family === "ipv4" && conf.field === "forwarding" && typeof conf.scope !== "string") {
    if (ns.forwardingByDev === undefined) ns.forwardingByDev = new Map()
    ns.forwardingByDev.set(conf.scope, on)
  } else if (key === "net.ipv4.conf.all.arp_ignore") {
    ns.arpIgnoreAll = Number(value)
  }
  rememberSysctl(ns, key, value)
  return undefined
}

/** a value as the namespace's /proc/sys now holds it, read back by readSysctls */
export const rememberSysctl = (ns: SimNamespace, key: string, value: string): void => {
  if (ns.sysctls === undefined) ns.sysctls = new Map()
  ns.sysctls.set(key, value)
}

/** the sysctls that were set, read back as the kernel would show them now */
export const readSysctls = (ns: SimNamespace): Record<string, string> => {
  const values: Record<string, string> = {}
  for (const [key, written] of ns.sysctls ?? []) {
    if (key === "net.ipv4.ip_forward" || key === "net.ipv4.conf.all.forwarding") {
      values[key] = ns.forwarding ? "1" : "0"
      continue
    }
    const conf = GLOBAL_KEYS.has(key) || RANGE_KEYS.has(key) || IPVS_KEYS.has(key) ? undefined : parseConfKey(ns, key)
    if (conf === "no-device" || conf === "unknown") continue
    if (conf !== undefined && conf.family === "ipv4" && conf.field === "forwarding" && typeof conf.scope !== "string") {
      values[key] = forwardsFrom(ns, conf.scope) ? "1" : "0"
      continue
    }
    values[key] = written
  }
  return values
}

/** forwarding is decided by the device the packet came in on (IN_DEV_FORWARD) */
export const forwardsFrom = (ns: SimNamespace, link: SimLink): boolean => ns.forwardingByDev?.get(link) ?? ns.forwarding

/** arp_ignore: 0 answers for any local address; 1 and above only for addresses on the asked link */
export const arpIgnoreLevel = (ns: SimNamespace, link: SimLink): number => {
  const own = Number(ns.sysctls?.get(`net.ipv4.conf.${link.name}.arp_ignore`) ?? 0)
  return Math.max(ns.arpIgnoreAll, own)
}

/**
 * route_localnet (IN_DEV_ROUTE_LOCALNET: "all" or the device's own): a 127/8 source or destination
 * may be routed through the device rather than being a martian
 */
export const routesLocalnet = (ns: SimNamespace, link: SimLink): boolean =>
  ns.sysctls?.get("net.ipv4.conf.all.route_localnet") === "1" || ns.sysctls?.get(`net.ipv4.conf.${link.name}.route_localnet`) === "1"
