import { describe, expect, it } from "vitest"
import { parseCidr, parseIPv4 } from "../../model/cidr.ts"
import * as Model from "../../model/index.ts"
import * as IntTrie from "../../model/int-trie.ts"
import { openAddressBook, release } from "../../model/ipam.ts"
import { buildNetworkRecord } from "../../model/network-record.ts"
import {
  type CnmState,
  type ContainerRecord,
  type NetworkRecord,
  containerRecord,
  dropNetworkRecord,
  networkRecord,
  putContainerRecord,
  putNetworkRecord,
} from "../../model/representation.ts"
import type { Endpoint } from "../../model/types.ts"
import { build, conn, ctr, net } from "./support.ts"

const requiredNames = [
  "endpoint-on-one-network",
  "one-endpoint-per-container-network",
  "addresses-unique-in-network",
  "addresses-inside-subnet",
  "gateway-reserved",
  "subnets-disjoint",
  "no-endpoints-on-missing-network",
  "predefined-networks-exist",
  "host-container-exclusive",
  "none-container-exclusive",
  "names-unique",
  "interface-names-unique-per-container",
  "mac-matches-address",
]

/** a healthy state every broken one starts from */
const healthy = build(
  net({ name: "a", subnet: "10.1.0.0/24" }),
  net({ name: "b" }),
  net({ name: "r", subnet: "10.3.0.0/24", ipRange: "10.3.0.128/25" }),
  // host bits in the subnet: listed as written, allocated from 10.4.0.0/24
  net({ name: "h", subnet: "10.4.0.9/24" }),
  ctr("web", "a", "b"),
  ctr("db", "a"),
  ctr("api", "r"),
  ctr("hostbox", "host"),
  ctr("nonebox", "none"),
)

const containerOf = (state: CnmState, name: string): ContainerRecord => containerRecord(state, name) as ContainerRecord
const networkOf = (state: CnmState, name: string): NetworkRecord => networkRecord(state, name) as NetworkRecord

/** replaces one endpoint of a container in the container record and in its network's list, nowhere else */
const editEndpoint = (state: CnmState, container: string, network: string, edit: (endpoint: Endpoint) => Endpoint): CnmState => {
  const record = containerOf(state, container)
  const endpoints = record.endpoints.map((endpoint) => (endpoint.network === network ? edit(endpoint) : endpoint))
  const changed = endpoints.find((endpoint) => endpoint.network === network) as Endpoint
  const withContainer = putContainerRecord(state, { ...record, endpoints })
  const networkRecordNow = networkOf(withContainer, network)
  return putNetworkRecord(withContainer, {
    ...networkRecordNow,
    endpoints: IntTrie.set(networkRecordNow.endpoints, record.seq, changed),
  })
}

/** sets the container record's endpoints (and networks) as given, touching no network index */
const setContainerEndpoints = (state: CnmState, container: string, endpoints: ReadonlyArray<Endpoint>): CnmState => {
  const record = containerOf(state, container)
  return putContainerRecord(state, {
    ...record,
    container: { name: container, networks: endpoints.map((endpoint) => endpoint.network) },
    endpoints,
  })
}

const endpointOf = (state: CnmState, container: string, network: string): Endpoint =>
  Model.endpointsOf(state, container).find((endpoint) => endpoint.network === network) as Endpoint

const breakages: Record<string, (state: CnmState) => CnmState> = {
  "endpoint-on-one-network": (state) => {
    // b's list claims web's endpoint on a
    const b = networkOf(state, "b")
    const web = containerOf(state, "web")
    return putNetworkRecord(state, { ...b, endpoints: IntTrie.set(b.endpoints, web.seq, endpointOf(state, "web", "a")) })
  },
  "one-endpoint-per-container-network": (state) =>
    setContainerEndpoints(state, "db", [endpointOf(state, "db", "a"), { ...endpointOf(state, "db", "a"), ifname: "eth1" }]),
  "addresses-unique-in-network": (state) =>
    editEndpoint(state, "db", "a", (endpoint) => ({
      ...endpoint,
      address: endpointOf(state, "web", "a").address,
      mac: endpointOf(state, "web", "a").mac,
    })),
  "addresses-inside-subnet": (state) =>
    editEndpoint(state, "db", "a", (endpoint) => ({ ...endpoint, address: "10.9.9.9/24", mac: "02:42:0a:09:09:09" })),
  "gateway-reserved": (state) =>
    editEndpoint(state, "db", "a", (endpoint) => ({ ...endpoint, address: "10.1.0.1/24", mac: "02:42:0a:01:00:01" })),
  "subnets-disjoint": (state) => {
    const overlapping = buildNetworkRecord({
      seq: state.nextNetworkSeq,
      name: "clash",
      driver: "bridge",
      addresses: openAddressBook(parseCidr("10.1.0.128/25")!, undefined, undefined)!,
      userSubnet: true,
      internal: false,
      predefined: false,
      options: {},
    })
    return putNetworkRecord({ ...state, nextNetworkSeq: state.nextNetworkSeq + 1 }, overlapping)
  },
  "no-endpoints-on-missing-network": (state) => dropNetworkRecord(state, networkOf(state, "b")),
  "predefined-networks-exist": (state) => dropNetworkRecord(state, networkOf(state, "bridge")),
  "host-container-exclusive": (state) =>
    setContainerEndpoints(state, "hostbox", [endpointOf(state, "hostbox", "host"), endpointOf(state, "db", "a")]),
  "none-container-exclusive": (state) =>
    setContainerEndpoints(state, "nonebox", [endpointOf(state, "nonebox", "none"), endpointOf(state, "db", "a")]),
  "names-unique": (state) => {
    // a second record claiming db's sequence number: one of the two is no longer listed at its seq
    const db = containerOf(state, "db")
    return putContainerRecord(state, { ...db, container: { name: "db2", networks: [] }, endpoints: [] })
  },
  "interface-names-unique-per-container": (state) =>
    editEndpoint(state, "web", "b", (endpoint) => ({ ...endpoint, ifname: "eth0" })),
  // web has eth0 and eth1; a counter at 1 would hand eth1 out a second time
  "interface-numbers-from-counter": (state) => putContainerRecord(state, { ...containerOf(state, "web"), nextInterface: 1 }),
  "mac-matches-address": (state) => editEndpoint(state, "db", "a", (endpoint) => ({ ...endpoint, mac: "02:42:de:ad:be:ef" })),
  "sequence-numbers-fresh": (state) => ({ ...state, nextContainerSeq: 1 }),
  "pool-cursor-valid": (state) => ({ ...state, poolCursor: 31 }),
  "address-book-matches-endpoints": (state) => {
    const a = networkOf(state, "a")
    return putNetworkRecord(state, { ...a, addresses: release(a.addresses!, parseIPv4("10.1.0.3")!) })
  },
  "configured-subnet-names-the-subnet": (state) => {
    const h = networkOf(state, "h")
    return putNetworkRecord(state, { ...h, network: { ...h.network, configuredSubnet: "10.5.0.9/24" } })
  },
  "dynamic-addresses-inside-ip-range": (state) =>
    editEndpoint(state, "api", "r", (endpoint) => ({ ...endpoint, address: "10.3.0.5/24", mac: "02:42:0a:03:00:05" })),
  "static-addresses-need-user-subnet": (state) =>
    editEndpoint(state, "web", "b", (endpoint) => ({ ...endpoint, staticAddress: true })),
}

describe("invariants", () => {
  it("include every invariant of the brief, each once", () => {
    const names = Model.invariants.map((invariant) => invariant.name)
    expect(names).toEqual(expect.arrayContaining(requiredNames))
    expect(new Set(names).size).toBe(names.length)
  })

  it("hold on the initial state and on a busy one", () => {
    expect(Model.checkInvariants(Model.initialState())).toEqual([])
    expect(Model.checkInvariants(healthy)).toEqual([])
    expect(Model.checkInvariants(build(net({ name: "a" }), ctr("web", "a"), conn("web", "bridge")))).toEqual([])
  })

  it("each have a way to break them, tested below", () => {
    expect(Object.keys(breakages).sort()).toEqual(Model.invariants.map((invariant) => invariant.name).sort())
  })

  it.each(Object.entries(breakages))("%s catches a state broken by hand", (name, breakState) => {
    const broken = breakState(healthy)
    const violations = Model.checkInvariants(broken)
    expect(violations.filter((violation) => violation.invariant === name).length).toBeGreaterThan(0)
    for (const violation of violations) expect(violation.detail.length).toBeGreaterThan(0)
    // the check alone reports the same
    const invariant = Model.invariants.find((candidate) => candidate.name === name)!
    expect(invariant.check(broken).length).toBeGreaterThan(0)
    expect(invariant.check(healthy)).toEqual([])
  })
})
