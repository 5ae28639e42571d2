import type { Network } from "../../model/types.ts"

export const BRIDGE_NAME = "com.docker.network.bridge.name"
export const ICC = "com.docker.network.bridge.enable_icc"
export const MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"

/** networks are immutable: each one's name is made once (every join asks for it) */
const bridgeNames = new WeakMap<Network, string>()

/** docker0 for the default network, br-<id[:12]> for user networks, unless the user named it */
export const bridgeName = (network: Network): string => {
  let name = bridgeNames.get(network)
  if (name === undefined) {
    name = network.options[BRIDGE_NAME] ?? (network.predefined ? "docker0" : `br-${network.id.slice(0, 12)}`)
    bridgeNames.set(network, name)
  }
  return name
}
