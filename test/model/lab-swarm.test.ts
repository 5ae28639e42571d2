/**
 * A swarm as Docker 20.10 builds its networking, checked against what the reference measured
 * (../shared/reference/multihost-20.10.md, "Measured"): ingress and docker_gwbridge on every host,
 * swarm's IPAM and VNIs, load-balancer addresses, gateway legs, DNS across hosts.
 */
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import {
  addressOf,
  balancerOf,
  container,
  dropNetwork,
  expectHealthy,
  join,
  labOf,
  labSnapshot,
  leave,
  mustDo,
  network,
  refusedWith,
  remove,
  swarmOf,
} from "./lab-support.ts"

const rowsNamed = (lab: Model.LabState, name: string) => Model.labNetworks(lab).filter((row) => row.network.name === name)
const legOf = (lab: Model.LabState, name: string) => Model.gatewayLegOf(lab, name)

describe("swarm: true", () => {
  const lab = swarmOf(3)

  it("gives every host ingress (swarm scope, 10.0.0.0/24, VNI 4096) with an ingress address in join order", () => {
    expect(rowsNamed(lab, "ingress")).toEqual([{ network: expect.objectContaining({ subnet: "10.0.0.0/24", gateway: "10.0.0.1", driver: "overlay" }), scope: "swarm" }])
    expect(Model.overlayInfo(lab, "ingress")).toEqual({ vni: 4096, mtu: 1450, encrypted: false })
    expect(["host1", "host2", "host3"].map((host) => balancerOf(lab, "ingress", host))).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4"])
    expectHealthy(lab)
  })

  it("gives every host docker_gwbridge from the next local pool, ICC off, masquerade on; the ingress sandbox's leg takes .2", () => {
    const rows = rowsNamed(lab, "docker_gwbridge")
    expect(rows.map((row) => [row.host, row.scope, row.network.subnet, row.network.gateway])).toEqual([
      ["host1", "local", "172.18.0.0/16", "172.18.0.1"],
      ["host2", "local", "172.18.0.0/16", "172.18.0.1"],
      ["host3", "local", "172.18.0.0/16", "172.18.0.1"],
    ])
    expect(rows[0]?.network.options).toEqual({
      "com.docker.network.bridge.name": "docker_gwbridge",
      "com.docker.network.bridge.enable_icc": "false",
      "com.docker.network.bridge.enable_ip_masquerade": "true",
    })
    const sandbox = Model.systemSandboxes(lab, "host2").find((entry) => entry.name.includes("ingress"))
    expect(sandbox?.endpoints.map((endpoint) => [endpoint.network, endpoint.address])).toEqual([
      ["ingress", "10.0.0.3/24"],
      ["docker_gwbridge", "172.18.0.2/16"],
    ])
  })

  it("lists the predefined networks once per host, and nothing of the swarm without it", () => {
    expect(rowsNamed(lab, "bridge").map((row) => row.host)).toEqual(["host1", "host2", "host3"])
    const plain = labOf({ hosts: [{ name: "a" }, { name: "b" }] })
    expect(Model.labNetworks(plain).map((row) => row.network.name)).toEqual(["bridge", "bridge", "host", "host", "none", "none"])
    expect(Model.loadBalancers(plain)).toEqual([])
  })

  it("puts hosts at the underlay's Nth address unless given, with the underlay's prefix", () => {
    const given = labOf({ underlay: "10.9.0.0/16", hosts: [{ name: "a" }, { name: "b", address: "10.9.5.5/24" }, { name: "c" }] })
    expect(Model.labHosts(given)).toEqual([
      { name: "a", address: "10.9.0.1", prefix: 16 },
      { name: "b", address: "10.9.5.5", prefix: 24 },
      { name: "c", address: "10.9.0.3", prefix: 16 },
    ])
    expect(Model.labHosts(labOf({})).map((host) => [host.name, host.address])).toEqual([["host1", "192.168.99.1"]])
  })
})

describe("overlay networks", () => {
  it("take swarm's pools after ingress, VNIs from 4097, MTU 1450 (encrypted 1424), and are listed once", () => {
    const lab = swarmOf(
      2,
      network({ name: "ov", driver: "overlay" }),
      network({ name: "sec", driver: "overlay", options: { encrypted: "" } }),
      network({ name: "big", driver: "overlay", options: { "com.docker.network.driver.mtu": "9000" } }),
    )
    expect(["ov", "sec", "big"].map((name) => rowsNamed(lab, name).map((row) => [row.scope, row.network.subnet, row.network.gateway]))).toEqual([
      [["swarm", "10.0.1.0/24", "10.0.1.1"]],
      [["swarm", "10.0.2.0/24", "10.0.2.1"]],
      [["swarm", "10.0.3.0/24", "10.0.3.1"]],
    ])
    expect(["ov", "sec", "big"].map((name) => Model.overlayInfo(lab, name))).toEqual([
      { vni: 4097, mtu: 1450, encrypted: false },
      { vni: 4098, mtu: 1424, encrypted: true },
      { vni: 4099, mtu: 8950, encrypted: false },
    ])
    expect(Model.labNetwork(lab, "host2", "ov")?.options).toEqual({ "com.docker.network.driver.overlay.vxlanid_list": "4097" })
    expectHealthy(lab)
  })

  it("take the VNI vxlanid_list asks for, refuse one in use, and hand VNIs out serially", () => {
    const lab = swarmOf(1, network({ name: "fixed", driver: "overlay", options: { "com.docker.network.driver.overlay.vxlanid_list": "5000" } }))
    expect(Model.overlayInfo(lab, "fixed")?.vni).toBe(5000)
    const taken = Model.createLabNetwork(lab, { name: "again", driver: "overlay", options: { "com.docker.network.driver.overlay.vxlanid_list": "5000" } })
    expect(refusedWith(taken)).toBe("InvalidOption")
    // a specific VNI does not move the allocator's cursor: the next automatic one is 4097
    const next = mustDo(Model.createLabNetwork(lab, { name: "auto", driver: "overlay" })).lab
    expect(Model.overlayInfo(next, "auto")?.vni).toBe(4097)
    // freed, 4097 is not handed out again at once
    const freed = mustDo(Model.createLabNetwork(mustDo(Model.removeLabNetwork(next, "auto")).lab, { name: "later", driver: "overlay" })).lab
    expect(Model.overlayInfo(freed, "later")?.vni).toBe(4098)
  })

  it("do not reuse a freed pool at once", () => {
    const lab = swarmOf(1, network({ name: "a", driver: "overlay" }), network({ name: "b", driver: "overlay" }), dropNetwork("a"))
    const next = mustDo(Model.createLabNetwork(lab, { name: "c", driver: "overlay" })).lab
    expect(Model.labNetwork(next, "host1", "c")?.subnet).toBe("10.0.3.0/24")
  })

  it("overlap only other swarm networks: a local bridge may take an overlay's subnet", () => {
    const lab = swarmOf(1, network({ name: "ov", driver: "overlay", subnet: "10.50.0.0/24" }))
    expect(refusedWith(Model.createLabNetwork(lab, { name: "ov2", driver: "overlay", subnet: "10.50.0.0/25" }))).toBe("SubnetOverlap")
    expect(Model.createLabNetwork(lab, { name: "br", subnet: "10.50.0.0/24" }).ok).toBe(true)
  })
})

describe("containers on overlay networks", () => {
  const base = swarmOf(3, network({ name: "ov", driver: "overlay" }))

  it("take addresses serially: a host's first container, then that host's load balancer", () => {
    const lab = labOf(
      { hosts: [{ name: "host1" }, { name: "host2" }, { name: "host3" }], swarm: true },
      network({ name: "ov", driver: "overlay" }),
      container("c1", "host1", "ov"),
      container("c2", "host2", "ov"),
      container("c3", "host1", "ov"),
    )
    expect([addressOf(lab, "c1", "ov"), balancerOf(lab, "ov", "host1"), addressOf(lab, "c2", "ov"), balancerOf(lab, "ov", "host2"), addressOf(lab, "c3", "ov")]).toEqual([
      "10.0.1.2",
      "10.0.1.3",
      "10.0.1.4",
      "10.0.1.5",
      "10.0.1.6",
    ])
    expect(balancerOf(lab, "ov", "host3")).toBeUndefined()
    expect(Model.labEndpoints(lab).map((endpoint) => [endpoint.container, endpoint.host])).toEqual([
      ["c1", "host1"],
      ["c2", "host2"],
      ["c3", "host1"],
    ])
    expectHealthy(lab)
  })

  it("release the load balancer with the host's last container, and never hand a freed address out at once", () => {
    const lab = labOf({ hosts: [{ name: "host1" }, { name: "host2" }], swarm: true },
      network({ name: "ov", driver: "overlay" }),
      container("c1", "host1", "ov"),
      container("c2", "host2", "ov"),
      remove("c2"),
    )
    expect(balancerOf(lab, "ov", "host2")).toBeUndefined()
    expect(balancerOf(lab, "ov", "host1")).toBe("10.0.1.3")
    const next = mustDo(container("c3", "host2", "ov")(lab)).lab
    expect([addressOf(next, "c3", "ov"), balancerOf(next, "ov", "host2")]).toEqual(["10.0.1.6", "10.0.1.7"])
    expectHealthy(next)
  })

  it("get a docker_gwbridge leg while nothing else gives a way out: eth0, eth1, then eth2, never reused", () => {
    let lab = mustDo(container("c1", "host1", "ov")(base)).lab
    expect(Model.labEndpointsOf(lab, "c1").map((endpoint) => [endpoint.network, endpoint.ifname])).toEqual([["ov", "eth0"]])
    expect(legOf(lab, "c1")).toMatchObject({ network: "docker_gwbridge", address: "172.18.0.3/16", ifname: "eth1" })
    lab = mustDo(join("c1", "bridge")(lab)).lab
    expect(legOf(lab, "c1")).toBeUndefined()
    expect(Model.labEndpointsOf(lab, "c1").map((endpoint) => [endpoint.network, endpoint.ifname])).toEqual([
      ["ov", "eth0"],
      ["bridge", "eth2"],
    ])
    lab = mustDo(leave("c1", "bridge")(lab)).lab
    expect(legOf(lab, "c1")).toMatchObject({ address: "172.18.0.3/16", ifname: "eth3" })
    expectHealthy(lab)
  })

  it("give no leg to a container on an internal overlay only, nor to one that starts on a bridge", () => {
    const lab = labOf({ hosts: [{ name: "host1" }], swarm: true },
      network({ name: "ov", driver: "overlay" }),
      network({ name: "inner", driver: "overlay", internal: true }),
      container("quiet", "host1", "inner"),
      container("mixed", "host1", "bridge", "ov"),
    )
    expect([legOf(lab, "quiet"), legOf(lab, "mixed")]).toEqual([undefined, undefined])
    expect(Model.labContainers(lab).map((row) => row.container.networks)).toEqual([["inner"], ["bridge", "ov"]])
  })

  it("refuse a static address that is taken at once (AddressInUse), and a network still used on another host", () => {
    const lab = labOf({ hosts: [{ name: "host1" }, { name: "host2" }], swarm: true },
      network({ name: "ov", driver: "overlay", subnet: "10.60.0.0/24" }),
      container("c1", "host2", { network: "ov", ip: "10.60.0.9" }),
    )
    const before = labSnapshot(lab)
    expect(refusedWith(container("c2", "host1", { network: "ov", ip: "10.60.0.9" })(lab))).toBe("AddressInUse")
    expect(refusedWith(dropNetwork("ov")(lab))).toBe("ActiveEndpoints")
    expect(labSnapshot(lab)).toBe(before)
  })

  it("are refused on ingress, and docker_gwbridge legs are not theirs to disconnect", () => {
    const lab = mustDo(container("c1", "host1", "ov")(base)).lab
    expect(refusedWith(container("c9", "host1", "ingress")(lab))).toBe("PredefinedNetwork")
    expect(refusedWith(join("c1", "ingress")(lab))).toBe("PredefinedNetwork")
    expect(refusedWith(leave("c1", "docker_gwbridge")(lab))).toBe("NotConnected")
  })

  it("resolve each other's names and a shared alias across hosts; a local network only on its own host", () => {
    const lab = labOf({ hosts: [{ name: "host1" }, { name: "host2" }, { name: "host3" }], swarm: true },
      network({ name: "ov", driver: "overlay" }),
      network({ name: "loc" }),
      container("ca", "host1", { network: "ov", aliases: ["svc"] }, "loc"),
      container("cb", "host2", { network: "ov", aliases: ["svc"] }, "loc"),
      container("cc", "host3", { network: "ov", aliases: ["svc"] }),
    )
    expect(Model.predictLabResolve(lab, "ca", "cb")).toEqual([addressOf(lab, "cb", "ov")])
    expect(Model.predictLabResolve(lab, "cc", "svc")).toEqual(["ca", "cb", "cc"].map((name) => addressOf(lab, name, "ov")))
    expect(Model.predictLabResolve(lab, "ca", "cb.loc")).toEqual([])
    expect(Model.predictLabResolve(lab, "ca", "cb.ov")).toEqual([addressOf(lab, "cb", "ov")])
    // hosts hand out the same local address; each host's DNS knows only its own
    expect(addressOf(lab, "ca", "loc")).toBe(addressOf(lab, "cb", "loc"))
    expect(Model.predictLabResolve(lab, "ca", "ca.loc")).toEqual([addressOf(lab, "ca", "loc")])
    expect(Model.predictLabResolve(lab, "ca", "lb-ov")).toEqual([])
  })

  it("answer from a sandbox's swarm networks first: a container on a bridge and an overlay network is found at its overlay address", () => {
    // "alpha" comes before "ov" in sandbox order; DNS still asks the overlay first (libnetwork's ResolveName)
    const lab = labOf({ hosts: [{ name: "host1" }, { name: "host2" }], swarm: true },
      network({ name: "ov", driver: "overlay" }),
      network({ name: "alpha" }),
      container("ca", "host1", "alpha", "ov"),
      container("cb", "host1", "alpha", "ov"),
    )
    expect(Model.predictLabResolve(lab, "ca", "cb")).toEqual([addressOf(lab, "cb", "ov")])
    expect(Model.predictLabResolve(lab, "ca", "ca")).toEqual([addressOf(lab, "ca", "ov")])
    expect(Model.predictLabResolve(lab, "ca", "cb.alpha")).toEqual([addressOf(lab, "cb", "alpha")])
  })

  it("give gateway legs no names: a container on docker_gwbridge itself does not find an overlay container's leg", () => {
    const lab = labOf({ hosts: [{ name: "host1" }, { name: "host2" }], swarm: true },
      network({ name: "ov", driver: "overlay" }),
      container("cg", "host1", "docker_gwbridge"),
      container("co", "host1", "ov"),
    )
    expect(Model.gatewayLegOf(lab, "co")?.network).toBe("docker_gwbridge")
    expect(Model.predictLabResolve(lab, "cg", "co")).toEqual([])
    expect(Model.predictLabResolve(lab, "cg", "cg")).toEqual([addressOf(lab, "cg", "docker_gwbridge")])
  })

  it("program every remote endpoint as a peer, load balancers included, towards its host's underlay address", () => {
    const lab = labOf({ hosts: [{ name: "host1" }, { name: "host2" }], swarm: true }, network({ name: "ov", driver: "overlay" }), container("c1", "host1", "ov"), container("c2", "host2", "ov"))
    expect(Model.overlayPeers(lab, "ov", "host1").map((peer) => [peer.address, peer.vtep])).toEqual([
      ["10.0.1.4", "192.168.99.2"],
      ["10.0.1.5", "192.168.99.2"],
    ])
    expect(Model.overlayPeers(lab, "ov", "host2").map((peer) => peer.mac)).toEqual(["02:42:0a:00:01:02", "02:42:0a:00:01:03"])
  })
})
