/**
 * The formal CNM model of one Docker 20.10 host: an immutable state and the operations on it.
 * An operation returns a new state or a refusal with a stable error code; a refused operation
 * leaves nothing behind, and every earlier state stays valid (structural sharing).
 */
import type { Cidr } from "./cidr.ts"
import { type AddressBook, defaultPools, openAddressBook } from "./ipam.ts"
import { buildNetworkRecord } from "./network-record.ts"
import { type CnmState, emptyState, putNetworkRecord } from "./representation.ts"

export type { CnmState, Outcome, Refusal, ContainerRecord, NetworkRecord } from "./representation.ts"
export { createNetwork, removeNetwork } from "./network-ops.ts"
export { createContainer, removeContainer, connect, disconnect, type ContainerWithEndpoints } from "./container-ops.ts"
export { networks, network, networksVersion, containers, container, endpoints, endpointsOf, endpointsOn } from "./queries.ts"

/** what `docker network inspect bridge` shows on a fresh Docker 20.10 host */
const defaultBridgeOptions: Readonly<Record<string, string>> = {
  "com.docker.network.bridge.default_bridge": "true",
  "com.docker.network.bridge.enable_icc": "true",
  "com.docker.network.bridge.enable_ip_masquerade": "true",
  "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
  "com.docker.network.bridge.name": "docker0",
  "com.docker.network.driver.mtu": "1500",
}

const predefinedState = (): CnmState => {
  // docker0 takes the first default pool as an explicit pool: the search cursor stays at 0
  const bridgeAddresses = openAddressBook(defaultPools[0] as Cidr, undefined, undefined) as AddressBook
  const common = { userSubnet: false, internal: false, predefined: true } as const
  const records = [
    buildNetworkRecord({
      ...common,
      seq: 0,
      name: "bridge",
      driver: "bridge",
      addresses: bridgeAddresses,
      options: defaultBridgeOptions,
    }),
    buildNetworkRecord({ ...common, seq: 1, name: "host", driver: "host", options: {} }),
    buildNetworkRecord({ ...common, seq: 2, name: "none", driver: "null", options: {} }),
  ]
  const withNetworks = records.reduce(putNetworkRecord, emptyState)
  return { ...withNetworks, nextNetworkSeq: records.length, poolCursor: 0 }
}

/** the three predefined networks are the same for every state: build them once */
let initial: CnmState | undefined

/** a fresh Docker host: networks bridge (172.17.0.0/16, gateway 172.17.0.1), host and none */
export const initialState = (): CnmState => (initial ??= predefinedState())
