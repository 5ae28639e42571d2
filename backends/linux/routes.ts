import type { RouteSpec } from "../kernel-types.ts"
import type { NamespaceTable } from "./namespaces.ts"
import { cachedLinkIndex, linkIndex, retryIfStale } from "./links.ts"
import {
  AF_INET,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RT_SCOPE,
  RT_TABLE_MAIN,
  RTA,
  RTM,
  RTN_UNICAST,
  RTPROT_BOOT,
} from "./netlink/constants.ts"
import { attrIpv4, attrU32, parseCidr, rtmsg } from "./netlink/wire.ts"

const destination = (dst: string): { readonly address?: string; readonly prefixLength: number } =>
  dst === "default" ? { prefixLength: 0 } : parseCidr(dst)

/** the attributes naming a route: destination, gateway, device */
const routeAttrs = (namespaces: NamespaceTable, ns: string, route: RouteSpec, cached = false): Buffer[] => {
  const { address } = destination(route.dst)
  const attrs: Buffer[] = []
  if (address !== undefined) attrs.push(attrIpv4(RTA.DST, address))
  if (route.via) attrs.push(attrIpv4(RTA.GATEWAY, route.via))
  if (route.dev) attrs.push(attrU32(RTA.OIF, (cached ? cachedLinkIndex : linkIndex)(namespaces, ns, route.dev)))
  return attrs
}

/** as `ip route add`: main table, protocol boot, scope link without a gateway, universe with one */
export const routeAdd = (namespaces: NamespaceTable, ns: string, route: RouteSpec): void => {
  const scope = RT_SCOPE[route.scope ?? (route.via ? "universe" : "link")]
  const header = rtmsg({
    family: AF_INET,
    dstLength: destination(route.dst).prefixLength,
    table: RT_TABLE_MAIN,
    protocol: RTPROT_BOOT,
    scope,
    type: RTN_UNICAST,
  })
  retryIfStale(namespaces, ns, ["ENODEV"], () =>
    namespaces
      .channel(ns)
      .request(RTM.NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, [header, ...routeAttrs(namespaces, ns, route, true)], `add route ${route.dst}`),
  )
}

/** as `ip route del`: any protocol and type; any scope unless the caller named one */
export const routeDel = (namespaces: NamespaceTable, ns: string, route: RouteSpec): void => {
  const header = rtmsg({
    family: AF_INET,
    dstLength: destination(route.dst).prefixLength,
    table: RT_TABLE_MAIN,
    protocol: 0,
    scope: route.scope ? RT_SCOPE[route.scope] : RT_SCOPE.nowhere,
    type: 0,
  })
  namespaces.channel(ns).request(RTM.DELROUTE, 0, [header, ...routeAttrs(namespaces, ns, route)], `delete route ${route.dst}`)
}
