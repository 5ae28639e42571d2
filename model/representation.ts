/**
 * How a CnmState is stored. Everything is immutable and persistent (tries that share structure
 * between versions), so an operation costs the same on a state with ten containers and on one
 * with ten thousand, and every earlier state stays valid.
 *
 * The container records are the source of truth for endpoints; each network keeps two indexes
 * that operations maintain alongside: its endpoints by container sequence number (creation-order
 * listing) and its address book (IPAM). The invariants check that they agree.
 *
 * The put/drop helpers below change one record and touch no index: operations use them to write
 * consistent states, tests use them to build broken ones on purpose.
 */
import type { ErrorCode, CnmError } from "./errors.ts"
import { cnmError } from "./errors.ts"
import type { Container, Endpoint, Network } from "./types.ts"
import type { AddressBook } from "./ipam.ts"
import * as IntTrie from "./int-trie.ts"
import * as StringMap from "./string-map.ts"

export interface NetworkRecord {
  readonly network: Network
  /** IPAM of the network; absent for host and none, which have no addresses */
  readonly addresses: AddressBook | undefined
  /** the endpoints on this network, keyed by their container's sequence number */
  readonly endpoints: IntTrie.IntTrie<Endpoint>
}

/**
 * A network record as operations build it: a class, not an object literal, because V8 may move a
 * literal's allocations to the old generation for good (see arrays.ts), and network records are
 * rebuilt by every endpoint change.
 */
export class NetworkRecordValue implements NetworkRecord {
  constructor(
    readonly network: Network,
    readonly addresses: AddressBook | undefined,
    readonly endpoints: IntTrie.IntTrie<Endpoint>,
  ) {}
}

export interface ContainerRecord {
  /** creation order; also the key of the container's endpoints in every network index */
  readonly seq: number
  readonly container: Container
  /** in attach order, one per entry of container.networks */
  readonly endpoints: ReadonlyArray<Endpoint>
  /**
   * N of the next interface ethN in the container's sandbox. Docker 20.10 counts interfaces per
   * sandbox and never hands a number out twice (libnetwork osl: nextIfIndex only grows), so a
   * freed eth0 stays unused; see docs/docker-20.10.md §6.
   */
  readonly nextInterface: number
}

export interface CnmState {
  readonly networks: StringMap.StringMap<NetworkRecord>
  /** network seq → name */
  readonly networkOrder: IntTrie.IntTrie<string>
  readonly containers: StringMap.StringMap<ContainerRecord>
  /** container seq → name */
  readonly containerOrder: IntTrie.IntTrie<string>
  readonly nextNetworkSeq: number
  readonly nextContainerSeq: number
  /** index in ipam.defaultPools where the next search for a free default pool starts (Docker's start index) */
  readonly poolCursor: number
}

export interface Refusal {
  readonly ok: false
  readonly error: CnmError
  /**
   * Present only when Docker keeps a trace of the refused operation: the state to go on from.
   * Absent means the refusal changed nothing (the usual case).
   */
  readonly state?: CnmState
}

export type Outcome<A> = { readonly ok: true; readonly state: CnmState; readonly value: A } | Refusal

/** the result of a check that changes no state */
export type Checked<A> = { readonly ok: true; readonly value: A } | Refusal

export const succeed = <A>(state: CnmState, value: A): Outcome<A> => ({ ok: true, state, value })

export const accept = <A>(value: A): Checked<A> => ({ ok: true, value })

export const fail = (code: ErrorCode, message: string): Refusal => ({ ok: false, error: cnmError(code, message) })

/** a refusal after which Docker is nevertheless in another state (see Refusal.state) */
export const failLeaving = (state: CnmState, code: ErrorCode, message: string): Refusal => ({
  ok: false,
  error: cnmError(code, message),
  state,
})

export const networkRecord = (state: CnmState, name: string): NetworkRecord | undefined => StringMap.get(state.networks, name)

export const containerRecord = (state: CnmState, name: string): ContainerRecord | undefined =>
  StringMap.get(state.containers, name)

/** the same state with other collections; written out because object spread is slow on hot paths */
const withCollections = (
  state: CnmState,
  networks: CnmState["networks"],
  networkOrder: CnmState["networkOrder"],
  containers: CnmState["containers"],
  containerOrder: CnmState["containerOrder"],
): CnmState => ({
  networks,
  networkOrder,
  containers,
  containerOrder,
  nextNetworkSeq: state.nextNetworkSeq,
  nextContainerSeq: state.nextContainerSeq,
  poolCursor: state.poolCursor,
})

/** stores the record under its network's name and sequence number */
export const putNetworkRecord = (state: CnmState, record: NetworkRecord): CnmState => {
  const { name, seq } = record.network
  const known = IntTrie.get(state.networkOrder, seq) === name
  return withCollections(
    state,
    StringMap.set(state.networks, name, record),
    known ? state.networkOrder : IntTrie.set(state.networkOrder, seq, name),
    state.containers,
    state.containerOrder,
  )
}

export const dropNetworkRecord = (state: CnmState, record: NetworkRecord): CnmState =>
  withCollections(
    state,
    StringMap.remove(state.networks, record.network.name),
    IntTrie.remove(state.networkOrder, record.network.seq),
    state.containers,
    state.containerOrder,
  )

/** stores the record under its container's name and sequence number */
export const putContainerRecord = (state: CnmState, record: ContainerRecord): CnmState => {
  const known = IntTrie.get(state.containerOrder, record.seq) === record.container.name
  return withCollections(
    state,
    state.networks,
    state.networkOrder,
    StringMap.set(state.containers, record.container.name, record),
    known ? state.containerOrder : IntTrie.set(state.containerOrder, record.seq, record.container.name),
  )
}

/**
 * One endpoint's two writes, its network's record and its container's record, in one new state:
 * every container operation makes this change, so it builds one state object instead of two. The
 * network is in the state already (an endpoint joins or leaves a network that exists); the
 * container may be new, and `nextContainerSeq` then moves on.
 */
export const putEndpointRecords = (
  state: CnmState,
  network: NetworkRecord,
  container: ContainerRecord,
  nextContainerSeq: number = state.nextContainerSeq,
): CnmState => {
  const containerKnown = IntTrie.get(state.containerOrder, container.seq) === container.container.name
  return {
    networks: StringMap.set(state.networks, network.network.name, network),
    networkOrder: state.networkOrder,
    containers: StringMap.set(state.containers, container.container.name, container),
    containerOrder: containerKnown ? state.containerOrder : IntTrie.set(state.containerOrder, container.seq, container.container.name),
    nextNetworkSeq: state.nextNetworkSeq,
    nextContainerSeq,
    poolCursor: state.poolCursor,
  }
}

export const dropContainerRecord = (state: CnmState, record: ContainerRecord): CnmState =>
  withCollections(
    state,
    state.networks,
    state.networkOrder,
    StringMap.remove(state.containers, record.container.name),
    IntTrie.remove(state.containerOrder, record.seq),
  )

/** an empty state: no networks at all, not even the predefined ones (see state.initialState) */
export const emptyState: CnmState = {
  networks: StringMap.empty(),
  networkOrder: IntTrie.empty(),
  containers: StringMap.empty(),
  containerOrder: IntTrie.empty(),
  nextNetworkSeq: 0,
  nextContainerSeq: 0,
  poolCursor: 0,
}
