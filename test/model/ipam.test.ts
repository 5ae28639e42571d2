import { describe, expect, it } from "vitest"
import { formatCidr, parseCidr, parseIPv4 } from "../../model/cidr.ts"
import * as Model from "../../model/index.ts"
import { allocateDynamic, defaultPools, macForAddress, nextDefaultPool, openAddressBook } from "../../model/ipam.ts"
import { addressOn, build, ctr, disc, must, net, refusal } from "./support.ts"

const subnetOf = (state: Model.CnmState, name: string) => Model.network(state, name)?.subnet

/** creates networks without subnet, named by the prefix and a counter, and returns the state */
const createDynamic = (state: Model.CnmState, names: ReadonlyArray<string>): Model.CnmState =>
  names.reduce((current, name) => must(Model.createNetwork(current, { name })).state, state)

const dockerPoolOrder = [
  ...Array.from({ length: 15 }, (_, index) => `172.${17 + index}.0.0/16`),
  ...Array.from({ length: 16 }, (_, index) => `192.168.${index * 16}.0/20`),
]

describe("default pools", () => {
  it("are Docker's 31 local pools in Docker's order", () => {
    expect(defaultPools.map(formatCidr)).toEqual(dockerPoolOrder)
  })

  it("go to networks without subnet in order, after the bridge's 172.17.0.0/16, until none is left", () => {
    const names = Array.from({ length: 30 }, (_, index) => `n${index}`)
    const state = createDynamic(Model.initialState(), names)
    expect(names.map((name) => subnetOf(state, name))).toEqual(dockerPoolOrder.slice(1))
    expect(Model.network(state, "n0")?.gateway).toBe("172.18.0.1")
    expect(Model.network(state, "n14")?.gateway).toBe("192.168.0.1")
    expect(refusal(Model.createNetwork(state, { name: "one-too-many" }))).toBe("PoolExhausted")
  })

  it("skip pools that overlap a user subnet", () => {
    const state = build(net({ name: "user", subnet: "172.18.5.0/24" }), net({ name: "auto" }))
    expect(subnetOf(state, "auto")).toBe("172.19.0.0/16")
  })

  it("are not reused when freed, until the search wraps around", () => {
    let state = createDynamic(Model.initialState(), ["a", "b"])
    state = must(Model.removeNetwork(state, "a")).state
    state = createDynamic(state, ["c"])
    expect(subnetOf(state, "c")).toBe("172.20.0.0/16")
    // hand out the rest: 172.21 … 192.168.240.0/20 (27 pools); then the search wraps to 172.18
    state = createDynamic(
      state,
      Array.from({ length: 27 }, (_, index) => `fill${index}`),
    )
    expect(subnetOf(state, "fill26")).toBe("192.168.240.0/20")
    state = createDynamic(state, ["wrapped"])
    expect(subnetOf(state, "wrapped")).toBe("172.18.0.0/16")
  })

  it("restart from the lowest pool after a wrapped allocation, as Docker resets its start index", () => {
    // all 30 handed out; free 172.18 (index 1) and 172.21 (index 4)
    let state = createDynamic(
      Model.initialState(),
      Array.from({ length: 30 }, (_, index) => `n${index}`),
    )
    state = must(Model.removeNetwork(state, "n0")).state
    state = must(Model.removeNetwork(state, "n3")).state
    // the search starts past the end of the list, wraps and finds 172.18
    state = createDynamic(state, ["first"])
    expect(subnetOf(state, "first")).toBe("172.18.0.0/16")
    // free 172.19 (index 2), below where the search stopped: Docker's reset start index finds it first
    state = must(Model.removeNetwork(state, "n1")).state
    state = createDynamic(state, ["second"])
    expect(subnetOf(state, "second")).toBe("172.19.0.0/16")
  })

  it("move on past a pool that a create took before its driver options failed (fixture ipam-failed-create-cursor)", () => {
    const state = createDynamic(Model.initialState(), ["n1"])
    const failed = Model.createNetwork(state, { name: "bad1", options: { "com.docker.network.bridge.enable_icc": "maybe" } })
    expect(refusal(failed)).toBe("InvalidOption")
    if (failed.ok || failed.state === undefined) throw new Error("expected the refusal to leave the moved cursor")
    expect(failed.state.poolCursor).toBe(state.poolCursor + 1)
    expect(Model.network(failed.state, "bad1")).toBeUndefined()
    expect(Model.networks(failed.state)).toEqual(Model.networks(state))
    const next = createDynamic(failed.state, ["n2"])
    expect(subnetOf(next, "n2")).toBe("172.20.0.0/16")
  })

  it("stay where they are when a create fails before IPAM, or on options with a user subnet", () => {
    const state = createDynamic(Model.initialState(), ["n1"])
    const badIcc = { "com.docker.network.bridge.enable_icc": "maybe" }
    for (const request of [
      { name: "bad3", driver: "foo" },
      { name: "n1" },
      { name: "bad4", subnet: "10.50.0.0/24", options: badIcc },
      { name: "bad5", driver: "null" },
    ]) {
      const failed = Model.createNetwork(state, request)
      expect(failed.ok).toBe(false)
      expect(failed.state).toBeUndefined()
    }
    expect(subnetOf(createDynamic(state, ["n2"]), "n2")).toBe("172.19.0.0/16")
  })

  it("rotate through the list from the cursor (unit)", () => {
    const inUse = [parseCidr("172.17.0.0/16")!, parseCidr("172.19.0.0/16")!]
    expect(nextDefaultPool(inUse, 0)).toEqual({ pool: parseCidr("172.18.0.0/16"), nextCursor: 2 })
    expect(nextDefaultPool(inUse, 2)).toEqual({ pool: parseCidr("172.20.0.0/16"), nextCursor: 4 })
    expect(nextDefaultPool(inUse, 30)).toEqual({ pool: parseCidr("192.168.240.0/20"), nextCursor: 0 })
    expect(nextDefaultPool(defaultPools, 5)).toBeUndefined()
  })
})

describe("addresses inside a network", () => {
  it("start at .2 after the gateway .1, carry the subnet's prefix and a MAC derived from the address", () => {
    const state = build(net({ name: "a" }), ctr("xx", "a"), ctr("yy", "a"))
    const [x] = Model.endpointsOf(state, "xx")
    expect(x).toMatchObject({ address: "172.18.0.2/16", mac: "02:42:ac:12:00:02", ifname: "eth0", staticAddress: false })
    expect(addressOn(state, "yy", "a")).toBe("172.18.0.3")
  })

  it("reuse the lowest released address", () => {
    let state = build(net({ name: "a", subnet: "10.1.0.0/24" }), ctr("xx", "a"), ctr("yy", "a"), ctr("zz", "a"))
    state = must(Model.removeContainer(state, "xx")).state
    state = must(disc("zz", "a")(state)).state
    state = must(ctr("ww", "a")(state)).state
    expect(addressOn(state, "ww", "a")).toBe("10.1.0.2")
    state = must(ctr("vv", "a")(state)).state
    expect(addressOn(state, "vv", "a")).toBe("10.1.0.4")
  })

  it("skip a user gateway wherever it lies", () => {
    const state = build(net({ name: "a", subnet: "10.1.0.0/24", gateway: "10.1.0.2" }), ctr("xx", "a"), ctr("yy", "a"))
    expect([addressOn(state, "xx", "a"), addressOn(state, "yy", "a")]).toEqual(["10.1.0.1", "10.1.0.3"])
  })

  it("come from the ip-range, whose first address becomes the gateway, as measured on Docker 20.10", () => {
    const state = build(net({ name: "a", subnet: "10.1.2.5/24", ipRange: "10.1.2.130/25" }), ctr("xx", "a"))
    expect(Model.network(state, "a")).toMatchObject({ subnet: "10.1.2.0/24", ipRange: "10.1.2.128/25", gateway: "10.1.2.128" })
    expect(Model.endpointsOf(state, "xx")[0]?.address).toBe("10.1.2.129/24")
  })

  it("run out with the ip-range even when the subnet has room; static addresses may still go outside it", () => {
    // .8–.11: the gateway takes .8 (the range's first address is not reserved, only the subnet's are)
    let state = build(
      net({ name: "a", subnet: "10.1.0.0/24", ipRange: "10.1.0.8/30" }),
      ctr("xx", "a"),
      ctr("yy", "a"),
      ctr("ww", "a"),
    )
    expect(Model.network(state, "a")?.gateway).toBe("10.1.0.8")
    expect(["xx", "yy", "ww"].map((name) => addressOn(state, name, "a"))).toEqual(["10.1.0.9", "10.1.0.10", "10.1.0.11"])
    expect(refusal(ctr("zz", "a")(state))).toBe("PoolExhausted")
    state = must(ctr("zz", { network: "a", ip: "10.1.0.200" })(state)).state
    expect(Model.endpointsOf(state, "zz")[0]).toMatchObject({ address: "10.1.0.200/24", staticAddress: true })
  })

  it("run out in a /30 after one container: network, gateway and broadcast take the rest", () => {
    const state = build(net({ name: "tiny", subnet: "10.250.1.0/30" }), ctr("xx", "tiny"))
    expect(addressOn(state, "xx", "tiny")).toBe("10.250.1.2")
    expect(refusal(ctr("yy", "tiny")(state))).toBe("PoolExhausted")
  })

  it("leave no gateway in a /31 or /32: Docker 20.10 reserves their first and last address too", () => {
    expect(refusal(net({ name: "p2p", subnet: "10.250.0.0/31" })(Model.initialState()))).toBe("PoolExhausted")
    expect(refusal(net({ name: "one", subnet: "10.250.0.7/32" })(Model.initialState()))).toBe("PoolExhausted")
    // libnetwork's allocator finds no free address before it looks at the one asked for
    expect(refusal(net({ name: "p2p", subnet: "10.250.0.0/31", gateway: "10.250.0.1" })(Model.initialState()))).toBe(
      "PoolExhausted",
    )
  })

  it("count the ip-range's first and last address as ordinary ones (measured on Docker 20.10)", () => {
    const state = build(
      net({ name: "r2", subnet: "10.8.0.0/24", ipRange: "10.8.0.0/30" }),
      net({ name: "r3", subnet: "10.7.0.0/24", ipRange: "10.7.0.64/26", gateway: "10.7.0.254" }),
      ctr("r2a", "r2"),
      ctr("r2b", "r2"),
      ctr("r3a", "r3"),
    )
    expect(["r2a", "r2b"].map((name) => addressOn(state, name, "r2"))).toEqual(["10.8.0.2", "10.8.0.3"])
    expect(refusal(ctr("r2c", "r2")(state))).toBe("PoolExhausted")
    expect(addressOn(state, "r3a", "r3")).toBe("10.7.0.64")
  })

  it("treat network, broadcast and gateway addresses as taken for static requests", () => {
    const state = build(net({ name: "a", subnet: "10.1.0.0/24" }))
    for (const ip of ["10.1.0.0", "10.1.0.255", "10.1.0.1"]) {
      expect(refusal(ctr("xx", { network: "a", ip })(state))).toBe("AddressInUse")
    }
  })

  it("work in a /8 without walking it", () => {
    const state = build(
      net({ name: "big", subnet: "10.0.0.0/8" }),
      ctr("xx", "big"),
      ctr("yy", { network: "big", ip: "10.0.0.3" }),
      ctr("zz", "big"),
    )
    expect(addressOn(state, "zz", "big")).toBe("10.0.0.4")
  })

  it("fill a whole /20 and then refuse", () => {
    let book = openAddressBook(parseCidr("192.168.16.0/20")!, undefined, undefined)!
    const handed: Array<number> = []
    for (;;) {
      const allocation = allocateDynamic(book, 1)
      if (allocation === undefined) break
      handed.push(allocation.address)
      book = allocation.book
    }
    expect(handed.length).toBe(4096 - 3)
    expect(handed[0]).toBe(parseIPv4("192.168.16.2"))
    expect(handed.at(-1)).toBe(parseIPv4("192.168.31.254"))
    expect(handed.every((address, index) => index === 0 || address === (handed[index - 1] as number) + 1)).toBe(true)
  })

  it("give MACs 02:42 plus the address bytes", () => {
    expect(macForAddress(parseIPv4("172.18.0.2")!)).toBe("02:42:ac:12:00:02")
    expect(macForAddress(parseIPv4("10.250.2.7")!)).toBe("02:42:0a:fa:02:07")
    expect(macForAddress(parseIPv4("255.0.16.1")!)).toBe("02:42:ff:00:10:01")
  })

  it("are released when a container goes, on every network it was on", () => {
    let state = build(net({ name: "a" }), net({ name: "b" }), ctr("xx", "a", "b"))
    state = must(Model.removeContainer(state, "xx")).state
    state = must(ctr("yy", "b", "a")(state)).state
    expect([addressOn(state, "yy", "a"), addressOn(state, "yy", "b")]).toEqual(["172.18.0.2", "172.19.0.2"])
  })
})
