/**
 * Reading a state: the listings every report and driver uses, in stable orders (networks and
 * containers by creation, endpoints by container creation and then attach order).
 */
import * as IntTrie from "./int-trie.ts"
import { type CnmState, containerRecord, networkRecord } from "./representation.ts"
import type { Container, Endpoint, Network } from "./types.ts"

/** creation order: the predefined bridge, host, none first */
export const networks = (state: CnmState): ReadonlyArray<Network> =>
  IntTrie.values(state.networkOrder).map((name) => (networkRecord(state, name) as { network: Network }).network)

export const network = (state: CnmState, name: string): Network | undefined => networkRecord(state, name)?.network

/**
 * A token that stays the same object while the networks stay the same (created, removed; their
 * descriptions never change otherwise): container operations keep it, so a caller may keep what
 * it looked up by network name for as long as the token is unchanged.
 */
export const networksVersion = (state: CnmState): object => state.networkOrder

/** creation order */
export const containers = (state: CnmState): ReadonlyArray<Container> =>
  IntTrie.values(state.containerOrder).map((name) => (containerRecord(state, name) as { container: Container }).container)

export const container = (state: CnmState, name: string): Container | undefined => containerRecord(state, name)?.container

/** container creation order, then attach order */
export const endpoints = (state: CnmState): ReadonlyArray<Endpoint> => {
  const all: Array<Endpoint> = []
  IntTrie.forEach(state.containerOrder, (name) => {
    const record = containerRecord(state, name)
    if (record !== undefined) all.push(...record.endpoints)
  })
  return all
}

/** the container's endpoints in attach order; [] for an unknown container */
export const endpointsOf = (state: CnmState, container: string): ReadonlyArray<Endpoint> =>
  containerRecord(state, container)?.endpoints ?? []

/** the network's endpoints in container creation order; [] for an unknown network */
export const endpointsOn = (state: CnmState, network: string): ReadonlyArray<Endpoint> => {
  const record = networkRecord(state, network)
  return record === undefined ? [] : IntTrie.values(record.endpoints)
}
