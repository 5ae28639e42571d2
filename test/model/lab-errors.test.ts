/**
 * The lab's refusals: each new code of the contract (SwarmRequired, ParentInUse, ParentNotFound,
 * and cnmlab's DefaultRouteExists) and the others a lab gives, in Docker's order, and each changing
 * nothing (Docker's allocator traces aside, which are checked where they arise).
 */
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import * as StringMap from "../../model/string-map.ts"
import { container, hostsNamed, labOf, labSnapshot, network, refusedWith, swarmOf } from "./lab-support.ts"

interface Case {
  readonly code: Model.ErrorCode
  readonly what: string
  readonly on: Model.LabState
  readonly step: (lab: Model.LabState) => Model.LabOutcome<unknown>
}

const plain = labOf({ hosts: hostsNamed(2) }, network({ name: "mv", driver: "macvlan", options: { parent: "eth0" }, hosts: ["host1"] }), network({ name: "local", hosts: ["host2"] }))
const swarm = swarmOf(2, network({ name: "ov", driver: "overlay", subnet: "10.70.0.0/24" }), container("c1", "host2", "ov"))
const create = (request: Model.LabNetworkRequest) => (lab: Model.LabState) => Model.createLabNetwork(lab, request)

const cases: ReadonlyArray<Case> = [
  { code: "SwarmRequired", what: "an overlay network without swarm", on: plain, step: create({ name: "ov", driver: "overlay" }) },
  { code: "SwarmRequired", what: "before the subnet text is read", on: plain, step: create({ name: "ov", driver: "overlay", subnet: "nonsense" }) },
  { code: "NetworkNameConflict", what: "an overlay named like a local network of any host", on: plain, step: create({ name: "local", driver: "overlay" }) },
  { code: "PredefinedNetwork", what: "an overlay with a name Docker keeps, before SwarmRequired", on: plain, step: create({ name: "host", driver: "overlay" }) },
  { code: "NetworkNameConflict", what: "a local network named like a swarm network", on: swarm, step: create({ name: "ov", hosts: ["host1"] }) },
  { code: "NetworkNameConflict", what: "a second ingress", on: swarm, step: create({ name: "ingress", driver: "overlay" }) },
  { code: "InvalidSubnet", what: "overlay subnet text", on: swarm, step: create({ name: "x", driver: "overlay", subnet: "10.1.0.0/33" }) },
  { code: "SubnetOverlap", what: "an overlay over another swarm network", on: swarm, step: create({ name: "x", driver: "overlay", subnet: "10.70.0.128/25" }) },
  { code: "InvalidOption", what: "overlay MTU text", on: swarm, step: create({ name: "x", driver: "overlay", options: { "com.docker.network.driver.mtu": "big" } }) },
  { code: "InvalidOption", what: "a negative overlay MTU", on: swarm, step: create({ name: "x", driver: "overlay", options: { "com.docker.network.driver.mtu": "-1" } }) },
  { code: "InvalidOption", what: "a vxlanid_list that is no number", on: swarm, step: create({ name: "x", driver: "overlay", subnet: "10.71.0.0/24", options: { "com.docker.network.driver.overlay.vxlanid_list": "12,ab" } }) },
  { code: "InvalidOption", what: "a VNI beyond 24 bits", on: swarm, step: create({ name: "x", driver: "overlay", subnet: "10.71.0.0/24", options: { "com.docker.network.driver.overlay.vxlanid_list": "16777216" } }) },
  { code: "InvalidOption", what: "hosts on an overlay network", on: swarm, step: create({ name: "x", driver: "overlay", hosts: ["host1"] }) },
  { code: "ParentInUse", what: "a second macvlan network on a parent", on: plain, step: create({ name: "mv2", driver: "macvlan", subnet: "10.2.0.0/24", options: { parent: "eth0" }, hosts: ["host1"] }) },
  { code: "ParentInUse", what: "on the second of its hosts: the first keeps nothing", on: plain, step: create({ name: "mv2", driver: "macvlan", subnet: "10.2.0.0/24", options: { parent: "eth0" }, hosts: ["host2", "host1"] }) },
  { code: "ParentNotFound", what: "a parent the host lacks", on: plain, step: create({ name: "mv2", driver: "macvlan", subnet: "10.2.0.0/24", options: { parent: "ens3" } }) },
  { code: "ParentNotFound", what: "a sub-interface of a link the host lacks", on: plain, step: create({ name: "mv2", driver: "ipvlan", subnet: "10.2.0.0/24", options: { parent: "ens3.7" } }) },
  { code: "InvalidName", what: "a host no lab has", on: plain, step: create({ name: "n", hosts: ["nowhere"] }) },
  { code: "InvalidName", what: "a container on a host no lab has", on: plain, step: (lab) => Model.createLabContainer(lab, { name: "c9", host: "nowhere" }) },
  { code: "ContainerNameConflict", what: "a container name another host uses", on: swarm, step: container("c1", "host1", "bridge") },
  { code: "ActiveEndpoints", what: "a swarm network a container on another host uses", on: swarm, step: (lab) => Model.removeLabNetwork(lab, "ov") },
  { code: "ActiveEndpoints", what: "ingress, which the ingress sandboxes use", on: swarm, step: (lab) => Model.removeLabNetwork(lab, "ingress") },
  { code: "InvalidOption", what: "removing a swarm network from one host", on: swarm, step: (lab) => Model.removeLabNetwork(lab, "ov", "host1") },
  { code: "NetworkNotFound", what: "removing a local network from a host that lacks it", on: plain, step: (lab) => Model.removeLabNetwork(lab, "local", "host1") },
  { code: "PredefinedNetwork", what: "a container on ingress", on: swarm, step: container("c2", "host1", "ingress") },
  { code: "AddressInUse", what: "an overlay address another host's container holds", on: swarm, step: container("c2", "host1", { network: "ov", ip: "10.70.0.2" }) },
  {
    code: "DefaultRouteExists",
    what: "an ipvlan l3 network's own default route beside a bridge's gateway",
    on: labOf({ hosts: hostsNamed(2) }, network({ name: "l3", driver: "ipvlan", subnet: "10.9.0.0/24", options: { parent: "eth0", ipvlan_mode: "l3" } })),
    step: container("c2", "host1", "bridge", "l3"),
  },
]

describe("lab refusals", () => {
  it.each(cases.map((entry) => [entry.code, entry.what, entry] as const))("%s: %s", (code, _, entry) => {
    const before = labSnapshot(entry.on)
    const outcome = entry.step(entry.on)
    expect(refusedWith(outcome)).toBe(code)
    expect(outcome.ok ? undefined : outcome.lab).toBeUndefined()
    expect(labSnapshot(entry.on)).toBe(before)
  })

  it("cover every code only a lab gives", () => {
    const covered = new Set(cases.map((entry) => entry.code))
    expect(Model.labErrorCodes.filter((code) => !covered.has(code))).toEqual([])
  })

  it("keep Docker's traces: a failed VNI leaves swarm's pool cursor past the pool it tried", () => {
    const outcome = Model.createLabNetwork(swarm, { name: "x", driver: "overlay", options: { "com.docker.network.driver.overlay.vxlanid_list": "4096" } })
    expect(refusedWith(outcome)).toBe("InvalidOption")
    const trace = outcome.ok ? undefined : outcome.lab
    expect(trace?.swarm?.poolCursor).toBe(2)
    const next = Model.createLabNetwork(trace as Model.LabState, { name: "y", driver: "overlay" })
    expect(next.ok && next.value[0]?.network.subnet).toBe("10.0.2.0/24")
  })

  it("keep Docker's traces: an attach the kernel refuses for its MTU still moved the serial cursor", () => {
    const lab = swarmOf(1, network({ name: "tiny", driver: "overlay", options: { "com.docker.network.driver.mtu": "100" } }))
    const outcome = container("t1", "host1", "tiny")(lab)
    expect(refusedWith(outcome)).toBe("InvalidOption")
    const trace = outcome.ok ? undefined : outcome.lab
    expect(Model.labContainers(trace as Model.LabState)).toEqual([])
    const cursorOf = (of: Model.LabState | undefined) => (of?.swarm === undefined ? undefined : StringMap.get(of.swarm.networks, "tiny")?.addresses.next)
    expect([cursorOf(lab), cursorOf(trace)]).toEqual([2, 3])
  })

  it("refuse a lab whose hosts make none", () => {
    expect([
      Model.createLab({ hosts: [{ name: "a" }, { name: "a" }] }),
      Model.createLab({ underlay: "10.0.0.0/40" }),
      Model.createLab({ hosts: [{ name: "a", address: "192.168.99.2" }, { name: "b" }] }),
      Model.createLab({ underlay: "10.0.0.0/30", hosts: hostsNamed(3) }),
      Model.createLab({ hosts: [{ name: "a", address: "nowhere" }] }),
    ].map((checked) => (checked.ok ? "ok" : checked.error.code))).toEqual(["InvalidName", "InvalidSubnet", "AddressInUse", "PoolExhausted", "InvalidSubnet"])
  })
})
