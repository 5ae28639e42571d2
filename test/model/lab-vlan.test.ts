/**
 * macvlan and ipvlan networks on a lab's hosts, as Docker 20.10's drivers make them: parents
 * (a dummy when none is given, eth0, an 802.1Q sub-interface the driver makes), modes, one
 * network per parent per host, per-host IPAM, and what the kernel refuses when a child joins.
 */
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import {
  addressOf,
  container,
  dropNetwork,
  expectHealthy,
  hostsNamed,
  labOf,
  labSnapshot,
  mustDo,
  network,
  join,
  refusedWith,
  swarmOf,
} from "./lab-support.ts"

const two = { hosts: hostsNamed(2) }
const macvlan = (name: string, options: Record<string, string> = {}, extra: Partial<Model.LabNetworkRequest> = {}) =>
  network({ name, driver: "macvlan", options, ...extra })

describe("parents", () => {
  it("without one: a dummy dm-<id> the driver makes (ipvlan: di-), and the network still has a gateway", () => {
    const lab = labOf(two, macvlan("mv"), network({ name: "iv", driver: "ipvlan" }))
    const mv = Model.labNetwork(lab, "host1", "mv") as Model.Network
    expect(Model.vlanInfo(lab, "host1", "mv")).toEqual({ parent: `dm-${mv.id.slice(0, 12)}`, mode: "bridge", parentKind: "dummy", createdParent: true })
    expect(Model.vlanInfo(lab, "host1", "iv")).toMatchObject({ parent: expect.stringMatching(/^di-[0-9a-f]{12}$/), mode: "l2" })
    expect(mv.gateway).toBe("172.18.0.1")
    // each host has its own network, with its own id and its own dummy
    expect(Model.vlanInfo(lab, "host2", "mv")?.parent).not.toBe(Model.vlanInfo(lab, "host1", "mv")?.parent)
    expectHealthy(lab)
  })

  it("eth0 is the host's own; eth0.N is an 802.1Q sub-interface the driver makes, and hands over while another network uses it", () => {
    const lab = labOf(two, macvlan("mv", { parent: "eth0" }), macvlan("tagged", { parent: "eth0.10" }), network({ name: "iv", driver: "ipvlan", options: { parent: "eth0.10" } }))
    expect(Model.vlanInfo(lab, "host1", "mv")).toEqual({ parent: "eth0", mode: "bridge", parentKind: "link", createdParent: false })
    expect(Model.vlanInfo(lab, "host1", "tagged")).toEqual({
      parent: "eth0.10",
      mode: "bridge",
      parentKind: "vlan",
      createdParent: true,
      vlanOf: { link: "eth0", id: 10 },
    })
    expect(Model.vlanInfo(lab, "host1", "iv")).toMatchObject({ parent: "eth0.10", parentKind: "link", createdParent: false })
    const after = mustDo(dropNetwork("tagged")(lab)).lab
    expect(Model.vlanInfo(after, "host1", "iv")).toMatchObject({ parent: "eth0.10", parentKind: "vlan", createdParent: true })
    expectHealthy(after)
  })

  it("one network per parent per host, whatever the mode or subnet (20.10): the message names the network using it", () => {
    const lab = labOf(two, macvlan("first", { parent: "eth0" }, { subnet: "10.1.0.0/24" }))
    const id = (Model.labNetwork(lab, "host1", "first") as Model.Network).id.slice(0, 12)
    const second = Model.createLabNetwork(lab, { name: "second", driver: "macvlan", subnet: "10.2.0.0/24", options: { parent: "eth0", macvlan_mode: "private" } })
    expect(refusedWith(second)).toBe("ParentInUse")
    expect(second.ok ? "" : second.error.message).toBe(`network dm-${id} is already using parent interface eth0`)
    // another host, or the other driver, may use it
    expect(Model.createLabNetwork(mustDo(dropNetwork("first", "host2")(lab)).lab, { name: "second", driver: "macvlan", options: { parent: "eth0" }, hosts: ["host2"] }).ok).toBe(true)
    expect(Model.createLabNetwork(lab, { name: "iv", driver: "ipvlan", options: { parent: "eth0" } }).ok).toBe(true)
  })

  it("refused as Docker refuses them, and the refusal changes nothing but the pool cursor IPAM moved", () => {
    const lab = labOf(two)
    const cases: Array<[Record<string, string>, Model.ErrorCode, string]> = [
      [{ parent: "eth9" }, "ParentNotFound", "invalid subinterface vlan name eth9, example formatting is eth0.10"],
      [{ parent: "eth9.5" }, "ParentNotFound", "-o parent interface does was not found on the host: eth9"],
      [{ parent: "eth0.5000" }, "InvalidOption", "vlan id must be between 1-4094, received: 5000"],
      [{ parent: "eth0.x" }, "InvalidOption", "unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)"],
      [{ parent: "eth0.1.2" }, "InvalidOption", "required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received eth0.1.2"],
      [{ parent: "lo" }, "InvalidOption", "loopback interface is not a valid macvlan parent link"],
      [{ macvlan_mode: "bridged", parent: "lo" }, "InvalidOption", "requested macvlan mode 'bridged' is not valid, 'bridge' mode is the macvlan driver default"],
    ]
    for (const [options, code, message] of cases) {
      const outcome = Model.createLabNetwork(lab, { name: "bad", driver: "macvlan", subnet: "10.5.0.0/24", options })
      expect([refusedWith(outcome), outcome.ok ? undefined : outcome.error.message]).toEqual([code, message])
      expect(outcome.ok ? undefined : outcome.lab).toBeUndefined()
    }
    const ipvlan = Model.createLabNetwork(lab, { name: "bad", driver: "ipvlan", options: { ipvlan_mode: "l3s" } })
    expect(ipvlan.ok ? "" : ipvlan.error.message).toBe("requested ipvlan mode 'l3s' is not valid, 'l2' mode is the ipvlan driver default")
    // IPAM came first: every asked host's daemon tried, and each one's automatic pool cursor stays past 172.18 (macvlan-errors)
    const trace = ipvlan.ok ? undefined : ipvlan.lab
    expect(trace?.hostStates.map((state) => state.poolCursor)).toEqual([2, 2])
    const next = mustDo(network({ name: "auto" })(trace as Model.LabState)).lab
    expect(Model.labNetworks(next).filter((row) => row.network.name === "auto").map((row) => row.network.subnet)).toEqual(["172.19.0.0/16", "172.19.0.0/16"])
  })

  it("IPAM refuses before the driver: an overlapping subnet with a bad mode is SubnetOverlap", () => {
    const lab = labOf(two, network({ name: "n", subnet: "10.7.0.0/24" }))
    expect(refusedWith(Model.createLabNetwork(lab, { name: "m", driver: "macvlan", subnet: "10.7.0.0/25", options: { macvlan_mode: "nope" } }))).toBe("SubnetOverlap")
  })
})

describe("per-host IPAM", () => {
  const subnet = "192.168.99.0/24"

  it("gives each host its own ip-range and gateway, and hosts only the ones named", () => {
    const lab = labOf(
      { hosts: hostsNamed(3) },
      macvlan("mv", { parent: "eth0" }, { subnet, gateway: "192.168.99.254", hosts: [{ host: "host1", ipRange: "192.168.99.128/27" }, { host: "host2", ipRange: "192.168.99.160/27", gateway: "192.168.99.253" }] }),
      container("m1", "host1", "mv"),
      container("m2", "host2", "mv"),
    )
    const rows = Model.labNetworks(lab).filter((row) => row.network.name === "mv")
    expect(rows.map((row) => [row.host, row.network.ipRange, row.network.gateway])).toEqual([
      ["host1", "192.168.99.128/27", "192.168.99.254"],
      ["host2", "192.168.99.160/27", "192.168.99.253"],
    ])
    expect([addressOf(lab, "m1", "mv"), addressOf(lab, "m2", "mv")]).toEqual(["192.168.99.128", "192.168.99.160"])
    expect(refusedWith(container("m3", "host3", "mv")(lab))).toBe("NetworkNotFound")
    expect(refusedWith(network({ name: "x", hosts: ["host9"] })(lab))).toBe("InvalidName")
  })

  it("without disjoint ranges, two hosts hand out the same address and the same MAC", () => {
    const lab = labOf(two, macvlan("mv", { parent: "eth0" }, { subnet, gateway: "192.168.99.254" }), container("m1", "host1", "mv"), container("m2", "host2", "mv"))
    const [first, second] = ["m1", "m2"].map((name) => Model.labEndpointsOf(lab, name)[0])
    expect(first?.address).toBe(second?.address)
    expect(first?.mac).toBe(second?.mac)
    expectHealthy(lab)
  })

  it("removes a local network from one host with host, from all without", () => {
    const lab = labOf(two, network({ name: "n" }))
    const one = mustDo(dropNetwork("n", "host2")(lab)).lab
    expect(Model.labNetworks(one).filter((row) => row.network.name === "n").map((row) => row.host)).toEqual(["host1"])
    expect(refusedWith(dropNetwork("n", "host2")(one))).toBe("NetworkNotFound")
    expect(mustDo(Model.removeLabNetwork(lab, "n")).value.map((row) => row.host)).toEqual(["host1", "host2"])
  })
})

describe("children the kernel refuses", () => {
  it("a second child in passthru mode on one host; the other kind of child on a parent that has one", () => {
    const lab = labOf(
      two,
      macvlan("pass", { parent: "eth0", macvlan_mode: "passthru" }, { subnet: "10.8.0.0/24" }),
      network({ name: "iv", driver: "ipvlan", subnet: "10.9.0.0/24", options: { parent: "eth0" } }),
      container("p1", "host1", "pass"),
    )
    const before = labSnapshot(lab)
    expect(refusedWith(container("p2", "host1", "pass")(lab))).toBe("ParentInUse")
    expect(refusedWith(container("i1", "host1", "iv")(lab))).toBe("ParentInUse")
    expect(labSnapshot(lab)).toBe(before)
    const other = mustDo(container("p2", "host2", "pass")(lab)).lab
    expect(Model.labEndpointsOf(other, "p2")[0]?.address).toBe("10.8.0.2/24")
    expectHealthy(other)
  })

  it("ipvlan children are listed without a MAC: they share their parent's", () => {
    const lab = labOf(two, network({ name: "iv", driver: "ipvlan", subnet: "10.9.0.0/24", options: { parent: "eth0", ipvlan_mode: "l3" } }), container("i1", "host1", "iv"))
    expect(Model.labEndpointsOf(lab, "i1")[0]).toEqual({ container: "i1", network: "iv", aliases: [], address: "10.9.0.2/24", ifname: "eth0", staticAddress: false, host: "host1" })
  })
})

describe("ipvlan l3's own default route", () => {
  const l3 = (name: string, extra: Partial<Model.LabNetworkRequest> = {}) =>
    network({ name, driver: "ipvlan", subnet: "10.9.0.0/24", options: { parent: "eth0", ipvlan_mode: "l3" }, ...extra })

  it("outside an internal network it is the container's only way out: no gateway leg, and no gateway beside it (the kernel's EEXIST, DefaultRouteExists)", () => {
    const lab = labOf(two, l3("iv"), network({ name: "br" }), container("i1", "host1", "iv"))
    expect(Model.labEndpointsOf(lab, "i1").map((e) => e.network)).toEqual(["iv"])
    const before = labSnapshot(lab)
    // the gateway second: "failed to set gateway while updating gateway: file exists"
    expect(refusedWith(join("i1", "br")(lab))).toBe("DefaultRouteExists")
    // the l3 network second: "error setting interface … routes to ["0.0.0.0/0"]: file exists"
    expect(refusedWith(container("b1", "host1", "br", "iv")(lab))).toBe("DefaultRouteExists")
    expect(labSnapshot(lab)).toBe(before)
  })

  it("an internal l3 network routes nothing itself: a bridge beside it takes the container out; one without a parent routes onto its dummy, and a bridge beside it is refused", () => {
    const lab = labOf(
      two,
      l3("inner", { internal: true }),
      network({ name: "bare", driver: "ipvlan", options: { ipvlan_mode: "l3" } }),
      network({ name: "br" }),
      container("i1", "host1", "inner", "br"),
    )
    expect(Model.labEndpointsOf(lab, "i1").map((e) => e.network)).toEqual(["inner", "br"])
    expectHealthy(lab)
    // libnetwork 20.10's ipvlan Join adds `default dev` for any network not internal, a parentless one too (3a4b08f0)
    expect(refusedWith(container("i2", "host2", "bare", "br")(lab))).toBe("DefaultRouteExists")
  })

  it("beside an overlay it meets the docker_gwbridge leg the overlay asks for: refused", () => {
    const lab = swarmOf(2, l3("iv"), network({ name: "ov", driver: "overlay" }), container("o1", "host1", "ov"))
    expect(refusedWith(join("o1", "iv")(lab))).toBe("DefaultRouteExists")
  })

  it("beside a parentless macvlan too: its join set the gateway (onto its dummy) that spares an overlay's container the docker_gwbridge leg", () => {
    const lab = swarmOf(
      2,
      network({ name: "ov", driver: "overlay" }),
      l3("iv"),
      network({ name: "mv", driver: "macvlan", options: { macvlan_mode: "bridge" } }),
      container("c0", "host1", "mv", "ov"),
    )
    expect(Model.gatewayLegOf(lab, "c0")).toBeUndefined()
    const before = labSnapshot(lab)
    expect(refusedWith(join("c0", "iv")(lab))).toBe("DefaultRouteExists")
    expect(labSnapshot(lab)).toBe(before)
  })
})
