/**
 * Named invariants over a CnmState: what must hold after any sequence of operations, whatever
 * succeeded or was refused. Each check returns its problems as sentences ([] = holds). They
 * read the container records (the truth about endpoints) and cross-check the indexes that
 * operations maintain beside them, so a state built or edited by hand is judged as well.
 */
import {
  type Cidr,
  blockSize,
  cidrContains,
  cidrsOverlap,
  formatCidr,
  formatIPv4,
  lastAddress,
  parseCidr,
  parseCidrWithAddress,
  parseIPv4,
} from "./cidr.ts"
import * as IntTrie from "./int-trie.ts"
import { type AddressBook, defaultPools, gatewayHolder, macForAddress, reservedHolder } from "./ipam.ts"
import type { CnmState, ContainerRecord, NetworkRecord } from "./representation.ts"
import * as StringMap from "./string-map.ts"
import { type Endpoint, type Network, scopeOf } from "./types.ts"

export interface InvariantViolation {
  readonly invariant: string
  readonly detail: string
}

export interface Invariant {
  readonly name: string
  readonly check: (state: CnmState) => ReadonlyArray<string>
}

const networkRecords = (state: CnmState): Array<NetworkRecord> => StringMap.values(state.networks)
const containerRecords = (state: CnmState): Array<ContainerRecord> => StringMap.values(state.containers)

const allEndpoints = (state: CnmState): Array<Endpoint> => containerRecords(state).flatMap((record) => record.endpoints)

const describe = (endpoint: Endpoint): string => `endpoint ${endpoint.container}@${endpoint.network}`

const driverOf = (state: CnmState, endpoint: Endpoint): string | undefined =>
  StringMap.get(state.networks, endpoint.network)?.network.driver

/** the endpoint's address as a number, undefined if it has none or it does not parse */
const addressOf = (endpoint: Endpoint): number | undefined =>
  endpoint.address === undefined ? undefined : parseCidrWithAddress(endpoint.address)?.address

const sameEndpoint = (a: Endpoint, b: Endpoint): boolean =>
  a === b ||
  (a.container === b.container &&
    a.network === b.network &&
    a.address === b.address &&
    a.mac === b.mac &&
    a.ifname === b.ifname &&
    a.staticAddress === b.staticAddress &&
    a.aliases.length === b.aliases.length &&
    a.aliases.every((alias, index) => alias === b.aliases[index]))

const endpointsByNetwork = (state: CnmState): Map<string, Array<Endpoint>> => {
  const grouped = new Map<string, Array<Endpoint>>()
  for (const endpoint of allEndpoints(state)) {
    const group = grouped.get(endpoint.network) ?? []
    group.push(endpoint)
    grouped.set(endpoint.network, group)
  }
  return grouped
}

const duplicates = <A>(items: ReadonlyArray<A>): Array<A> => {
  const seen = new Set<A>()
  const repeated = new Set<A>()
  for (const item of items) (seen.has(item) ? repeated : seen).add(item)
  return [...repeated]
}

const exclusiveModeProblems = (state: CnmState, driver: "host" | "null", label: string): Array<string> =>
  containerRecords(state).flatMap((record) => {
    const onMode = record.endpoints.filter((endpoint) => driverOf(state, endpoint) === driver)
    if (onMode.length === 0) return []
    const problems: Array<string> = []
    if (record.endpoints.length > 1) {
      problems.push(`container ${record.container.name} is on ${label} and on ${record.endpoints.length - 1} other network(s)`)
    }
    for (const endpoint of onMode) {
      if (endpoint.address !== undefined || endpoint.mac !== undefined || endpoint.ifname !== undefined) {
        problems.push(`${describe(endpoint)} on ${label} has an address, MAC or interface`)
      }
    }
    return problems
  })

const subnetOf = (record: NetworkRecord): Cidr | undefined =>
  record.network.subnet === undefined ? undefined : parseCidr(record.network.subnet)

/**
 * Where a network's address book and its endpoints disagree: the book must hold exactly the
 * subnet's network and broadcast addresses, the gateway, and each endpoint's address under its
 * container's sequence number. `endpoints` visits every endpoint of the network (on every host,
 * for a swarm network) with that number.
 */
export const bookProblems = (
  network: Network,
  book: AddressBook | undefined,
  endpoints: (visit: (endpoint: Endpoint, seq: number) => void) => void,
): Array<string> => {
  const { name } = network
  const subnet = network.subnet === undefined ? undefined : parseCidr(network.subnet)
  if (subnet === undefined || book === undefined) {
    return subnet === book ? [] : [`network ${name}: subnet ${network.subnet} but address book ${book && formatCidr(book.subnet)}`]
  }
  if (book.subnet.base !== subnet.base || book.subnet.prefix !== subnet.prefix) {
    return [`network ${name}: subnet ${formatCidr(subnet)} but address book for ${formatCidr(book.subnet)}`]
  }
  const expected = new Map<number, number>([
    [0, reservedHolder],
    [blockSize(subnet.prefix) - 1, reservedHolder],
  ])
  const gateway = network.gateway === undefined ? undefined : parseIPv4(network.gateway)
  if (gateway !== undefined) expected.set(gateway - subnet.base, gatewayHolder)
  endpoints((endpoint, seq) => {
    const address = addressOf(endpoint)
    if (address !== undefined) expected.set(address - subnet.base, seq)
  })
  const problems: Array<string> = []
  IntTrie.forEach(book.holders, (holder, offset) => {
    if (expected.get(offset) !== holder) {
      problems.push(`network ${name}: address ${formatIPv4(subnet.base + offset)} is booked for ${holder}, expected ${expected.get(offset)}`)
    }
    expected.delete(offset)
  })
  for (const [offset, holder] of expected) {
    problems.push(`network ${name}: address ${formatIPv4(subnet.base + offset)} of ${holder} is not booked`)
  }
  return problems
}

export const invariants: ReadonlyArray<Invariant> = [
  {
    name: "predefined-networks-exist",
    check: (state) => {
      const expected = [
        { name: "bridge", driver: "bridge", subnet: "172.17.0.0/16" },
        { name: "host", driver: "host", subnet: undefined },
        { name: "none", driver: "null", subnet: undefined },
      ]
      const problems = expected.flatMap(({ name, driver, subnet }) => {
        const network = StringMap.get(state.networks, name)?.network
        if (network === undefined) return [`predefined network ${name} is missing`]
        if (network.driver !== driver || !network.predefined || network.subnet !== subnet) {
          return [
            `predefined network ${name} is ${network.driver} ${network.subnet ?? "(no subnet)"}, predefined=${network.predefined}`,
          ]
        }
        return []
      })
      for (const record of networkRecords(state)) {
        if (record.network.predefined && !expected.some(({ name }) => name === record.network.name)) {
          problems.push(`network ${record.network.name} claims to be predefined`)
        }
      }
      return problems
    },
  },
  {
    name: "names-unique",
    check: (state) => {
      const problems: Array<string> = []
      StringMap.forEach(state.networks, (record, key) => {
        if (record.network.name !== key) problems.push(`network ${record.network.name} is stored under the name ${key}`)
        if (IntTrie.get(state.networkOrder, record.network.seq) !== key) {
          problems.push(`network ${key} is not listed at its sequence number ${record.network.seq}`)
        }
      })
      if (state.networkOrder.size !== state.networks.size) {
        problems.push(`${state.networkOrder.size} networks listed in order, ${state.networks.size} stored`)
      }
      for (const id of duplicates(networkRecords(state).map((record) => record.network.id))) {
        problems.push(`network id ${id} is used twice`)
      }
      StringMap.forEach(state.containers, (record, key) => {
        if (record.container.name !== key) problems.push(`container ${record.container.name} is stored under the name ${key}`)
        if (IntTrie.get(state.containerOrder, record.seq) !== key) {
          problems.push(`container ${key} is not listed at its sequence number ${record.seq}`)
        }
      })
      if (state.containerOrder.size !== state.containers.size) {
        problems.push(`${state.containerOrder.size} containers listed in order, ${state.containers.size} stored`)
      }
      return problems
    },
  },
  {
    name: "sequence-numbers-fresh",
    check: (state) => [
      ...networkRecords(state)
        .filter((record) => record.network.seq >= state.nextNetworkSeq)
        .map((record) => `network ${record.network.name} has seq ${record.network.seq}, next is ${state.nextNetworkSeq}`),
      ...containerRecords(state)
        .filter((record) => record.seq >= state.nextContainerSeq)
        .map((record) => `container ${record.container.name} has seq ${record.seq}, next is ${state.nextContainerSeq}`),
    ],
  },
  {
    name: "pool-cursor-valid",
    check: (state) =>
      Number.isInteger(state.poolCursor) && state.poolCursor >= 0 && state.poolCursor < defaultPools.length
        ? []
        : [`pool cursor ${state.poolCursor} is not an index of the ${defaultPools.length} default pools`],
  },
  {
    name: "one-endpoint-per-container-network",
    check: (state) =>
      containerRecords(state).flatMap((record) => {
        const name = record.container.name
        const networks = record.endpoints.map((endpoint) => endpoint.network)
        const problems = duplicates(networks).map((network) => `container ${name} has several endpoints on ${network}`)
        if (networks.join("\n") !== record.container.networks.join("\n")) {
          problems.push(`container ${name} lists networks [${record.container.networks}] but has endpoints on [${networks}]`)
        }
        for (const endpoint of record.endpoints) {
          if (endpoint.container !== name) problems.push(`${describe(endpoint)} is stored with container ${name}`)
        }
        return problems
      }),
  },
  {
    name: "no-endpoints-on-missing-network",
    check: (state) =>
      containerRecords(state).flatMap((record) =>
        record.endpoints.flatMap((endpoint) => {
          const network = StringMap.get(state.networks, endpoint.network)
          if (network === undefined) return [`${describe(endpoint)}: network ${endpoint.network} does not exist`]
          const listed = IntTrie.get(network.endpoints, record.seq)
          return listed !== undefined && sameEndpoint(listed, endpoint)
            ? []
            : [`${describe(endpoint)} is missing from the network's endpoint list`]
        }),
      ),
  },
  {
    name: "endpoint-on-one-network",
    check: (state) =>
      networkRecords(state).flatMap((record) => {
        const problems: Array<string> = []
        IntTrie.forEach(record.endpoints, (endpoint, seq) => {
          if (endpoint.network !== record.network.name) {
            problems.push(`${describe(endpoint)} is listed on network ${record.network.name}`)
          }
          const ownerName = IntTrie.get(state.containerOrder, seq)
          const owner = ownerName === undefined ? undefined : StringMap.get(state.containers, ownerName)
          if (owner === undefined || !owner.endpoints.some((candidate) => sameEndpoint(candidate, endpoint))) {
            problems.push(`${describe(endpoint)} listed on ${record.network.name} belongs to no container`)
          }
        })
        return problems
      }),
  },
  {
    name: "addresses-unique-in-network",
    check: (state) =>
      [...endpointsByNetwork(state)].flatMap(([network, endpoints]) =>
        duplicates(endpoints.flatMap((endpoint) => addressOf(endpoint) ?? [])).map(
          (address) => `address ${formatIPv4(address)} is used twice on ${network}`,
        ),
      ),
  },
  {
    name: "addresses-inside-subnet",
    check: (state) =>
      allEndpoints(state).flatMap((endpoint) => {
        const record = StringMap.get(state.networks, endpoint.network)
        if (record === undefined) return []
        const subnet = subnetOf(record)
        if (subnet === undefined) {
          return endpoint.address === undefined
            ? []
            : [`${describe(endpoint)} has address ${endpoint.address} on a network without subnet`]
        }
        const parsed = endpoint.address === undefined ? undefined : parseCidrWithAddress(endpoint.address)
        if (parsed === undefined) return [`${describe(endpoint)} has no valid address (${endpoint.address})`]
        if (!cidrContains(subnet, parsed.address) || parsed.prefix !== subnet.prefix) {
          return [`${describe(endpoint)} has ${endpoint.address}, outside ${formatCidr(subnet)}`]
        }
        if (parsed.address === subnet.base || parsed.address === lastAddress(subnet)) {
          return [`${describe(endpoint)} has the network or broadcast address ${endpoint.address}`]
        }
        return []
      }),
  },
  {
    name: "gateway-reserved",
    check: (state) => {
      const grouped = endpointsByNetwork(state)
      return networkRecords(state).flatMap((record) => {
        const subnet = subnetOf(record)
        if (subnet === undefined) return []
        const gateway = record.network.gateway === undefined ? undefined : parseIPv4(record.network.gateway)
        if (gateway === undefined || !cidrContains(subnet, gateway)) {
          return [`network ${record.network.name} has gateway ${record.network.gateway}, not inside ${formatCidr(subnet)}`]
        }
        return (grouped.get(record.network.name) ?? [])
          .filter((endpoint) => addressOf(endpoint) === gateway)
          .map((endpoint) => `${describe(endpoint)} has the gateway address ${record.network.gateway}`)
      })
    },
  },
  {
    // within one address space: the host's local one, or the swarm's (see network-ops subnetsInUse)
    name: "subnets-disjoint",
    check: (state) => {
      const subnets = networkRecords(state).flatMap((record) => {
        const subnet = subnetOf(record)
        return subnet === undefined ? [] : [{ name: record.network.name, scope: scopeOf(record.network), subnet }]
      })
      const problems: Array<string> = []
      subnets.forEach((a, index) => {
        for (const b of subnets.slice(index + 1)) {
          if (a.scope === b.scope && cidrsOverlap(a.subnet, b.subnet)) {
            problems.push(`networks ${a.name} (${formatCidr(a.subnet)}) and ${b.name} (${formatCidr(b.subnet)}) overlap`)
          }
        }
      })
      return problems
    },
  },
  {
    // Docker lists a user subnet as written (host bits and all) and allocates from its block:
    // the two must never name different blocks, nor one exist without the other
    name: "configured-subnet-names-the-subnet",
    check: (state) =>
      networkRecords(state).flatMap((record) => {
        const { name, subnet, configuredSubnet, userSubnet } = record.network
        if (subnet === undefined || configuredSubnet === undefined) {
          return subnet === configuredSubnet ? [] : [`network ${name}: subnet ${subnet} but configured subnet ${configuredSubnet}`]
        }
        const configured = parseCidr(configuredSubnet)
        if (configured === undefined || formatCidr(configured) !== subnet) {
          return [`network ${name}: configured subnet ${configuredSubnet} is not the block ${subnet}`]
        }
        // only a user may write host bits: an automatic pool is listed as its block
        return userSubnet || configuredSubnet === subnet ? [] : [`network ${name}: automatic subnet ${subnet} listed as ${configuredSubnet}`]
      }),
  },
  {
    // a swarm network's book also holds the other hosts' endpoints: the lab checks it (lab-invariants)
    name: "address-book-matches-endpoints",
    check: (state) =>
      networkRecords(state).flatMap((record) =>
        scopeOf(record.network) === "swarm"
          ? []
          : bookProblems(record.network, record.addresses, (visit) => IntTrie.forEach(record.endpoints, visit)),
      ),
  },
  {
    name: "dynamic-addresses-inside-ip-range",
    check: (state) =>
      allEndpoints(state).flatMap((endpoint) => {
        const ipRangeText = StringMap.get(state.networks, endpoint.network)?.network.ipRange
        const ipRange = ipRangeText === undefined ? undefined : parseCidr(ipRangeText)
        const address = addressOf(endpoint)
        if (ipRange === undefined || address === undefined || endpoint.staticAddress || cidrContains(ipRange, address)) return []
        return [`${describe(endpoint)} got ${endpoint.address} dynamically, outside ip-range ${ipRangeText}`]
      }),
  },
  {
    name: "static-addresses-need-user-subnet",
    check: (state) =>
      allEndpoints(state)
        .filter(
          (endpoint) => endpoint.staticAddress && StringMap.get(state.networks, endpoint.network)?.network.userSubnet !== true,
        )
        .map((endpoint) => `${describe(endpoint)} has a static address on a network without user subnet`),
  },
  {
    name: "host-container-exclusive",
    check: (state) => exclusiveModeProblems(state, "host", "host"),
  },
  {
    name: "none-container-exclusive",
    check: (state) => exclusiveModeProblems(state, "null", "none"),
  },
  {
    name: "interface-names-unique-per-container",
    check: (state) =>
      containerRecords(state).flatMap((record) => {
        const names = record.endpoints.flatMap((endpoint) => endpoint.ifname ?? [])
        const problems = duplicates(names).map((ifname) => `container ${record.container.name} has two interfaces ${ifname}`)
        for (const endpoint of record.endpoints) {
          if ((endpoint.address === undefined) !== (endpoint.ifname === undefined)) {
            problems.push(`${describe(endpoint)}: interface ${endpoint.ifname} with address ${endpoint.address}`)
          } else if (endpoint.ifname !== undefined && !/^eth(0|[1-9][0-9]*)$/.test(endpoint.ifname)) {
            problems.push(`${describe(endpoint)}: interface name ${endpoint.ifname} is not ethN`)
          }
        }
        return problems
      }),
  },
  {
    // Docker 20.10 counts a sandbox's interfaces and never hands a number out twice
    name: "interface-numbers-from-counter",
    check: (state) =>
      containerRecords(state).flatMap((record) => {
        const { nextInterface } = record
        if (!Number.isInteger(nextInterface) || nextInterface < 0) {
          return [`container ${record.container.name} has interface counter ${nextInterface}`]
        }
        return record.endpoints.flatMap((endpoint) => {
          // a name that is not ethN is interface-names-unique-per-container's finding
          const number = endpoint.ifname?.match(/^eth(0|[1-9][0-9]*)$/)?.[1]
          return number === undefined || Number(number) < nextInterface
            ? []
            : [`${describe(endpoint)}: interface ${endpoint.ifname} is not below the counter ${nextInterface}`]
        })
      }),
  },
  {
    name: "mac-matches-address",
    check: (state) =>
      allEndpoints(state).flatMap((endpoint) => {
        const address = addressOf(endpoint)
        const expected = address === undefined ? undefined : macForAddress(address)
        return endpoint.mac === expected ? [] : [`${describe(endpoint)} has MAC ${endpoint.mac}, expected ${expected}`]
      }),
  },
]

export const checkInvariants = (state: CnmState): ReadonlyArray<InvariantViolation> =>
  invariants.flatMap(({ name, check }) => check(state).map((detail) => ({ invariant: name, detail })))
