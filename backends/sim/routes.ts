import { KernelError } from "../KernelError.ts"
import type { KernelOp, RouteSpec } from "../kernel-types.ts"
import { formatIpv4, INVALID, inPrefix, networkOf, parseCidr, parseIpv4 } from "./ipv4.ts"
import { ownsAddress } from "./local-addresses.ts"
import { linkOf, namespaceOf, noDevice, noNamespace, type Outcome, refuse } from "./refusal.ts"
import { type SimAddress, type SimLink, type SimMachine, type SimNamespace, SimRoute } from "./state.ts"

/**
 * The main routing table of a namespace: kernel (connected) routes made by addresses, and static
 * routes. Linux keeps one entry per prefix per metric, so a second route to the same prefix is
 * refused whatever its next hop (measured: EEXIST even on another device).
 */

export const lookupRoute = (ns: SimNamespace, address: number): SimRoute | undefined => {
  let best: SimRoute | undefined
  for (const route of ns.routes) {
    if ((best === undefined || route.length > best.length) && inPrefix(address, route.dst, route.length)) best = route
  }
  return best
}

/** every route goes in and out through these two, which keep the devices' route counts */
const addRoute = (ns: SimNamespace, route: SimRoute): void => {
  ns.routes.push(route)
  route.dev.routeCount++
}

const removeRouteAt = (ns: SimNamespace, index: number): void => {
  const route = ns.routes[index] as SimRoute
  ns.routes.splice(index, 1)
  route.dev.routeCount--
}

export const addConnectedRoute = (ns: SimNamespace, dev: SimLink, address: SimAddress): void => {
  // Linux: loopback prefixes go to the local table; a /32 has no prefix of its own
  if (dev.kind === "loopback" || address.length === 32 || address.secondary || !dev.up) return
  const dst = networkOf(address.address, address.length)
  for (const route of ns.routes) {
    if (route.dev === dev && route.dst === dst && route.length === address.length && route.via === INVALID) return
  }
  addRoute(ns, new SimRoute(dst, address.length, INVALID, dev, "link", "kernel", address))
}

export const removeConnectedRoute = (ns: SimNamespace, dev: SimLink, address: SimAddress): void => {
  const index = ns.routes.findIndex((route) => route.origin === "kernel" && route.dev === dev && route.source === address)
  if (index >= 0) removeRouteAt(ns, index)
}

/** link down, last address gone, link deleted: every route through the device goes (and stays gone) */
export const flushRoutesVia = (ns: SimNamespace, dev: SimLink): void => {
  // most devices that go (a container's veth seen from the host) carry no route
  if (dev.routeCount === 0) return
  const routes = ns.routes
  let kept = 0
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]
    if (route !== undefined && route.dev !== dev) routes[kept++] = route
  }
  while (routes.length > kept) routes.pop()
  dev.routeCount = 0
}

interface ParsedDestination {
  readonly dst: number
  readonly length: number
}

const defaultDestination: ParsedDestination = { dst: 0, length: 0 }

const parseDestination = (op: KernelOp, text: string): ParsedDestination | Outcome => {
  if (text === "default") return defaultDestination
  const prefix = parseCidr(text)
  if (prefix === undefined) return refuse(op, "EINVAL", `invalid route destination "${text}"`)
  if (networkOf(prefix.address, prefix.length) !== prefix.address) {
    return refuse(op, "EINVAL", `invalid prefix for given prefix length: ${text}`)
  }
  return { dst: prefix.address, length: prefix.length }
}

const isOutcome = (value: ParsedDestination | Outcome): value is Outcome =>
  value === undefined || value instanceof KernelError

export const routeAdd = (machine: SimMachine, op: KernelOp & { readonly op: "routeAdd" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const spec: RouteSpec = op.route
  const destination = parseDestination(op, spec.dst)
  if (isOutcome(destination)) return destination
  let dev: SimLink | undefined
  if (spec.dev !== undefined) {
    dev = linkOf(ns, spec.dev)
    if (dev === undefined) return noDevice(op, ns, spec.dev)
  }
  let via = INVALID
  if (spec.via !== undefined) {
    via = parseIpv4(spec.via)
    if (via === INVALID) return refuse(op, "EINVAL", `invalid gateway "${spec.via}"`)
    const gatewayDev = onLinkDeviceFor(ns, via, dev, spec.scope === "link")
    if (gatewayDev === undefined) return refuse(op, "ENETUNREACH", `gateway ${spec.via} is not reachable on-link`)
    if (!gatewayDev.up) return refuse(op, "ENETDOWN", `device ${gatewayDev.name} for gateway ${spec.via} is not up`)
    dev = gatewayDev
  } else {
    if (dev === undefined) return refuse(op, "EINVAL", "a route needs a gateway or a device")
    if (!dev.up) return refuse(op, "ENETDOWN", `device ${dev.name} for nexthop is not up`)
  }
  for (const route of ns.routes) {
    if (route.dst === destination.dst && route.length === destination.length) {
      return refuse(op, "EEXIST", `a route to ${spec.dst} exists`)
    }
  }
  addRoute(
    ns,
    new SimRoute(destination.dst, destination.length, via, dev, spec.scope ?? (via === INVALID ? "link" : "universe"), "static", undefined),
  )
  return undefined
}

/**
 * Where a gateway is on-link, as fib_check_nh does it: a local address (the local table is looked
 * up first; measured: a route via one's own address is accepted), else the longest link-scope route
 * covering it. A gateway route never counts, and with `dev` only routes through that device do.
 */
const onLinkDeviceFor = (
  ns: SimNamespace,
  gateway: number,
  dev: SimLink | undefined,
  hostScopeOnly: boolean,
): SimLink | undefined => {
  if (ownsAddress(ns, gateway)) {
    for (const link of ns.links.values()) {
      if ((dev === undefined || link === dev) && link.addresses.some((address) => address.address === gateway)) return link
    }
  }
  if (hostScopeOnly) return undefined
  let best: SimRoute | undefined
  for (const route of ns.routes) {
    if (route.scope !== "link" || route.via !== INVALID || (dev !== undefined && route.dev !== dev)) continue
    if ((best === undefined || route.length > best.length) && inPrefix(gateway, route.dst, route.length)) best = route
  }
  return best?.dev
}

export const routeDel = (machine: SimMachine, op: KernelOp & { readonly op: "routeDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const spec = op.route
  const destination = parseDestination(op, spec.dst)
  if (isOutcome(destination)) return destination
  let dev: SimLink | undefined
  if (spec.dev !== undefined) {
    dev = linkOf(ns, spec.dev)
    if (dev === undefined) return noDevice(op, ns, spec.dev)
  }
  let via = INVALID
  if (spec.via !== undefined) {
    via = parseIpv4(spec.via)
    if (via === INVALID) return refuse(op, "EINVAL", `invalid gateway "${spec.via}"`)
  }
  const index = ns.routes.findIndex(
    (route) =>
      route.dst === destination.dst &&
      route.length === destination.length &&
      (via === INVALID || route.via === via) &&
      (dev === undefined || route.dev === dev) &&
      (spec.scope === undefined || route.scope === spec.scope),
  )
  if (index < 0) return refuse(op, "ESRCH", `no route to ${spec.dst}${via === INVALID ? "" : ` via ${formatIpv4(via)}`}`)
  removeRouteAt(ns, index)
  return undefined
}
