import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { addressOn, build, conn, ctr, disc, must, net, refusal, snapshot } from "./support.ts"

describe("a fresh host", () => {
  it("has Docker's three predefined networks, in that order", () => {
    const state = Model.initialState()
    expect(
      Model.networks(state).map(({ name, driver, subnet, gateway, predefined }) => ({
        name,
        driver,
        subnet,
        gateway,
        predefined,
      })),
    ).toEqual([
      { name: "bridge", driver: "bridge", subnet: "172.17.0.0/16", gateway: "172.17.0.1", predefined: true },
      { name: "host", driver: "host", subnet: undefined, gateway: undefined, predefined: true },
      { name: "none", driver: "null", subnet: undefined, gateway: undefined, predefined: true },
    ])
    expect(Model.network(state, "bridge")?.options["com.docker.network.bridge.name"]).toBe("docker0")
    expect(Model.containers(state)).toEqual([])
    expect(Model.endpoints(state)).toEqual([])
  })

  it("gives networks 64-hex ids, distinct, and the same ones on every replay", () => {
    const run = () => build(net({ name: "a" }), net({ name: "b", subnet: "10.1.0.0/24" }))
    const ids = Model.networks(run()).map((network) => network.id)
    expect(ids.every((id) => /^[0-9a-f]{64}$/.test(id))).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
    expect(Model.networks(run()).map((network) => network.id)).toEqual(ids)
  })
})

describe("networks", () => {
  it("record what was asked, normalized", () => {
    const state = build(
      net({
        name: "a",
        subnet: "10.1.0.9/24",
        gateway: "10.1.0.254",
        ipRange: "10.1.0.130/26",
        internal: true,
        options: { x: "y" },
      }),
    )
    expect(Model.network(state, "a")).toMatchObject({
      name: "a",
      driver: "bridge",
      subnet: "10.1.0.0/24",
      // Docker lists the subnet as written, host bits included
      configuredSubnet: "10.1.0.9/24",
      gateway: "10.1.0.254",
      ipRange: "10.1.0.128/26",
      userSubnet: true,
      internal: true,
      predefined: false,
      options: { x: "y" },
      seq: 3,
    })
  })

  it("are frozen, like containers and endpoints: nobody can edit what later states share", () => {
    const state = build(
      net({ name: "a" }),
      ctr("web", { network: "a", aliases: ["www"] }),
      ctr("box", "none"),
      ctr("gone", "a"),
      disc("gone", "a"),
    )
    const network = Model.network(state, "a")!
    const frozen: Array<object> = [
      network,
      network.options,
      Model.container(state, "web")!,
      Model.container(state, "web")!.networks,
    ]
    frozen.push(Model.endpointsOf(state, "web"), Model.endpointsOf(state, "web")[0]!, Model.endpointsOf(state, "web")[0]!.aliases)
    frozen.push(Model.endpointsOf(state, "box")[0]!, Model.container(state, "gone")!, Model.endpointsOf(state, "gone"))
    for (const value of frozen) expect(Object.isFrozen(value)).toBe(true)
    expect(() => (Model.endpointsOf(state, "web") as Array<Model.Endpoint>).push(Model.endpointsOf(state, "web")[0]!)).toThrow(
      TypeError,
    )
  })

  it("can be removed once their last endpoint left, and the name can be used again", () => {
    let state = build(net({ name: "a" }), ctr("web", "a"))
    expect(refusal(Model.removeNetwork(state, "a"))).toBe("ActiveEndpoints")
    state = must(disc("web", "a")(state)).state
    const removed = must(Model.removeNetwork(state, "a"))
    expect(removed.value.name).toBe("a")
    expect(Model.network(removed.state, "a")).toBeUndefined()
    expect(Model.networks(removed.state).map((network) => network.name)).toEqual(["bridge", "host", "none"])
    expect(must(net({ name: "a" })(removed.state)).value.subnet).toBe("172.19.0.0/16")
  })
})

describe("containers", () => {
  it("go to the default bridge when no network is given", () => {
    for (const request of [{ name: "web" }, { name: "web", networks: [] }]) {
      const created = must(Model.createContainer(Model.initialState(), request))
      expect(created.value.container).toEqual({ name: "web", networks: ["bridge"] })
      expect(created.value.endpoints).toEqual([
        {
          container: "web",
          network: "bridge",
          aliases: [],
          address: "172.17.0.2/16",
          mac: "02:42:ac:11:00:02",
          ifname: "eth0",
          staticAddress: false,
        },
      ])
    }
  })

  it("get one interface per network from a counter of their own, never reusing a freed number (Docker 20.10)", () => {
    let state = build(net({ name: "a" }), net({ name: "b" }), net({ name: "c" }), net({ name: "d" }), ctr("web", "a", "b", "c"))
    expect(Model.endpointsOf(state, "web").map((endpoint) => endpoint.ifname)).toEqual(["eth0", "eth1", "eth2"])
    state = must(disc("web", "b")(state)).state
    state = must(conn("web", "d")(state)).state
    expect(Model.endpointsOf(state, "web").map((endpoint) => [endpoint.network, endpoint.ifname])).toEqual([
      ["a", "eth0"],
      ["c", "eth2"],
      ["d", "eth3"],
    ])
    expect(Model.container(state, "web")?.networks).toEqual(["a", "c", "d"])
  })

  it("keep counting interfaces after the container lost every network (docs/docker-20.10.md §6)", () => {
    // the measured sequence: run n1 (eth0), connect n2 (eth1), leave n1, connect n3 (eth2), connect
    // n4 (eth3), leave n3, n2, n4; connect n1 (eth4), connect bridge (eth5)
    const state = build(
      net({ name: "n1" }),
      net({ name: "n2" }),
      net({ name: "n3" }),
      net({ name: "n4" }),
      ctr("c1", "n1"),
      conn("c1", "n2"),
      disc("c1", "n1"),
      conn("c1", "n3"),
      conn("c1", "n4"),
      disc("c1", "n3"),
      disc("c1", "n2"),
      disc("c1", "n4"),
      conn("c1", "n1"),
      conn("c1", "bridge"),
    )
    expect(Model.endpointsOf(state, "c1").map((endpoint) => [endpoint.network, endpoint.ifname])).toEqual([
      ["n1", "eth4"],
      ["bridge", "eth5"],
    ])
  })

  it("count only interfaces that were made: refused connects and host or none endpoints take no number", () => {
    let state = build(net({ name: "a", subnet: "10.1.0.0/24" }), net({ name: "b" }), ctr("web", "a"), ctr("quiet", "none"))
    expect(refusal(conn("web", { network: "a", ip: "10.1.0.1" })(state))).toBe("EndpointExists")
    expect(refusal(conn("web", { network: "b", ip: "10.1.0.9" })(state))).toBe("StaticAddressNeedsSubnet")
    state = must(conn("web", "b")(state)).state
    expect(Model.endpointsOf(state, "web").map((endpoint) => endpoint.ifname)).toEqual(["eth0", "eth1"])
    state = must(disc("quiet", "none")(state)).state
    state = must(conn("quiet", "a")(state)).state
    expect(Model.endpointsOf(state, "quiet").map((endpoint) => endpoint.ifname)).toEqual(["eth0"])
  })

  it("number a new container's interfaces in the order its networks were asked for", () => {
    const state = build(
      net({ name: "zz" }),
      net({ name: "aa" }),
      net({ name: "ain", internal: true }),
      ctr("qq", "zz", "aa", "ain"),
    )
    expect(Model.endpointsOf(state, "qq").map((endpoint) => [endpoint.network, endpoint.ifname])).toEqual([
      ["zz", "eth0"],
      ["aa", "eth1"],
      ["ain", "eth2"],
    ])
  })

  it("on host or none have endpoints without address, MAC or interface", () => {
    const state = build(ctr("hostbox", "host"), ctr("nonebox", { network: "none", aliases: ["quiet"] }))
    expect(Model.endpoints(state)).toEqual([
      { container: "hostbox", network: "host", aliases: [], staticAddress: false },
      { container: "nonebox", network: "none", aliases: ["quiet"], staticAddress: false },
    ])
  })

  it("are created all or nothing", () => {
    const state = build(
      net({ name: "a", subnet: "10.1.0.0/24" }),
      net({ name: "b", subnet: "10.2.0.0/24" }),
      ctr("db", { network: "b", ip: "10.2.0.9" }),
    )
    const before = snapshot(state)
    expect(refusal(ctr("web", "a", { network: "b", ip: "10.2.0.9" })(state))).toBe("AddressInUse")
    expect(refusal(ctr("web", "a", "nope")(state))).toBe("NetworkNotFound")
    expect(snapshot(state)).toBe(before)
    expect(Model.container(state, "web")).toBeUndefined()
    // the address web would have had on a is still free
    expect(addressOn(must(ctr("api", "a")(state)).state, "api", "a")).toBe("10.1.0.2")
  })

  it("may lose their last network and stay, without endpoints", () => {
    const state = build(net({ name: "a" }), ctr("web", "a"), disc("web", "a"))
    expect(Model.container(state, "web")).toEqual({ name: "web", networks: [] })
    expect(Model.endpointsOf(state, "web")).toEqual([])
    expect(Model.endpointsOn(state, "a")).toEqual([])
  })

  it("take their endpoints with them when removed", () => {
    const state = build(net({ name: "a" }), ctr("web", "a", "bridge"))
    const removed = must(Model.removeContainer(state, "web"))
    expect(removed.value.endpoints.map((endpoint) => endpoint.network)).toEqual(["a", "bridge"])
    expect(Model.containers(removed.state)).toEqual([])
    expect(Model.endpoints(removed.state)).toEqual([])
    expect(must(Model.removeNetwork(removed.state, "a")).value.name).toBe("a")
  })

  it("keep aliases per endpoint", () => {
    const state = build(net({ name: "a" }), ctr("web", { network: "a", aliases: ["www", "front"] }))
    expect(Model.endpointsOf(state, "web")[0]?.aliases).toEqual(["www", "front"])
  })
})

describe("listings", () => {
  const state = build(
    net({ name: "a" }),
    net({ name: "b" }),
    ctr("one", "b"),
    ctr("two", "a"),
    conn("one", "a"),
    ctr("three", "a", "b"),
  )

  it("list containers in creation order, endpoints by container then attach order", () => {
    expect(Model.containers(state).map((container) => container.name)).toEqual(["one", "two", "three"])
    expect(Model.endpoints(state).map((endpoint) => `${endpoint.container}@${endpoint.network}`)).toEqual([
      "one@b",
      "one@a",
      "two@a",
      "three@a",
      "three@b",
    ])
  })

  it("list a network's endpoints in container creation order", () => {
    expect(Model.endpointsOn(state, "a").map((endpoint) => endpoint.container)).toEqual(["one", "two", "three"])
  })

  it("answer nothing for unknown names", () => {
    expect(Model.network(state, "zzz")).toBeUndefined()
    expect(Model.container(state, "zzz")).toBeUndefined()
    expect(Model.endpointsOf(state, "zzz")).toEqual([])
    expect(Model.endpointsOn(state, "zzz")).toEqual([])
  })

  it("list the connect's endpoint as the value of connect", () => {
    const connected = must(conn("two", { network: "b", aliases: ["deux"] })(state))
    expect(connected.value).toEqual(Model.endpointsOf(connected.state, "two")[1])
    expect(connected.value).toMatchObject({ network: "b", aliases: ["deux"], ifname: "eth1" })
  })
})

describe("states are values", () => {
  it("an operation leaves the state it started from exactly as it was", () => {
    const state = build(net({ name: "a" }), ctr("web", "a"), ctr("db", "a", "bridge"))
    const before = snapshot(state)
    must(conn("web", "bridge")(state))
    must(disc("db", "a")(state))
    must(Model.removeContainer(state, "web"))
    must(ctr("api", "a")(state))
    must(net({ name: "b" })(state))
    expect(snapshot(state)).toBe(before)
  })

  it("two operations on the same state do not see each other", () => {
    const state = build(net({ name: "a" }))
    const left = must(ctr("left", "a")(state)).state
    const right = must(ctr("right", "a")(state)).state
    expect(addressOn(left, "left", "a")).toBe("172.18.0.2")
    expect(addressOn(right, "right", "a")).toBe("172.18.0.2")
    expect(Model.container(left, "right")).toBeUndefined()
  })
})
