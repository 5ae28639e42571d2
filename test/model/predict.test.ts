import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { addressOn, build, ctr, disc, must, net } from "./support.ts"

const icc = (value: string) => ({ "com.docker.network.bridge.enable_icc": value })

const state = build(
  net({ name: "front" }),
  net({ name: "back" }),
  net({ name: "quiet", options: icc("false") }),
  net({ name: "vault", internal: true }),
  net({ name: "ovl", driver: "overlay", subnet: "10.10.0.0/24", options: icc("false") }),
  net({ name: "mac", driver: "macvlan", subnet: "10.20.0.0/24" }),
  ctr("web", "front", "back"),
  ctr("api", "back", "vault"),
  ctr("db", "vault"),
  ctr("q1", "quiet"),
  ctr("q2", "quiet"),
  ctr("o1", "ovl"),
  ctr("o2", "ovl"),
  ctr("m1", "mac"),
  ctr("m2", "mac"),
  ctr("classic", "bridge"),
  ctr("classic2", "bridge"),
  ctr("hostbox", "host"),
  ctr("nonebox", "none"),
  ctr("gone", "front"),
  disc("gone", "front"),
)

const reach = (from: string, to: string, network: string) => Model.predictReach(state, from, to, addressOn(state, to, network)!)

describe("predictReach", () => {
  it("connects containers that share a network, in both directions", () => {
    expect([reach("web", "api", "back"), reach("api", "web", "back"), reach("api", "db", "vault")]).toEqual([true, true, true])
    expect([reach("classic", "classic2", "bridge"), reach("o1", "o2", "ovl"), reach("m1", "m2", "mac")]).toEqual([
      true,
      true,
      true,
    ])
  })

  it("does not route between networks, even through a container on both", () => {
    expect(reach("web", "api", "vault")).toBe(false)
    expect(reach("web", "db", "vault")).toBe(false)
    expect(reach("db", "web", "back")).toBe(false)
    expect(reach("classic", "web", "front")).toBe(false)
  })

  it("blocks members of a bridge with enable_icc=false, but not of other drivers that ignore it", () => {
    expect(reach("q1", "q2", "quiet")).toBe(false)
    expect(reach("o1", "o2", "ovl")).toBe(true)
  })

  it("lets a host container reach every bridge address, internal and icc=false ones included, and nothing else", () => {
    for (const [to, network] of [
      ["web", "front"],
      ["db", "vault"],
      ["q1", "quiet"],
      ["classic", "bridge"],
    ] as const) {
      expect(reach("hostbox", to, network)).toBe(true)
    }
    expect(reach("hostbox", "o1", "ovl")).toBe(false)
    expect(reach("hostbox", "m1", "mac")).toBe(false)
  })

  it("lets nothing out of none or out of a container without endpoints", () => {
    expect(reach("nonebox", "web", "front")).toBe(false)
    expect(reach("gone", "web", "front")).toBe(false)
  })

  it("is false for unknown containers and for addresses that are not the target's", () => {
    expect(Model.predictReach(state, "ghost", "web", addressOn(state, "web", "front")!)).toBe(false)
    expect(Model.predictReach(state, "web", "ghost", "172.18.0.2")).toBe(false)
    expect(Model.predictReach(state, "api", "web", addressOn(state, "api", "back")!)).toBe(false)
    expect(Model.predictReach(state, "api", "web", "8.8.8.8")).toBe(false)
  })

  it("answers a container's own addresses", () => {
    expect(Model.predictReach(state, "q1", "q1", addressOn(state, "q1", "quiet")!)).toBe(true)
  })
})

describe("predictGatewayReach", () => {
  const gateway = (from: string, network: string) => Model.predictGatewayReach(state, from, network)

  it("lets every container on a bridge network reach every bridge's gateway, internal and icc=false ones included", () => {
    for (const from of ["web", "api", "db", "q1", "classic"]) {
      for (const network of ["front", "back", "quiet", "vault", "bridge"]) expect(gateway(from, network), `${from} → ${network}`).toBe(true)
    }
  })

  it("lets a host container reach them too: they are its own addresses", () => {
    expect(["front", "vault", "quiet", "bridge"].map((network) => gateway("hostbox", network))).toEqual([true, true, true, true])
  })

  it("gives none, a container without endpoints, and one only on other drivers no way to the host", () => {
    expect([gateway("nonebox", "front"), gateway("gone", "front"), gateway("o1", "front"), gateway("m1", "bridge")]).toEqual([
      false,
      false,
      false,
      false,
    ])
  })

  it("is false for gateways that are not the host's, networks without one, and unknown names", () => {
    expect([gateway("web", "ovl"), gateway("web", "mac"), gateway("web", "host"), gateway("web", "none")]).toEqual([false, false, false, false])
    expect([gateway("ghost", "front"), gateway("web", "nowhere")]).toEqual([false, false])
  })
})

describe("predictReachMatrix", () => {
  const matrix = Model.predictReachMatrix(state)

  it("lists containers in creation order and every address as a target, grouped by container", () => {
    expect(matrix.containers).toEqual(Model.containers(state).map((container) => container.name))
    const expectedTargets = Model.endpoints(state).flatMap((endpoint) =>
      endpoint.address === undefined
        ? []
        : [{ container: endpoint.container, network: endpoint.network, address: Model.stripPrefix(endpoint.address) }],
    )
    expect(matrix.targets.map(({ container, network, address }) => ({ container, network, address }))).toEqual(expectedTargets)
    const web = matrix.containers.indexOf("web")
    const { first, end } = matrix.targetRange(web)
    expect(matrix.targets.slice(first, end).map((target) => target.network)).toEqual(["front", "back"])
    const hostbox = matrix.targetRange(matrix.containers.indexOf("hostbox"))
    expect(hostbox.end - hostbox.first).toBe(0)
  })

  it("agrees with predictReach on every pair and counts what it holds", () => {
    let entries = 0
    let reachable = 0
    matrix.forEach((from, target, isReachable) => {
      entries++
      if (isReachable) reachable++
      expect(isReachable).toBe(Model.predictReach(state, from, target.container, target.address))
    })
    const ownTargets = matrix.targets.length
    expect(entries).toBe(matrix.containers.length * matrix.targets.length - ownTargets)
    expect(matrix.reachableCount()).toBe(reachable)
    expect(reachable).toBeGreaterThan(0)
  })

  it("never reports a container reaching itself and is false outside its bounds", () => {
    matrix.targets.forEach((target, index) => expect(matrix.reachable(target.containerIndex, index)).toBe(false))
    expect(matrix.reachable(0, matrix.targets.length)).toBe(false)
  })
})

const byAddress = (a: string, b: string): number => Model.parseIPv4(a)! - Model.parseIPv4(b)!

describe("predictResolve", () => {
  const dns = build(
    net({ name: "zeta" }),
    net({ name: "alpha" }),
    net({ name: "inner", internal: true }),
    ctr("client", "zeta", "alpha", "inner", "bridge"),
    ctr("Web", { network: "zeta", aliases: ["svc"] }, { network: "inner", aliases: ["svc"] }),
    ctr("web2", { network: "zeta", aliases: ["SVC"] }, { network: "alpha", aliases: ["svc"] }),
    ctr("db", { network: "inner", aliases: ["store"] }),
    ctr("classic", "bridge"),
    ctr("far", "alpha"),
  )
  const addr = (container: string, network: string) => addressOn(dns, container, network)!

  it("answers container names and aliases case-insensitively", () => {
    expect(Model.predictResolve(dns, "client", "web")).toEqual([addr("Web", "zeta")])
    expect(Model.predictResolve(dns, "client", "DB")).toEqual([addr("db", "inner")])
    expect(Model.predictResolve(dns, "client", "Store")).toEqual([addr("db", "inner")])
  })

  it("answers from the first network in resolver order (non-internal before internal, then by name), with every holder of the name there, sorted", () => {
    // svc is on alpha (web2), zeta (Web, web2) and inner (Web): alpha comes first
    expect(Model.predictResolve(dns, "client", "svc")).toEqual([addr("web2", "alpha")])
    // without alpha, zeta answers with both holders, sorted by address
    const withoutAlpha = Model.predictResolve(
      build(
        net({ name: "zeta" }),
        net({ name: "inner", internal: true }),
        ctr("client", "inner", "zeta"),
        ctr("Web", { network: "zeta", aliases: ["svc"] }, { network: "inner", aliases: ["svc"] }),
        ctr("web2", { network: "zeta", aliases: ["SVC"] }),
      ),
      "client",
      "svc",
    )
    expect(withoutAlpha).toEqual(["172.18.0.3", "172.18.0.4"])
  })

  it("answers only what shares a network with the asker, including itself", () => {
    expect(Model.predictResolve(dns, "far", "db")).toEqual([])
    expect(Model.predictResolve(dns, "far", "far")).toEqual([addr("far", "alpha")])
    expect(Model.predictResolve(dns, "far", "web2")).toEqual([addr("web2", "alpha")])
  })

  it("answers name.network with that network's holders, only when the asker is on it (docs/docker-20.10.md §5)", () => {
    // svc alone answers from alpha; svc.zeta asks zeta only, where Web and web2 hold it
    expect(Model.predictResolve(dns, "client", "svc.zeta")).toEqual([addr("Web", "zeta"), addr("web2", "zeta")].sort(byAddress))
    expect(Model.predictResolve(dns, "client", "web2.zeta")).toEqual([addr("web2", "zeta")])
    expect(Model.predictResolve(dns, "client", "WEB.inner")).toEqual([addr("Web", "inner")])
    // far is not on zeta; nor is anyone on the default bridge served
    expect(Model.predictResolve(dns, "far", "web2.zeta")).toEqual([])
    expect(Model.predictResolve(dns, "client", "classic.bridge")).toEqual([])
    // network names are not case-insensitive, and a network's own name is no record
    expect(Model.predictResolve(dns, "client", "web2.ZETA")).toEqual([])
    expect(Model.predictResolve(dns, "client", "zeta")).toEqual([])
    // a trailing dot is the same query
    expect(Model.predictResolve(dns, "client", "web2.zeta.")).toEqual([addr("web2", "zeta")])
  })

  it("tries a dotted name whole first, then cut from the right: container names and networks may hold dots", () => {
    const dotted = build(
      net({ name: "n.1" }),
      net({ name: "x" }),
      ctr("asker", "n.1", "x"),
      ctr("aa.bb", "n.1"),
      ctr("aa", { network: "x", aliases: ["aa.bb.n.1"] }),
    )
    // whole name first: the alias aa.bb.n.1 on x wins over "aa.bb" on network "n.1"
    expect(Model.predictResolve(dotted, "asker", "aa.bb.n.1")).toEqual([addressOn(dotted, "aa", "x")])
    expect(Model.predictResolve(dotted, "asker", "AA.BB")).toEqual([addressOn(dotted, "aa.bb", "n.1")])
    expect(Model.predictResolve(dotted, "asker", "aa.bb.x")).toEqual([])
    expect(Model.predictResolve(dotted, "asker", "aa.x")).toEqual([addressOn(dotted, "aa", "x")])
    // "aa.bb" on n.1 when the whole name is nobody's
    const plain = must(Model.disconnect(dotted, "aa", "x")).state
    expect(Model.predictResolve(plain, "asker", "aa.bb.n.1")).toEqual([addressOn(plain, "aa.bb", "n.1")])
  })

  it("has no answers on the default bridge, nor for unknown names or containers", () => {
    expect(Model.predictResolve(dns, "classic", "client")).toEqual([])
    expect(Model.predictResolve(dns, "client", "classic")).toEqual([])
    expect(Model.predictResolve(dns, "client", "nobody")).toEqual([])
    expect(Model.predictResolve(dns, "ghost", "web")).toEqual([])
  })

  it("sorts several holders numerically, not as text", () => {
    let many = build(net({ name: "n", subnet: "10.0.0.0/24" }), ctr("asker", "n"))
    for (const ip of ["10.0.0.10", "10.0.0.9", "10.0.0.100"]) {
      many = must(ctr(`c${ip.replaceAll(".", "-")}`, { network: "n", ip, aliases: ["pool"] })(many)).state
    }
    expect(Model.predictResolve(many, "asker", "pool")).toEqual(["10.0.0.9", "10.0.0.10", "10.0.0.100"])
  })
})
