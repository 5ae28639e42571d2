import type { Network } from "../../model/types.ts"
import type { HostContext } from "../Driver.ts"

/** inside an overlay network's namespace, as Docker 20.10 renames them there (ov_network.go) */
export const OVERLAY_BRIDGE = "br0"
export const OVERLAY_VXLAN = "vxlan0"
/** swarm's default data-path port (`--data-path-port`) */
export const VXLAN_PORT = 4789

/**
 * The namespace of an overlay network on one host: Docker's `<epoch>-<network id[:10]>`, here
 * under the host's own namespace name, so that it carries the lab's prefix (and its run's ledger
 * entry: `cnmlab clean` removes it with the rest) and two hosts' namespaces never collide.
 */
export const overlayNamespace = (network: Network, host: HostContext): string => `${host.ns}-ov-${network.id.slice(0, 10)}`
