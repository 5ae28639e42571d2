/**
 * Building a network record: the Network as users see it plus its empty indexes. Shared by the
 * predefined networks and createNetwork so both produce the same shape.
 */
import { createHash } from "node:crypto"
import { type Cidr, formatCidr, formatIPv4 } from "./cidr.ts"
import * as IntTrie from "./int-trie.ts"
import type { AddressBook } from "./ipam.ts"
import { type NetworkRecord, NetworkRecordValue } from "./representation.ts"
import type { DriverName, Network, NetworkScope } from "./types.ts"

/** Docker's ids are random; ours hash the creation sequence so that a replayed run gets the same ids */
export const networkId = (seq: number, name: string): string =>
  createHash("sha256").update(`cnmlab-network/${seq}/${name}`).digest("hex")

export interface NetworkSpec {
  readonly seq: number
  readonly name: string
  readonly driver: DriverName
  /** IPAM of the network (subnet, gateway, range); absent for host and none */
  readonly addresses?: AddressBook
  /** the user's --subnet text, when there was one (see Network.configuredSubnet) */
  readonly configuredSubnet?: string
  readonly ipRange?: Cidr
  readonly userSubnet: boolean
  readonly internal: boolean
  readonly predefined: boolean
  readonly options: Readonly<Record<string, string>>
  /** swarm-scope networks only */
  readonly scope?: NetworkScope
}

export const buildNetworkRecord = (spec: NetworkSpec): NetworkRecord => {
  const { addresses } = spec
  const network: Network = {
    id: networkId(spec.seq, spec.name),
    name: spec.name,
    driver: spec.driver,
    ...(addresses === undefined ? {} : { subnet: formatCidr(addresses.subnet) }),
    ...(addresses === undefined ? {} : { configuredSubnet: spec.configuredSubnet ?? formatCidr(addresses.subnet) }),
    ...(addresses === undefined ? {} : { gateway: formatIPv4(addresses.gateway) }),
    ...(spec.ipRange === undefined ? {} : { ipRange: formatCidr(spec.ipRange) }),
    userSubnet: spec.userSubnet,
    internal: spec.internal,
    predefined: spec.predefined,
    options: { ...spec.options },
    seq: spec.seq,
    ...(spec.scope === undefined ? {} : { scope: spec.scope }),
  }
  // networks are shared by every later state, handed to drivers and reports: nobody may edit one
  Object.freeze(network.options)
  return new NetworkRecordValue(Object.freeze(network), addresses, IntTrie.empty())
}
