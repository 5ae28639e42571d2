/**
 * Reach across hosts as the reference measured it on Docker 20.10 (multihost-20.10.md, "Measured";
 * docs/docker-20.10.md §4 for one host): overlay everywhere, macvlan never to its own host and
 * per mode between siblings, bridges to their host (internal ones too) and beyond it when not
 * internal, ipvlan l2 and l3, and the races of an address held twice.
 */
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { addressOf, container, hostsNamed, labOf, network, swarmOf } from "./lab-support.ts"

const reach = (lab: Model.LabState, from: string, to: string, net: string) => Model.predictLabReach(lab, from, to, addressOf(lab, to, net) as string)
const toHost = (lab: Model.LabState, from: string, host: string) => Model.predictLabReachHost(lab, from, host)
const underlay = "192.168.99.0/24"

describe("overlay", () => {
  const lab = swarmOf(
    3,
    network({ name: "ov", driver: "overlay" }),
    network({ name: "inner", driver: "overlay", internal: true }),
    container("o1", "host1", "ov"),
    container("o2", "host2", "ov"),
    container("o3", "host2", "ov"),
    container("i1", "host1", "inner"),
    container("i3", "host3", "inner"),
  )

  it("joins containers on any host, internal networks too, and nothing across networks", () => {
    expect([reach(lab, "o1", "o2", "ov"), reach(lab, "o2", "o1", "ov"), reach(lab, "o2", "o3", "ov")]).toEqual([true, true, true])
    expect([reach(lab, "i1", "i3", "inner"), reach(lab, "i3", "i1", "inner")]).toEqual([true, true])
    expect([reach(lab, "o1", "i1", "inner"), reach(lab, "i1", "o1", "ov")]).toEqual([false, false])
  })

  it("reaches every host through the gateway leg; an internal-only container reaches none", () => {
    expect(["host1", "host2", "host3"].map((host) => toHost(lab, "o2", host))).toEqual([true, true, true])
    expect(["host1", "host2", "host3"].map((host) => toHost(lab, "i1", host))).toEqual([false, false, false])
  })
})

describe("bridge across hosts", () => {
  const lab = labOf(
    { hosts: hostsNamed(2) },
    network({ name: "vault", internal: true, hosts: ["host1"] }),
    network({ name: "mv", driver: "macvlan", subnet: underlay, gateway: "192.168.99.254", options: { parent: "eth0" }, hosts: [{ host: "host1", ipRange: "192.168.99.128/27" }, { host: "host2", ipRange: "192.168.99.160/27" }] }),
    container("b1", "host1", "bridge"),
    container("b2", "host2", "bridge"),
    container("v1", "host1", "vault"),
    container("m1", "host1", "mv"),
    container("m2", "host2", "mv"),
    container("hostbox", "host1", "host"),
  )

  it("reaches its own host's underlay address, internal networks too, and other hosts when not internal", () => {
    expect([toHost(lab, "b1", "host1"), toHost(lab, "b1", "host2")]).toEqual([true, true])
    expect([toHost(lab, "v1", "host1"), toHost(lab, "v1", "host2")]).toEqual([true, false])
  })

  it("does not join two hosts' networks of one name: both hand out 172.17.0.2, which is each one's own", () => {
    expect(addressOf(lab, "b1", "bridge")).toBe(addressOf(lab, "b2", "bridge"))
    expect(reach(lab, "b1", "b2", "bridge")).toBe(true)
    expect(Model.predictLabReachMatrix(lab).filter((row) => row.from === "b1" && row.to === "b2")).toEqual([
      { from: "b1", to: "b2", network: "bridge", address: "172.17.0.2", reachable: true },
    ])
  })

  it("reaches the macvlan children of other hosts, masqueraded out of eth0, never those of its own host", () => {
    expect([reach(lab, "b1", "m1", "mv"), reach(lab, "b1", "m2", "mv"), reach(lab, "b2", "m1", "mv")]).toEqual([false, true, true])
    expect([reach(lab, "v1", "m2", "mv")]).toEqual([false])
  })

  it("a host container is the host: every bridge of its host, the children of other hosts", () => {
    expect([reach(lab, "hostbox", "v1", "vault"), reach(lab, "hostbox", "b1", "bridge")]).toEqual([true, true])
    expect([reach(lab, "hostbox", "m1", "mv"), reach(lab, "hostbox", "m2", "mv")]).toEqual([false, true])
    expect([toHost(lab, "hostbox", "host1"), toHost(lab, "hostbox", "host2")]).toEqual([true, true])
  })
})

describe("macvlan", () => {
  const build = (mode: string) =>
    labOf(
      { hosts: hostsNamed(3) },
      network({
        name: "mv",
        driver: "macvlan",
        subnet: underlay,
        gateway: "192.168.99.254",
        options: { parent: "eth0", macvlan_mode: mode },
        hosts: [{ host: "host1", ipRange: "192.168.99.128/27" }, { host: "host2", ipRange: "192.168.99.160/27" }],
      }),
      container("a1", "host1", "mv"),
      container("a2", "host1", "mv"),
      container("b1", "host2", "mv"),
    )

  it.each(["bridge", "private", "vepa"])("%s: a child never reaches its own host and reaches every other host", (mode) => {
    const lab = build(mode)
    expect(["host1", "host2", "host3"].map((host) => toHost(lab, "a1", host))).toEqual([false, true, true])
    expect(["host1", "host2", "host3"].map((host) => toHost(lab, "b1", host))).toEqual([true, false, true])
  })

  it.each([
    ["bridge", true],
    ["private", false],
    ["vepa", false],
  ] as const)("%s: siblings on one host reach each other: %s; across hosts they do", (mode, siblings) => {
    const lab = build(mode)
    expect([reach(lab, "a1", "a2", "mv"), reach(lab, "a2", "a1", "mv")]).toEqual([siblings, siblings])
    expect([reach(lab, "a1", "b1", "mv"), reach(lab, "b1", "a2", "mv")]).toEqual([true, true])
  })

  it("on a dummy parent reaches its siblings and nothing else; on eth0.10 the children of eth0.10 on other hosts only", () => {
    const lab = labOf(
      { hosts: hostsNamed(2) },
      network({ name: "lonely", driver: "macvlan", subnet: "10.30.0.0/24" }),
      network({ name: "tag", driver: "macvlan", subnet: underlay, gateway: "192.168.99.254", options: { parent: "eth0.10" }, hosts: [{ host: "host1", ipRange: "192.168.99.128/27" }, { host: "host2", ipRange: "192.168.99.160/27" }] }),
      network({ name: "plain", driver: "macvlan", subnet: "10.31.0.0/24", options: { parent: "eth0" } }),
      container("d1", "host1", "lonely"),
      container("d2", "host1", "lonely"),
      container("d3", "host2", { network: "lonely", ip: "10.30.0.9" }),
      container("t1", "host1", "tag"),
      container("t2", "host2", "tag"),
    )
    expect([reach(lab, "d1", "d2", "lonely"), reach(lab, "d1", "d3", "lonely")]).toEqual([true, false])
    expect([toHost(lab, "d1", "host1"), toHost(lab, "d1", "host2")]).toEqual([false, false])
    expect([reach(lab, "t1", "t2", "tag"), toHost(lab, "t1", "host2")]).toEqual([true, false])
  })

  it("on a dummy parent still sets its gateway: named first, it takes the default route, onto the dummy, where nothing answers; named after a bridge, the bridge's wins", () => {
    const lab = labOf(
      { hosts: hostsNamed(2) },
      network({ name: "a-lonely", driver: "macvlan", subnet: "10.30.0.0/24" }),
      network({ name: "b-front" }),
      network({ name: "c-late", driver: "macvlan", subnet: "10.31.0.0/24" }),
      container("d1", "host1", "a-lonely", "b-front"),
      container("d2", "host1", "b-front", "c-late"),
    )
    // libnetwork 20.10 (a543cbc4) gives a parentless network a dummy and nothing else: it is not internal, its join sets the gateway
    expect([toHost(lab, "d1", "host1"), toHost(lab, "d1", "host2")]).toEqual([false, false])
    expect([toHost(lab, "d2", "host1"), toHost(lab, "d2", "host2")]).toEqual([true, true])
  })

  it("a private child pinging an address that a sibling and another host's child both hold races: their one MAC is on two underlay ports", () => {
    const lab = labOf(
      { hosts: hostsNamed(2) },
      network({ name: "tag", driver: "macvlan", subnet: "10.110.0.0/24", gateway: "10.110.0.254", options: { parent: "eth0.10", macvlan_mode: "private" } }),
      container("far", "host2", "tag"),
      container("near", "host1", "tag"),
      container("asker", "host1", "tag"),
    )
    // each host's IPAM hands out 10.110.0.1: far and near hold it, with one MAC
    expect(addressOf(lab, "far", "tag")).toBe(addressOf(lab, "near", "tag"))
    expect(reach(lab, "asker", "far", "tag")).toBeUndefined()
  })

  it("when two hosts hand out one address, whoever else pings it races; its holders answer themselves", () => {
    const lab = labOf(
      { hosts: hostsNamed(3) },
      network({ name: "mv", driver: "macvlan", subnet: underlay, gateway: "192.168.99.254", options: { parent: "eth0", macvlan_mode: "private" } }),
      container("x1", "host1", "mv"),
      container("x2", "host2", "mv"),
      container("x3", "host3", { network: "mv", ip: "192.168.99.200" }),
    )
    // the lowest free address is .1: host1's own underlay address
    expect([addressOf(lab, "x1", "mv"), addressOf(lab, "x2", "mv")]).toEqual(["192.168.99.1", "192.168.99.1"])
    // three stations answer for .1 on the underlay: host1, x1 and x2
    expect(reach(lab, "x3", "x1", "mv")).toBeUndefined()
    expect(toHost(lab, "x3", "host1")).toBeUndefined()
    expect(reach(lab, "x1", "x2", "mv")).toBe(true)
    // x1 asks for host2 from an address it shares: the reply may go to the other holder
    expect(toHost(lab, "x1", "host2")).toBeUndefined()
    expect(toHost(lab, "x3", "host2")).toBe(true)
  })

  it("a MAC twin on another host makes the source's pings a race: on the twin's host its macvlan hands the request to the twin, elsewhere the reply may go to either", () => {
    const mv = network({ name: "mv", driver: "macvlan", subnet: underlay, gateway: "192.168.99.254", options: { parent: "eth0", macvlan_mode: "private" } })
    const steps = [
      container("asker", "host2", { network: "mv", ip: "192.168.99.130" }),
      container("beside", "host1", { network: "mv", ip: "192.168.99.140" }),
      container("away", "host3", { network: "mv", ip: "192.168.99.150" }),
    ]
    const alone = labOf({ hosts: hostsNamed(3) }, mv, ...steps)
    expect([reach(alone, "asker", "beside", "mv"), reach(alone, "asker", "away", "mv"), toHost(alone, "asker", "host1")]).toEqual([true, true, true])
    const twinned = labOf({ hosts: hostsNamed(3) }, mv, ...steps, container("twin", "host1", { network: "mv", ip: "192.168.99.130" }))
    expect([reach(twinned, "asker", "beside", "mv"), reach(twinned, "asker", "away", "mv"), toHost(twinned, "asker", "host1")]).toEqual([undefined, undefined, undefined])
  })

  it("a MAC twin of the replier on the asking host makes a host's ping a race: the replier's ARP request for the host goes to the twin alone there", () => {
    const mv = network({ name: "mv", driver: "macvlan", subnet: underlay, gateway: "192.168.99.254", options: { parent: "eth0", macvlan_mode: "private" } })
    const steps = [container("asker", "host1", "bridge"), container("replier", "host2", { network: "mv", ip: "192.168.99.130" })]
    const alone = labOf({ hosts: hostsNamed(2) }, mv, ...steps)
    expect(reach(alone, "asker", "replier", "mv")).toBe(true)
    const twinned = labOf({ hosts: hostsNamed(2) }, mv, ...steps, container("twin", "host1", { network: "mv", ip: "192.168.99.130" }))
    expect(reach(twinned, "asker", "replier", "mv")).toBeUndefined()
  })

  it("passthru on eth0 takes the host's underlay: nobody reaches that host any more", () => {
    const lab = swarmOf(
      2,
      network({ name: "pass", driver: "macvlan", subnet: underlay, gateway: "192.168.99.254", options: { parent: "eth0", macvlan_mode: "passthru" }, hosts: [{ host: "host2", ipRange: "192.168.99.160/27" }] }),
      network({ name: "ov", driver: "overlay" }),
      container("o1", "host1", "ov"),
      container("o2", "host2", "ov"),
      container("pt", "host2", "pass"),
    )
    expect([toHost(lab, "o1", "host2"), toHost(lab, "pt", "host1")]).toEqual([false, true])
    expect([reach(lab, "o1", "o2", "ov"), reach(lab, "o1", "pt", "pass")]).toEqual([false, true])
  })
})

describe("ipvlan", () => {
  const build = (mode: "l2" | "l3") =>
    labOf(
      { hosts: hostsNamed(2) },
      network({ name: "iv", driver: "ipvlan", subnet: underlay, gateway: "192.168.99.254", options: { parent: "eth0", ipvlan_mode: mode }, hosts: [{ host: "host1", ipRange: "192.168.99.128/27" }, { host: "host2", ipRange: "192.168.99.160/27" }] }),
      container("i1", "host1", "iv"),
      container("i2", "host1", "iv"),
      container("j1", "host2", "iv"),
    )

  it("l2: siblings and other hosts' children, other hosts, never its own", () => {
    const lab = build("l2")
    expect([reach(lab, "i1", "i2", "iv"), reach(lab, "i1", "j1", "iv")]).toEqual([true, true])
    expect([toHost(lab, "i1", "host1"), toHost(lab, "i1", "host2")]).toEqual([false, true])
  })

  it("l3: its siblings only; no host has a route back", () => {
    const lab = build("l3")
    expect([reach(lab, "i1", "i2", "iv"), reach(lab, "i1", "j1", "iv")]).toEqual([true, false])
    expect([toHost(lab, "i1", "host1"), toHost(lab, "i1", "host2")]).toEqual([false, false])
  })
})

describe("the matrices", () => {
  const lab = swarmOf(2, network({ name: "ov", driver: "overlay" }), container("o1", "host1", "ov"), container("o2", "host2", "ov", "bridge"), container("n1", "host1", "none"))

  it("list every ordered pair and every listed address, legs and load balancers left out", () => {
    const rows = Model.predictLabReachMatrix(lab)
    expect(rows.map((row) => `${row.from}>${row.to}@${row.network}=${row.reachable}`)).toEqual([
      "o1>o2@ov=true",
      "o1>o2@bridge=false",
      "o2>o1@ov=true",
      "n1>o1@ov=false",
      "n1>o2@ov=false",
      "n1>o2@bridge=false",
    ])
  })

  it("list every container against every host's underlay address", () => {
    expect(Model.predictLabReachHosts(lab).map((row) => `${row.from}>${row.host}(${row.address})=${row.reachable}`)).toEqual([
      "o1>host1(192.168.99.1)=true",
      "o1>host2(192.168.99.2)=true",
      "o2>host1(192.168.99.1)=true",
      "o2>host2(192.168.99.2)=true",
      "n1>host1(192.168.99.1)=false",
      "n1>host2(192.168.99.2)=false",
    ])
  })
})

describe("masquerade", () => {
  it("is what takes a bridge container's ping to another host: without it the reply has no way back", () => {
    const lab = labOf(
      { hosts: hostsNamed(2) },
      network({ name: "plain", hosts: ["host1"], options: { "com.docker.network.bridge.enable_ip_masquerade": "false" } }),
      container("b1", "host1", "plain"),
    )
    expect([toHost(lab, "b1", "host1"), toHost(lab, "b1", "host2")]).toEqual([true, false])
  })
})
