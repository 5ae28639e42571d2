import type { SimLink } from "./state.ts"

/**
 * Joining and leaving a bridge, with the two things Linux recomputes on every change: the bridge
 * takes the lowest MAC of its ports (unless its MAC was set by hand; measured: br0 took its first
 * port's MAC) and the smallest MTU of its ports (unless its MTU was set by hand).
 */

export const enslave = (port: SimLink, bridgeLink: SimLink): void => {
  const bridge = bridgeLink.bridge
  if (bridge === undefined || port.master === bridgeLink) return
  if (port.master !== undefined) release(port)
  port.master = bridgeLink
  bridge.ports.push(port)
  bridge.portMtus.set(port.mtu, (bridge.portMtus.get(port.mtu) ?? 0) + 1)
  if (!bridge.mtuFixed && (bridge.ports.length === 1 || port.mtu < bridgeLink.mtu)) bridgeLink.mtu = port.mtu
  if (!bridge.macFixed && (bridge.ports.length === 1 || port.mac < bridgeLink.mac)) bridgeLink.mac = port.mac
}

export const release = (port: SimLink): void => {
  const bridgeLink = port.master
  const bridge = bridgeLink?.bridge
  if (bridgeLink === undefined || bridge === undefined) return
  port.master = undefined
  removePort(bridge.ports, port)
  forgetPortMtu(bridge.portMtus, port.mtu)
  if (bridge.staticMacs.size > 0) for (const [mac, owner] of bridge.staticMacs) if (owner === port) bridge.staticMacs.delete(mac)
  if (port.fdb !== undefined) port.fdb = undefined
  // the smallest MTU changes only when the port took the last of it away
  if (!bridge.mtuFixed && (bridge.ports.length === 0 || !bridge.portMtus.has(port.mtu))) {
    bridgeLink.mtu = smallestPortMtu(bridge.portMtus)
  }
  if (!bridge.macFixed && bridge.ports.length > 0 && port.mac === bridgeLink.mac) bridgeLink.mac = lowestPortMac(bridgeLink)
}

/** a port changed its MTU: the bridge follows unless told otherwise */
export const portMtuChanged = (port: SimLink, previous: number): void => {
  const bridgeLink = port.master
  const bridge = bridgeLink?.bridge
  if (bridgeLink === undefined || bridge === undefined) return
  forgetPortMtu(bridge.portMtus, previous)
  bridge.portMtus.set(port.mtu, (bridge.portMtus.get(port.mtu) ?? 0) + 1)
  if (!bridge.mtuFixed) bridgeLink.mtu = smallestPortMtu(bridge.portMtus)
}

/** a port changed its MAC: the bridge takes the lowest one again unless its MAC was set */
export const portMacChanged = (port: SimLink): void => {
  const bridgeLink = port.master
  if (bridgeLink?.bridge === undefined || bridgeLink.bridge.macFixed) return
  bridgeLink.mac = lowestPortMac(bridgeLink)
}

/** takes the port out, the others keeping their order */
const removePort = (ports: Array<SimLink>, port: SimLink): void => {
  const at = ports.indexOf(port)
  if (at < 0) return
  for (let i = at; i < ports.length - 1; i++) ports[i] = ports[i + 1] as SimLink
  ports.pop()
}

const forgetPortMtu = (portMtus: Map<number, number>, mtu: number): void => {
  const count = portMtus.get(mtu) ?? 0
  if (count <= 1) portMtus.delete(mtu)
  else portMtus.set(mtu, count - 1)
}

/** Linux: ETH_DATA_LEN when the bridge has no ports */
const smallestPortMtu = (portMtus: Map<number, number>): number => {
  let smallest = Number.POSITIVE_INFINITY
  for (const mtu of portMtus.keys()) if (mtu < smallest) smallest = mtu
  return Number.isFinite(smallest) ? smallest : 1500
}

const lowestPortMac = (bridgeLink: SimLink): string => {
  let lowest: string | undefined
  for (const port of bridgeLink.bridge?.ports ?? []) if (lowest === undefined || port.mac < lowest) lowest = port.mac
  return lowest ?? bridgeLink.mac
}
