import type { SimLink } from "./state.ts"

/**
 * Operational state (IFF_LOWER_UP), computed when asked rather than stored, because it depends on
 * other links that change independently: a veth has carrier only when both ends are up (Linux
 * shows NO-CARRIER otherwise), a macvlan/ipvlan/vlan follows its parent, a bridge has carrier when it
 * has no ports or when one of its ports has (measured: an empty bridge that is up shows LOWER_UP).
 */
export const hasCarrier = (link: SimLink): boolean => {
  if (!link.up) return false
  switch (link.kind) {
    case "veth":
      return link.peer !== undefined && link.peer.up
    case "macvlan":
    case "ipvlan":
    case "vlan":
      return link.lower !== undefined && hasCarrier(link.lower)
    case "bridge": {
      const ports = link.bridge?.ports
      if (ports === undefined || ports.length === 0) return true
      for (const port of ports) if (hasCarrier(port)) return true
      return false
    }
    default:
      return true
  }
}
