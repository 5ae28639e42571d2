/**
 * What Docker 20.10 would show on a host in this state: which addresses answer a ping from
 * which container, and what the embedded DNS answers. These are the model's predictions that
 * the simulated and the real kernel are checked against.
 *
 * Reachability, in short: a container reaches the addresses of the networks it shares with the
 * target (no routing between networks, so a container on two networks is no bridge), except
 * on a bridge network with enable_icc=false; a container on `host` is the host itself and
 * reaches every address on a bridge network, internal ones included; `none` reaches nothing.
 */
import { formatIPv4, parseIPv4, stripPrefix } from "./cidr.ts"
import * as IntTrie from "./int-trie.ts"
import { iccEnabled } from "./options.ts"
import { type CnmState, type ContainerRecord, type NetworkRecord, containerRecord, networkRecord } from "./representation.ts"
import type { Endpoint, Network } from "./types.ts"

const isOnHost = (state: CnmState, container: ContainerRecord): boolean =>
  container.endpoints.some((endpoint) => networkRecord(state, endpoint.network)?.network.driver === "host")

/** members of the network can ping each other unless the bridge forbids inter-container traffic */
const membersReachEachOther = (network: Network): boolean => network.driver !== "bridge" || iccEnabled(network.options)

/** the host has an address on every bridge it created, so it routes to all of them */
const hostReaches = (network: Network): boolean => network.driver === "bridge"

/**
 * Can container `from` ping `address`, one of container `to`'s addresses? False when either
 * container is unknown or the address is not one of `to`'s. A container's own addresses are
 * local to it, so they always answer.
 */
export const predictReach = (state: CnmState, from: string, to: string, address: string): boolean => {
  const source = containerRecord(state, from)
  const target = containerRecord(state, to)
  if (source === undefined || target === undefined) return false
  const targetEndpoint = target.endpoints.find(
    (endpoint) => endpoint.address !== undefined && stripPrefix(endpoint.address) === address,
  )
  if (targetEndpoint === undefined) return false
  if (source === target) return true
  const network = (networkRecord(state, targetEndpoint.network) as NetworkRecord).network
  if (isOnHost(state, source)) return hostReaches(network)
  const shared = source.endpoints.some((endpoint) => endpoint.network === network.name)
  return shared && membersReachEachOther(network)
}

/**
 * Can container `from` ping the gateway of `network`? A bridge network's gateway is the host's
 * own address on its bridge, and Docker 20.10 filters only what the host forwards, never what is
 * addressed to the host itself. So every container with an endpoint on a bridge network reaches
 * every bridge's gateway: on the network itself, or through its default route, which an internal
 * network offers as well; enable_icc and internal change nothing. A host container owns the
 * address. A container on none, or without endpoints, has no route. (Measured on Docker 20.10,
 * docs/docker-20.10.md §4.) Other drivers' gateways are not the host's, and a container only on
 * them is not predicted to reach the host (docker_gwbridge is not modelled): false.
 */
export const predictGatewayReach = (state: CnmState, from: string, network: string): boolean => {
  const source = containerRecord(state, from)
  const target = networkRecord(state, network)?.network
  if (source === undefined || target === undefined || target.driver !== "bridge" || target.gateway === undefined) return false
  return source.endpoints.some((endpoint) => {
    const driver = networkRecord(state, endpoint.network)?.network.driver
    return driver === "bridge" || driver === "host"
  })
}

export interface ReachTarget {
  readonly container: string
  /** position of the container in ReachMatrix.containers */
  readonly containerIndex: number
  readonly network: string
  /** without prefix */
  readonly address: string
}

/**
 * Reachability between every ordered pair of distinct containers, for every address of the
 * second. Stored as one bitset of sources per network (the rows of all targets on a network
 * are the same, apart from the target itself), so building it is linear in the number of
 * endpoints and networks, not in the number of pairs.
 */
export interface ReachMatrix {
  /** container names in creation order */
  readonly containers: ReadonlyArray<string>
  /** every endpoint address, by container (creation order), then attach order */
  readonly targets: ReadonlyArray<ReachTarget>
  /** the targets of containers[containerIndex] are targets[first] … targets[end - 1] */
  readonly targetRange: (containerIndex: number) => { readonly first: number; readonly end: number }
  readonly reachable: (fromIndex: number, targetIndex: number) => boolean
  /** number of (source, target) pairs that are reachable, sources distinct from the target's container */
  readonly reachableCount: () => number
  /** every entry in report order: source, then target container, then its addresses */
  readonly forEach: (visit: (from: string, target: ReachTarget, reachable: boolean) => void) => void
}

const popcount = (word: number): number => {
  let bits = word - ((word >>> 1) & 0x55555555)
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333)
  return Math.imul((bits + (bits >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}

const hasBit = (bits: Uint32Array, index: number): boolean => ((bits[index >>> 5] as number) & (1 << (index & 31))) !== 0

const setBit = (bits: Uint32Array, index: number): void => {
  bits[index >>> 5] = (bits[index >>> 5] as number) | (1 << (index & 31))
}

export const predictReachMatrix = (state: CnmState): ReachMatrix => {
  const records: Array<ContainerRecord> = []
  const indexBySeq = new Map<number, number>()
  IntTrie.forEach(state.containerOrder, (name, seq) => {
    indexBySeq.set(seq, records.length)
    records.push(containerRecord(state, name) as ContainerRecord)
  })
  const words = Math.ceil(records.length / 32)

  const onHost = new Uint32Array(words)
  records.forEach((record, index) => {
    if (isOnHost(state, record)) setBit(onHost, index)
  })

  /** network name → which containers reach an address on it */
  const sourcesByNetwork = new Map<string, Uint32Array>()
  const sourcesOf = (networkName: string): Uint32Array => {
    const known = sourcesByNetwork.get(networkName)
    if (known !== undefined) return known
    const { network, endpoints } = networkRecord(state, networkName) as NetworkRecord
    const sources = new Uint32Array(words)
    if (membersReachEachOther(network)) {
      IntTrie.forEach(endpoints, (_, seq) => setBit(sources, indexBySeq.get(seq) as number))
    }
    if (hostReaches(network))
      for (let word = 0; word < words; word++) sources[word] = (sources[word] as number) | (onHost[word] as number)
    sourcesByNetwork.set(networkName, sources)
    return sources
  }

  const targets: Array<ReachTarget> = []
  const targetSources: Array<Uint32Array> = []
  const firstTarget = new Int32Array(records.length + 1)
  records.forEach((record, containerIndex) => {
    firstTarget[containerIndex] = targets.length
    for (const endpoint of record.endpoints) {
      if (endpoint.address === undefined) continue
      targets.push({
        container: record.container.name,
        containerIndex,
        network: endpoint.network,
        address: stripPrefix(endpoint.address),
      })
      targetSources.push(sourcesOf(endpoint.network))
    }
  })
  firstTarget[records.length] = targets.length

  const reachable = (fromIndex: number, targetIndex: number): boolean => {
    const target = targets[targetIndex]
    if (target === undefined || fromIndex === target.containerIndex) return false
    return hasBit(targetSources[targetIndex] as Uint32Array, fromIndex)
  }

  const reachableCount = (): number => {
    const countBySources = new Map<Uint32Array, number>()
    let total = 0
    targets.forEach((target, targetIndex) => {
      const sources = targetSources[targetIndex] as Uint32Array
      let count = countBySources.get(sources)
      if (count === undefined) {
        count = sources.reduce((sum, word) => sum + popcount(word), 0)
        countBySources.set(sources, count)
      }
      total += count - (hasBit(sources, target.containerIndex) ? 1 : 0)
    })
    return total
  }

  const containers = records.map((record) => record.container.name)
  return {
    containers,
    targets,
    targetRange: (containerIndex) => ({
      first: firstTarget[containerIndex] ?? 0,
      end: firstTarget[containerIndex + 1] ?? 0,
    }),
    reachable,
    reachableCount,
    forEach: (visit) => {
      // the hot loop of a full report (10,000 containers: 10^8 entries): the bit test is inlined
      containers.forEach((from, fromIndex) => {
        const word = fromIndex >>> 5
        const bit = 1 << (fromIndex & 31)
        for (let targetIndex = 0; targetIndex < targets.length; targetIndex++) {
          const target = targets[targetIndex] as ReachTarget
          if (target.containerIndex === fromIndex) continue
          visit(from, target, ((targetSources[targetIndex] as Uint32Array)[word]! & bit) !== 0)
        }
      })
    },
  }
}

/** Go compares strings byte by byte; so does `<` on the ASCII names Docker allows */
const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** the order in which libnetwork's resolver asks the sandbox's networks: non-internal first, then by name */
export const resolverOrder = (state: CnmState, endpoints: ReadonlyArray<Endpoint>): Array<NetworkRecord> =>
  endpoints
    .map((endpoint) => networkRecord(state, endpoint.network) as NetworkRecord)
    .filter((record) => !record.network.predefined)
    .sort((a, b) => Number(a.network.internal) - Number(b.network.internal) || compareNames(a.network.name, b.network.name))

export const answersTo = (endpoint: Endpoint, wanted: string): boolean =>
  endpoint.container.toLowerCase() === wanted || endpoint.aliases.some((alias) => alias.toLowerCase() === wanted)

export interface NameQuery {
  /** lower-cased */
  readonly name: string
  /** only this network may answer (exact, case-sensitive); undefined: any of the asker's */
  readonly network?: string
}

/**
 * The readings libnetwork's resolver tries for a query (sandbox.ResolveName), in order: the
 * whole name on every network, then, cutting at each dot from the right, "a.b.c" as name "a.b"
 * on network "c", then as "a" on network "b.c". Names and network names may hold dots, so every
 * cut is a candidate.
 */
export const readingsOf = (query: string): ReadonlyArray<NameQuery> => {
  const whole = query.endsWith(".") ? query.slice(0, -1) : query
  const readings: Array<NameQuery> = [{ name: whole.toLowerCase() }]
  for (let cut = whole.lastIndexOf("."); cut >= 0; cut = whole.lastIndexOf(".", cut - 1)) {
    readings.push({ name: whole.slice(0, cut).toLowerCase(), network: whole.slice(cut + 1) })
    if (cut === 0) break
  }
  return readings
}

/**
 * The embedded DNS as seen from container `from`: the sorted addresses `name` resolves to, or
 * [] when there is no answer. Only containers on a user-defined network have the resolver. For
 * each reading of the query (readingsOf) it asks the asker's networks in resolver order, and
 * answers from the first network that knows the name (container name or network-scoped alias,
 * case-insensitive) with every endpoint there that carries it. `web.n1` therefore answers only
 * when the asker is on n1, with web's address on n1.
 */
export const predictResolve = (state: CnmState, from: string, name: string): ReadonlyArray<string> => {
  const source = containerRecord(state, from)
  if (source === undefined) return []
  const networks = resolverOrder(state, source.endpoints)
  for (const reading of readingsOf(name)) {
    for (const record of networks) {
      if (reading.network !== undefined && reading.network !== record.network.name) continue
      const addresses: Array<number> = []
      IntTrie.forEach(record.endpoints, (endpoint) => {
        if (endpoint.address !== undefined && answersTo(endpoint, reading.name)) {
          addresses.push(parseIPv4(stripPrefix(endpoint.address)) as number)
        }
      })
      if (addresses.length > 0) return addresses.sort((a, b) => a - b).map(formatIPv4)
    }
  }
  return []
}
