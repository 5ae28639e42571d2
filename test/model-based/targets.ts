import fc from "fast-check"
import * as model from "../../model/index.ts"

/**
 * How generated commands name what they act on. A command carries picks, not names: when it runs,
 * a pick resolves against the model's current state, so that the same generated command stays
 * meaningful in any state. A pick that fits (most of them) chooses among the objects with which
 * the operation can succeed: a free name to create, an existing container, a network the container
 * is not on yet, a free address. The others choose among every name of the pools, existing or
 * not, reserved or invalid, so that refusals keep coming up, each code among them.
 */

/** user networks are named from this pool; predefined names and `default` are reserved */
export const networkPool = ["n0", "n1", "n2", "n3"] as const
export const containerPool = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"] as const
/** names Docker refuses: too short, a leading dash, empty, blank */
const invalidContainerNames = ["x", "-c0"] as const
const invalidNetworkNames = ["", " "] as const
const reservedNetworkNames = ["bridge", "host", "none", "default"] as const

export interface Pick {
  readonly fit: boolean
  /** which of the candidates, modulo their number */
  readonly k: number
}

/**
 * A pick that fits `fitWeight` times in `fitWeight + 1`, drawn as one integer (a record of two
 * arbitraries costs several times more to generate, and picks are most of what is generated).
 * It shrinks towards a fitting pick of the first candidate.
 */
export const pickOf = (fitWeight: number): fc.Arbitrary<Pick> =>
  fc.nat({ max: (fitWeight + 1) * 1000 - 1 }).map((n) => ({ fit: n % (fitWeight + 1) !== fitWeight, k: Math.floor(n / (fitWeight + 1)) }))

/** the k-th fitting candidate; any of `all` when the pick does not fit or nothing fits */
export const choose = <T>(pick: Pick, fitting: ReadonlyArray<T>, all: ReadonlyArray<T>): T => {
  const from = pick.fit && fitting.length > 0 ? fitting : all
  return from[pick.k % from.length] as T
}

export const existingContainers = (state: model.CnmState): string[] => model.containers(state).map((c) => c.name)

const driverOf = (state: model.CnmState, network: string): string | undefined => model.network(state, network)?.driver

/** the networks a container can be attached to and detached from: bridge networks, the default one included */
export const bridgeNetworks = (state: model.CnmState): string[] =>
  model.networks(state).flatMap((n) => (n.driver === "bridge" ? [n.name] : []))

/** every network name a command may name: the pool, the reserved names, whatever exists */
export const anyNetwork = (state: model.CnmState): string[] => [
  ...new Set([...networkPool, ...reservedNetworkNames, ...model.networks(state).map((n) => n.name)]),
]

export const anyContainer = (state: model.CnmState): string[] => [...new Set([...containerPool, ...existingContainers(state)])]

export const freeNetworkNames = (state: model.CnmState): string[] => networkPool.filter((name) => model.network(state, name) === undefined)

export const freeContainerNames = (state: model.CnmState): string[] => containerPool.filter((name) => model.container(state, name) === undefined)

/** names for a new network that cannot succeed: taken, reserved, invalid */
export const refusedNetworkNames = (state: model.CnmState): string[] => [
  ...model.networks(state).map((n) => n.name),
  ...reservedNetworkNames,
  ...invalidNetworkNames,
]

export const refusedContainerNames = (state: model.CnmState): string[] => [...existingContainers(state), ...invalidContainerNames]

/** a container that can still join a network: not sharing the host's namespace, not on none */
export const canJoin = (state: model.CnmState, container: string): boolean =>
  model.endpointsOf(state, container).every((e) => driverOf(state, e.network) === "bridge")

export const bridgeNetworksOf = (state: model.CnmState, container: string): string[] =>
  model.endpointsOf(state, container).flatMap((e) => (driverOf(state, e.network) === "bridge" ? [e.network] : []))

/** the networks a container can join: bridge networks it is not on */
export const joinable = (state: model.CnmState, container: string): string[] => {
  const on = new Set(model.endpointsOf(state, container).map((e) => e.network))
  return bridgeNetworks(state).filter((n) => !on.has(n))
}

// ---------------------------------------------------------------------------------------------
// addresses
// ---------------------------------------------------------------------------------------------

/** a static address: none (dynamic), one that fits (free, in a user subnet), or one that is refused */
export type AddressPick = { readonly kind: "dynamic" } | { readonly kind: "static"; readonly pick: Pick }

/** three in ten static, the static ones fitting as often as `fitWeight` says */
export const addressPick = (fitWeight: number): fc.Arbitrary<AddressPick> =>
  fc.oneof(
    { weight: 7, arbitrary: fc.constant({ kind: "dynamic" } as const) },
    { weight: 3, arbitrary: pickOf(fitWeight).map((pick) => ({ kind: "static", pick }) as const) },
  )

const hostAddress = (subnet: string, offset: number): string => {
  const cidr = model.parseCidr(subnet) as model.Cidr
  return model.formatIPv4(cidr.base + offset)
}

/**
 * The address to ask for on `network`, or undefined for a dynamic one. A fitting pick takes one
 * of the lowest free addresses of a user subnet (none on other networks: Docker refuses them);
 * the others ask for the gateway, an address in use, one outside the subnet, or a free one on a
 * network without a user subnet.
 */
export const resolveAddress = (state: model.CnmState, network: string, choice: AddressPick): string | undefined => {
  if (choice.kind === "dynamic") return undefined
  const net = model.network(state, network)
  if (net?.subnet === undefined) return choice.pick.fit ? undefined : "10.250.0.9"
  const used = new Set(model.endpointsOn(state, network).flatMap((e) => (e.address === undefined ? [] : [model.stripPrefix(e.address)])))
  const size = 2 ** (32 - Number(net.subnet.split("/")[1]))
  const free: string[] = []
  for (let offset = 1; offset < Math.min(size - 1, 16); offset++) {
    const address = hostAddress(net.subnet, offset)
    if (address !== net.gateway && !used.has(address)) free.push(address)
  }
  if (choice.pick.fit) return net.userSubnet && free.length > 0 ? free[choice.pick.k % free.length] : undefined
  const refused = [net.gateway as string, ...used, "10.250.0.9", hostAddress(net.subnet, size - 1), ...free.slice(0, 1)]
  return refused[choice.pick.k % refused.length]
}

// ---------------------------------------------------------------------------------------------
// aliases
// ---------------------------------------------------------------------------------------------

/** aliases several containers share: one name, several answers */
export const sharedAliases = ["shared", "web"] as const

/** a container's own alias */
export const ownAlias = (container: string): string => `${container}-a`

const aliasSets = (container: string): ReadonlyArray<ReadonlyArray<string>> => [
  [],
  [],
  [],
  ["shared"],
  ["shared", ownAlias(container)],
  ["web"],
  [ownAlias(container)],
]

export const aliasPick = fc.nat({ max: 6 })

export const resolveAliases = (container: string, k: number): ReadonlyArray<string> => aliasSets(container)[k % 7] as ReadonlyArray<string>

// ---------------------------------------------------------------------------------------------
// one attachment of a container to a network
// ---------------------------------------------------------------------------------------------

export interface AttachPick {
  readonly network: Pick
  readonly address: AddressPick
  readonly aliases: number
}

export const attachPick = (fitWeight: number): fc.Arbitrary<AttachPick> =>
  fc.record({ network: pickOf(fitWeight), address: addressPick(fitWeight), aliases: aliasPick })

/**
 * The attach request for `container` on `network`. No aliases on a predefined network: Docker
 * 20.10 refuses them there ("network-scoped alias is supported only for containers in user
 * defined networks"), and the model does not (yet), so asking would only test that gap.
 */
export const resolveAttach = (state: model.CnmState, container: string, network: string, pick: AttachPick): model.AttachRequest => {
  const ip = resolveAddress(state, network, pick.address)
  const aliases = model.network(state, network)?.predefined === true ? [] : resolveAliases(container, pick.aliases)
  return { network, ...(ip === undefined ? {} : { ip }), ...(aliases.length > 0 ? { aliases } : {}) }
}
