/** Every named lab invariant holds on a lab built by the operations, and finds the lab broken on purpose. */
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { withHostState } from "../../model/lab-store.ts"
import { type CnmState, containerRecord, dropContainerRecord, dropNetworkRecord, networkRecord } from "../../model/representation.ts"
import * as StringMap from "../../model/string-map.ts"
import { container, hostsNamed, labOf, network } from "./lab-support.ts"

const healthy = labOf(
  { hosts: hostsNamed(3), swarm: true },
  network({ name: "ov", driver: "overlay" }),
  network({ name: "ov2", driver: "overlay" }),
  network({ name: "mv", driver: "macvlan", subnet: "192.168.99.0/24", gateway: "192.168.99.254", options: { parent: "eth0" }, hosts: [{ host: "host1", ipRange: "192.168.99.128/27" }, { host: "host2", ipRange: "192.168.99.160/27" }] }),
  network({ name: "tag", driver: "macvlan", subnet: "10.20.0.0/24", options: { parent: "eth0.20" }, hosts: ["host1"] }),
  network({ name: "loc", hosts: ["host3"] }),
  container("c1", "host1", "ov"),
  container("c2", "host2", "ov", "mv"),
  container("c3", "host3", "loc", "ov2"),
  container("m1", "host1", "mv"),
  container("m2", "host1", "mv"),
)

const swarm = healthy.swarm as Model.SwarmState
const entry = (name: string) => StringMap.get(swarm.networks, name) as Model.SwarmNetwork
const withEntry = (lab: Model.LabState, name: string, edit: (entry: Model.SwarmNetwork) => Model.SwarmNetwork): Model.LabState => ({
  ...lab,
  swarm: { ...swarm, networks: StringMap.set(swarm.networks, name, edit(entry(name))) },
})
const editHost = (lab: Model.LabState, index: number, edit: (state: CnmState) => CnmState) => withHostState(lab, index, edit(lab.hostStates[index] as CnmState))
const binding = (name: string): Model.PortBinding => ({ container: name, host: 0, network: "docker_gwbridge", hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" })
const service = (name: string): Model.ServiceRecord => ({ name, networks: ["ov"], endpointMode: "vip", vips: { ov: "10.0.1.250" }, replicas: [], listen: [], ports: [], mappings: [] })
const idOf = (host: string, name: string) => (Model.labNetwork(healthy, host, name) as Model.Network).id

const broken: ReadonlyArray<[string, Model.LabState]> = [
  ["hosts-distinct", { ...healthy, hosts: healthy.hosts.map((host, index) => (index === 1 ? { ...host, name: "host1" } : host)) }],
  ["containers-placed-once", { ...healthy, placement: StringMap.set(healthy.placement, "c1", 2) }],
  ["sequence-numbers-lab-wide", { ...healthy, nextContainerSeq: 1 }],
  ["endpoint-host-has-network", editHost(healthy, 2, (state) => dropNetworkRecord(state, networkRecord(state, "loc") as never))],
  ["swarm-networks-on-every-host", editHost(healthy, 2, (state) => dropNetworkRecord(state, networkRecord(state, "ov") as never))],
  ["swarm-address-book-matches-endpoints", withEntry(healthy, "ov", (ov) => ({ ...ov, addresses: entry("ov2").addresses }))],
  ["overlay-subnets-unique-across-swarm", withEntry(healthy, "ov2", (ov2) => ({ ...ov2, addresses: entry("ov").addresses }))],
  ["vni-per-overlay-network-unique", withEntry(healthy, "ov2", (ov2) => ({ ...ov2, overlay: { ...ov2.overlay, vni: entry("ov").overlay.vni } }))],
  ["overlay-mtu-from-underlay", withEntry(healthy, "ov", (ov) => ({ ...ov, overlay: { ...ov.overlay, mtu: 1500 } }))],
  [
    "one-vlan-network-per-parent-per-host",
    { ...healthy, vlans: StringMap.set(healthy.vlans, idOf("host1", "tag"), { parent: "eth0", mode: "bridge", parentKind: "link", createdParent: false }) },
  ],
  ["vlan-driver-data-for-existing-networks", { ...healthy, vlans: StringMap.set(healthy.vlans, "f".repeat(64), { parent: "eth0", mode: "l2", parentKind: "link", createdParent: false }) }],
  [
    "vlan-children-as-the-kernel-allows",
    { ...healthy, vlans: StringMap.set(healthy.vlans, idOf("host1", "mv"), { parent: "eth0", mode: "passthru", parentKind: "link", createdParent: false }) },
  ],
  ["load-balancer-per-host-using-network", editHost(healthy, 0, (state) => dropContainerRecord(state, containerRecord(state, "#lb-ov") as never))],
  ["gateway-leg-exactly-when-needed", { ...healthy, gatewayLegs: StringMap.set(healthy.gatewayLegs, "m1", true) }],
  ["host-addresses-parse", { ...healthy, hosts: healthy.hosts.map((host, index) => (index === 2 ? { ...host, prefix: 33 } : host)) }],
  ["swarm-cursors-valid", { ...healthy, swarm: { ...swarm, poolCursor: -1 } }],
  [
    "host-port-published-once",
    {
      ...healthy,
      ports: { ...healthy.ports, bindings: StringMap.set(StringMap.set(healthy.ports.bindings, "c1", [binding("c1")]), "m1", [{ ...binding("m1"), hostIp: "127.0.0.1" }]) },
    },
  ],
  [
    "ports-published-on-gateway-network",
    { ...healthy, ports: { ...healthy.ports, serving: StringMap.set(healthy.ports.serving, "c1", { mappings: [{ hostIp: "", containerPort: 80, proto: "tcp" }], listen: [] }) } },
  ],
  ["vip-unique-in-network", { ...healthy, services: StringMap.set(StringMap.set(healthy.services, "s1", service("s1")), "s2", service("s2")) }],
]

describe("lab invariants", () => {
  it("hold on a lab the operations built: swarm, overlays, macvlan on eth0 and eth0.20, containers on every host", () => {
    expect(Model.checkLabInvariants(healthy)).toEqual([])
    expect(Model.loadBalancers(healthy).length).toBe(3 + 3)
  })

  it.each(broken)("%s finds its breakage", (name, lab) => {
    const found = Model.checkLabInvariants(lab).map((violation) => violation.invariant)
    expect(found).toContain(name)
  })

  it("are each broken on purpose above, and each has a name", () => {
    const names = Model.labInvariants.map((invariant) => invariant.name)
    expect(new Set(names).size).toBe(names.length)
    expect(names.filter((name) => !broken.some(([broken]) => broken === name))).toEqual([])
  })

  it("report a host's own invariants with the host's name", () => {
    const lab = editHost(healthy, 1, (state) => ({ ...state, poolCursor: 99 }))
    expect(Model.checkLabInvariants(lab)).toContainEqual({ invariant: "pool-cursor-valid", detail: expect.stringMatching(/^host2: /) })
  })
})
