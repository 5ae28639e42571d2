import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { build, conn, ctr, disc, must, net, refusal, snapshot, type Step } from "./support.ts"

/** a state with a bit of everything: user networks, containers on host and none, a full /30 */
const world = build(
  net({ name: "a", subnet: "10.1.0.0/24" }),
  net({ name: "b" }),
  net({ name: "tiny", subnet: "10.9.0.0/30" }),
  ctr("web", "a"),
  ctr("db", { network: "a", ip: "10.1.0.50" }),
  ctr("filler", "tiny"),
  ctr("hostbox", "host"),
  ctr("nonebox", "none"),
  ctr("lonely", "b"),
  disc("lonely", "b"),
)

const removeNet =
  (name: string): Step =>
  (state) =>
    Model.removeNetwork(state, name)
const removeCtr =
  (name: string): Step =>
  (state) =>
    Model.removeContainer(state, name)

interface Case {
  readonly code: Model.ErrorCode
  readonly what: string
  readonly step: Step
  readonly on?: Model.CnmState
}

const cases: ReadonlyArray<Case> = [
  { code: "InvalidName", what: "one-letter container name", step: ctr("x") },
  { code: "InvalidName", what: "container name starting with a dash", step: ctr("-web") },
  { code: "InvalidName", what: "container name with a space", step: ctr("my web") },
  { code: "InvalidName", what: "container name with a slash inside", step: ctr("a/b") },
  { code: "InvalidName", what: "empty network name", step: net({ name: " " }) },
  { code: "NetworkNameConflict", what: "network name taken", step: net({ name: "a" }) },
  { code: "NetworkNotFound", what: "connect to a missing network", step: conn("web", "nope") },
  { code: "NetworkNotFound", what: "create a container on a missing network", step: ctr("new1", "nope") },
  { code: "NetworkNotFound", what: "disconnect from a missing network", step: disc("web", "nope") },
  { code: "NetworkNotFound", what: "remove a missing network", step: removeNet("nope") },
  { code: "ContainerNotFound", what: "connect a missing container", step: conn("ghost", "a") },
  { code: "ContainerNotFound", what: "disconnect a missing container", step: disc("ghost", "a") },
  { code: "ContainerNotFound", what: "remove a missing container", step: removeCtr("ghost") },
  { code: "ContainerNameConflict", what: "container name taken", step: ctr("web", "b") },
  { code: "DriverNotFound", what: "unknown driver", step: net({ name: "n", driver: "weave" }) },
  { code: "InvalidSubnet", what: "subnet without prefix", step: net({ name: "n", subnet: "10.5.0.0" }) },
  { code: "InvalidSubnet", what: "subnet with a bad octet", step: net({ name: "n", subnet: "10.300.0.0/16" }) },
  { code: "InvalidSubnet", what: "prefix above 32", step: net({ name: "n", subnet: "10.5.0.0/33" }) },
  {
    code: "InvalidSubnet",
    what: "ip-range outside the subnet",
    step: net({ name: "n", subnet: "10.5.0.0/24", ipRange: "10.6.0.0/25" }),
  },
  {
    code: "InvalidSubnet",
    what: "ip-range that does not parse as a CIDR",
    step: net({ name: "n", subnet: "10.5.0.0/24", ipRange: "10.5.0.0/33" }),
  },
  {
    code: "InvalidSubnet",
    what: "ip-range that is no CIDR",
    step: net({ name: "n", subnet: "10.5.0.0/24", ipRange: "10.5.0.128" }),
  },
  { code: "InvalidSubnet", what: "ip-range without subnet", step: net({ name: "n", ipRange: "10.5.0.0/25" }) },
  { code: "SubnetOverlap", what: "inside the default bridge", step: net({ name: "n", subnet: "172.17.5.0/24" }) },
  { code: "SubnetOverlap", what: "same subnet as a user network", step: net({ name: "n", subnet: "10.1.0.0/24" }) },
  { code: "SubnetOverlap", what: "a subnet containing a user network", step: net({ name: "n", subnet: "10.0.0.0/8" }) },
  { code: "SubnetOverlap", what: "the same subnet with host bits", step: net({ name: "n", subnet: "10.1.0.77/25" }) },
  { code: "SubnetOverlap", what: "a default pool already handed out", step: net({ name: "n", subnet: "172.18.0.0/16" }) },
  {
    code: "InvalidGateway",
    what: "gateway outside the subnet",
    step: net({ name: "n", subnet: "10.5.0.0/24", gateway: "10.6.0.1" }),
  },
  { code: "InvalidGateway", what: "gateway without subnet", step: net({ name: "n", gateway: "10.5.0.1" }) },
  {
    code: "InvalidGateway",
    what: "gateway that is no address",
    step: net({ name: "n", subnet: "10.5.0.0/24", gateway: "10.5.0.x" }),
  },
  {
    code: "AddressInUse",
    what: "gateway on the network address (Docker books it for itself)",
    step: net({ name: "n", subnet: "10.5.0.0/24", gateway: "10.5.0.0" }),
  },
  {
    code: "AddressInUse",
    what: "gateway on the broadcast address",
    step: net({ name: "n", subnet: "10.5.0.0/24", gateway: "10.5.0.255" }),
  },
  { code: "AddressOutOfRange", what: "static address outside the subnet", step: ctr("new1", { network: "a", ip: "10.2.0.5" }) },
  {
    code: "AddressOutOfRange",
    what: "static address that is no address",
    step: conn("web", { network: "tiny", ip: "10.9.0.two" }),
  },
  { code: "AddressInUse", what: "static address of another container", step: ctr("new1", { network: "a", ip: "10.1.0.50" }) },
  { code: "AddressInUse", what: "static address of the gateway", step: ctr("new1", { network: "a", ip: "10.1.0.1" }) },
  {
    code: "StaticAddressNeedsSubnet",
    what: "static address on a default-pool network",
    step: ctr("new1", { network: "b", ip: "172.18.0.9" }),
  },
  {
    code: "StaticAddressNeedsSubnet",
    what: "static address on the default bridge",
    step: ctr("new1", { network: "bridge", ip: "172.17.0.9" }),
  },
  { code: "PoolExhausted", what: "no address left in the network", step: ctr("new1", "tiny") },
  {
    code: "PoolExhausted",
    what: "a static address in a network without any free address, even a taken one",
    step: ctr("new1", { network: "tiny", ip: "10.9.0.2" }),
  },
  { code: "PoolExhausted", what: "no gateway left in a /31", step: net({ name: "n", subnet: "10.7.0.0/31" }) },
  { code: "EndpointExists", what: "connect to a network twice", step: conn("web", "a") },
  { code: "EndpointExists", what: "the same network twice at creation", step: ctr("new1", "b", "b") },
  { code: "NotConnected", what: "disconnect from a network the container is not on", step: disc("web", "b") },
  { code: "NotConnected", what: "disconnect a non-host container from host", step: disc("web", "host") },
  { code: "ActiveEndpoints", what: "remove a network with a container", step: removeNet("a") },
  { code: "PredefinedNetwork", what: "create bridge", step: net({ name: "bridge" }) },
  { code: "PredefinedNetwork", what: "create host", step: net({ name: "host", driver: "host" }) },
  { code: "PredefinedNetwork", what: "create none", step: net({ name: "none" }) },
  { code: "PredefinedNetwork", what: "create default (Docker reserves it too)", step: net({ name: "default" }) },
  { code: "PredefinedNetwork", what: "remove bridge", step: removeNet("bridge") },
  { code: "PredefinedNetwork", what: "remove host", step: removeNet("host") },
  { code: "PredefinedNetwork", what: "remove none", step: removeNet("none") },
  { code: "HostNetworkExclusive", what: "create on host and another network", step: ctr("new1", "host", "a") },
  { code: "HostNetworkExclusive", what: "create on a network and host", step: ctr("new1", "a", "host") },
  { code: "HostNetworkExclusive", what: "connect a host container", step: conn("hostbox", "a") },
  { code: "HostNetworkExclusive", what: "connect a container to host", step: conn("web", "host") },
  { code: "HostNetworkExclusive", what: "connect a container without endpoints to host", step: conn("lonely", "host") },
  { code: "HostNetworkExclusive", what: "disconnect a host container from host", step: disc("hostbox", "host") },
  { code: "NoneNetworkExclusive", what: "create on none and another network", step: ctr("new1", "none", "a") },
  { code: "NoneNetworkExclusive", what: "create on a network and none", step: ctr("new1", "a", "none") },
  { code: "NoneNetworkExclusive", what: "connect a none container", step: conn("nonebox", "a") },
  { code: "NoneNetworkExclusive", what: "connect a container with endpoints to none", step: conn("web", "none") },
  { code: "InvalidOption", what: "a second null network", step: net({ name: "n", driver: "null" }) },
  { code: "InvalidOption", what: "a second host network", step: net({ name: "n", driver: "host" }) },
  {
    code: "InvalidOption",
    what: "enable_icc=yes",
    step: net({ name: "n", options: { "com.docker.network.bridge.enable_icc": "yes" } }),
  },
  {
    code: "InvalidOption",
    what: "enable_ip_masquerade=",
    step: net({ name: "n", options: { "com.docker.network.bridge.enable_ip_masquerade": "" } }),
  },
  { code: "InvalidOption", what: "mtu=abc", step: net({ name: "n", options: { "com.docker.network.driver.mtu": "abc" } }) },
  { code: "InvalidOption", what: "mtu=1500.5", step: net({ name: "n", options: { "com.docker.network.driver.mtu": "1500.5" } }) },
  {
    code: "InvalidOption",
    what: "mtu beyond Go's int64",
    step: net({ name: "n", options: { "com.docker.network.driver.mtu": "9223372036854775808" } }),
  },
  {
    code: "InvalidOption",
    what: "mtu text on an overlay network",
    step: net({ name: "n", driver: "overlay", options: { "com.docker.network.driver.mtu": "big" } }),
  },
  {
    code: "InvalidOption",
    what: "attach to a bridge whose mtu no interface can take",
    on: build(net({ name: "tinymtu", options: { "com.docker.network.driver.mtu": "10" } })),
    step: ctr("new1", "tinymtu"),
  },
]

describe("refusals", () => {
  it.each(cases.map((entry) => [entry.code, entry.what, entry] as const))("%s: %s", (code, _, entry) => {
    const state = entry.on ?? world
    const before = snapshot(state)
    expect(refusal(entry.step(state))).toBe(code)
    expect(snapshot(state)).toBe(before)
  })

  it("cover every code of one host (KernelError belongs to backends, the lab's codes to lab-errors.test.ts)", () => {
    const covered = new Set(cases.map((entry) => entry.code))
    const hostCodes = Model.errorCodes.filter((code) => !Model.labErrorCodes.includes(code) && !Model.portErrorCodes.includes(code))
    expect(hostCodes.filter((code) => !covered.has(code))).toEqual(["KernelError"])
  })
})

describe("what Docker accepts", () => {
  it.each([
    ["enable_icc", { "com.docker.network.bridge.enable_icc": "F" }],
    ["enable_icc", { "com.docker.network.bridge.enable_icc": "TRUE" }],
    ["enable_ip_masquerade", { "com.docker.network.bridge.enable_ip_masquerade": "0" }],
    ["mtu 0 (default)", { "com.docker.network.driver.mtu": "0" }],
    ["mtu 68", { "com.docker.network.driver.mtu": "68" }],
    ["mtu +9000", { "com.docker.network.driver.mtu": "+9000" }],
    ["mtu 65535", { "com.docker.network.driver.mtu": "65535" }],
    // Docker only parses the number at create; the kernel refuses these at attach (see the refusals)
    ["mtu 10", { "com.docker.network.driver.mtu": "10" }],
    ["mtu 70000", { "com.docker.network.driver.mtu": "70000" }],
    ["mtu -1", { "com.docker.network.driver.mtu": "-1" }],
    ["unknown keys", { "com.example.whatever": "anything" }],
  ])("option %s", (_, options) => {
    expect(net({ name: "n", options })(world).ok).toBe(true)
  })

  it("bridge options on other drivers, which never read them", () => {
    const options = { "com.docker.network.bridge.enable_icc": "maybe" }
    for (const driver of ["overlay", "macvlan", "ipvlan"]) expect(net({ name: "n", driver, options })(world).ok).toBe(true)
    const mtu = { "com.docker.network.driver.mtu": "big" }
    for (const driver of ["macvlan", "ipvlan"]) expect(net({ name: "n", driver, options: mtu })(world).ok).toBe(true)
  })

  it("an ip-range wider than the subnet, clamped to it (measured: gateway .1, first container .2)", () => {
    const state = build(net({ name: "wide", subnet: "10.17.0.0/24", ipRange: "10.17.0.0/16" }), ctr("first", "wide"))
    expect(Model.network(state, "wide")?.gateway).toBe("10.17.0.1")
    expect(Model.endpointsOf(state, "first")[0]?.address).toBe("10.17.0.2/24")
  })

  it("attaching to a bridge with mtu 0 or a usable mtu", () => {
    for (const mtu of ["0", "68", "9000"]) {
      const state = build(net({ name: "m", options: { "com.docker.network.driver.mtu": mtu } }))
      expect(ctr("new1", "m")(state).ok).toBe(true)
    }
  })

  it("internal networks, and connecting none to a container that has no endpoint (measured on Docker 20.10)", () => {
    expect(net({ name: "n", internal: true })(world).ok).toBe(true)
    expect(conn("lonely", "none")(world).ok).toBe(true)
  })

  it("disconnecting a container from none, and from its last network", () => {
    expect(disc("nonebox", "none")(world).ok).toBe(true)
    expect(disc("web", "a")(world).ok).toBe(true)
  })
})

// docs/docker-20.10.md §3.1
describe("validation order: client checks, then names, subnet text, driver, addresses, options", () => {
  it.each<[string, Model.NetworkRequest, Model.ErrorCode]>([
    ["predefined name wins over a bad subnet", { name: "bridge", subnet: "bad" }, "PredefinedNetwork"],
    ["predefined name wins over a bad driver", { name: "bridge", driver: "weave" }, "PredefinedNetwork"],
    ["taken name wins over a bad driver", { name: "a", driver: "weave" }, "NetworkNameConflict"],
    ["taken name wins over a bad subnet", { name: "a", subnet: "bad" }, "NetworkNameConflict"],
    ["taken name wins over an overlap", { name: "a", subnet: "10.1.0.0/24" }, "NetworkNameConflict"],
    [
      "the client's gateway check wins over a taken name",
      { name: "a", subnet: "10.5.0.0/24", gateway: "10.6.0.1" },
      "InvalidGateway",
    ],
    ["the client's range check wins over a predefined name", { name: "none", ipRange: "10.5.0.0/25" }, "InvalidSubnet"],
    ["a bad subnet text wins over a bad driver", { name: "n", driver: "weave", subnet: "bad" }, "InvalidSubnet"],
    ["a bad subnet text wins over a singleton driver", { name: "n", driver: "null", subnet: "bad" }, "InvalidSubnet"],
    ["a bad driver wins over an overlap", { name: "n", driver: "weave", subnet: "10.1.0.0/24" }, "DriverNotFound"],
    [
      "a bad driver wins over a bad option",
      { name: "n", driver: "weave", options: { "com.docker.network.bridge.enable_icc": "maybe" } },
      "DriverNotFound",
    ],
    [
      "a bad driver wins over a range the daemon cannot parse",
      { name: "n", driver: "weave", subnet: "10.5.0.0/24", ipRange: "10.5.0.5" },
      "DriverNotFound",
    ],
    [
      "a singleton driver wins over an overlap (libnetwork skips IPAM for it)",
      { name: "n", driver: "null", subnet: "10.1.0.0/24" },
      "InvalidOption",
    ],
    ["bad subnet wins over a bad gateway", { name: "n", subnet: "bad", gateway: "bad" }, "InvalidSubnet"],
    [
      "a bad ip-range wins over a bad gateway (the client matches ranges first)",
      { name: "n", subnet: "10.5.0.0/24", gateway: "1.1.1.1", ipRange: "bad" },
      "InvalidSubnet",
    ],
    [
      "overlap wins over a bad option",
      { name: "n", subnet: "10.1.0.0/16", options: { "com.docker.network.driver.mtu": "abc" } },
      "SubnetOverlap",
    ],
    ["a bad ip-range wins over an overlap", { name: "n", subnet: "10.1.0.0/16", ipRange: "10.2.0.0/24" }, "InvalidSubnet"],
    ["an unparsable ip-range wins over an overlap", { name: "n", subnet: "10.1.0.0/16", ipRange: "10.1.0.5" }, "InvalidSubnet"],
    ["an overlap wins over a reserved gateway", { name: "n", subnet: "10.1.0.0/24", gateway: "10.1.0.0" }, "SubnetOverlap"],
  ])("%s", (_, request, code) => {
    expect(refusal(Model.createNetwork(world, request))).toBe(code)
  })

  it("container: name rule, then name conflict, then each network in order", () => {
    expect(refusal(ctr("x", "nope")(world))).toBe("InvalidName")
    expect(refusal(ctr("web", "nope")(world))).toBe("ContainerNameConflict")
    expect(refusal(ctr("new1", "nope", "host")(world))).toBe("NetworkNotFound")
    expect(refusal(ctr("new1", "host", "nope")(world))).toBe("NetworkNotFound")
    expect(refusal(ctr("new1", "host", "a", "nope")(world))).toBe("HostNetworkExclusive")
  })

  it("connect: container, network, static-address rules, host, then each current network, then the endpoint", () => {
    expect(refusal(conn("ghost", "nope")(world))).toBe("ContainerNotFound")
    expect(refusal(conn("hostbox", "nope")(world))).toBe("NetworkNotFound")
    expect(refusal(conn("hostbox", { network: "bridge", ip: "172.17.0.9" })(world))).toBe("StaticAddressNeedsSubnet")
    expect(refusal(conn("lonely", { network: "b", ip: "172.18.0.9" })(world))).toBe("StaticAddressNeedsSubnet")
    expect(refusal(conn("hostbox", { network: "a", ip: "10.9.9.9" })(world))).toBe("HostNetworkExclusive")
    expect(refusal(conn("nonebox", "host")(world))).toBe("HostNetworkExclusive")
    expect(refusal(conn("nonebox", { network: "a", ip: "10.9.9.9" })(world))).toBe("NoneNetworkExclusive")
    expect(refusal(conn("db", { network: "a", ip: "10.9.9.9" })(world))).toBe("EndpointExists")
    expect(refusal(conn("db", { network: "a", ip: "10.1.0.1" })(world))).toBe("EndpointExists")
  })

  it("connect to the network a host or none container is already on: the endpoint exists (measured)", () => {
    expect(refusal(conn("hostbox", "host")(world))).toBe("EndpointExists")
    expect(refusal(conn("nonebox", "none")(world))).toBe("EndpointExists")
    expect(refusal(conn("hostbox", "none")(world))).toBe("HostNetworkExclusive")
  })

  it("a static address on a network without user subnet is refused before the duplicate endpoint", () => {
    const state = must(ctr("onb", "b")(world)).state
    expect(refusal(conn("onb", { network: "b", ip: "172.18.0.60" })(state))).toBe("StaticAddressNeedsSubnet")
  })
})
