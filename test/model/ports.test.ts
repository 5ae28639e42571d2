/**
 * Published ports in the lab model, as Docker 20.10 does them (ports-20.10.md): where they are
 * published, which host port each gets, PortInUse and InvalidPort changing nothing, and the
 * named invariants after every operation.
 */
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import * as StringMap from "../../model/string-map.ts"
import { type LabStep, join, labOf, labSnapshot, leave, mustDo, network, refusedWith, remove } from "./lab-support.ts"

const published =
  (name: string, ports: ReadonlyArray<string>, ...networks: ReadonlyArray<string>): LabStep =>
  (lab) =>
    Model.createLabContainer(lab, { name, host: "host1", networks: networks.map((entry) => ({ network: entry })), ports, listen: ["80/tcp", "53/udp"] })

const bindings = (lab: Model.LabState, name: string) =>
  Model.portBindingsOf(lab, name).map((binding) => `${binding.network} ${binding.hostIp || "0.0.0.0"}:${binding.hostPort}->${binding.containerPort}/${binding.proto}`)

const holds = (lab: Model.LabState): Model.LabState => {
  expect(Model.checkLabInvariants(lab)).toEqual([])
  return lab
}

/** the step is refused with `code` and the lab is as it was */
const refusedUnchanged = (lab: Model.LabState, step: LabStep, code: Model.ErrorCode): string => {
  const before = labSnapshot(lab)
  const bookkeeping = JSON.stringify([lab.ports, lab.services])
  const outcome = step(lab)
  expect(refusedWith(outcome)).toBe(code)
  expect(outcome.ok ? undefined : outcome.lab).toBeUndefined()
  expect(labSnapshot(lab)).toBe(before)
  expect(JSON.stringify([lab.ports, lab.services])).toBe(bookkeeping)
  return outcome.ok ? "" : outcome.error.message
}

describe("where ports are published", () => {
  it("on the container's gateway network: the non-internal one whose name sorts first, moving on connect and disconnect", () => {
    let lab = labOf({}, network({ name: "zeta" }), network({ name: "alpha" }), published("web", ["8080:80"], "zeta"))
    expect(bindings(holds(lab), "web")).toEqual(["zeta 0.0.0.0:8080->80/tcp"])
    lab = mustDo(join("web", "alpha")(lab)).lab
    expect(bindings(holds(lab), "web")).toEqual(["alpha 0.0.0.0:8080->80/tcp"])
    lab = mustDo(leave("web", "alpha")(lab)).lab
    expect(bindings(holds(lab), "web")).toEqual(["zeta 0.0.0.0:8080->80/tcp"])
  })

  it("an internal-only container publishes nothing until it joins a normal network", () => {
    let lab = labOf({}, network({ name: "hidden", internal: true }), network({ name: "front" }), published("web", ["8080:80"], "hidden"))
    expect(bindings(holds(lab), "web")).toEqual([])
    lab = mustDo(join("web", "front")(lab)).lab
    expect(bindings(holds(lab), "web")).toEqual(["front 0.0.0.0:8080->80/tcp"])
  })

  it("a leave that gives the external connectivity to an internal network publishes there (fixture three-networks-internal-left)", () => {
    // Docker 20.10: sbLeave programs the new gateway endpoint whatever its network, sbJoin only a non-internal one
    let lab = labOf({}, network({ name: "beta" }), network({ name: "aaa-int", internal: true }), published("web", ["8520:80"], "beta", "aaa-int"))
    expect(bindings(holds(lab), "web")).toEqual(["beta 0.0.0.0:8520->80/tcp"])
    lab = mustDo(leave("web", "beta")(lab)).lab
    expect(bindings(holds(lab), "web")).toEqual(["aaa-int 0.0.0.0:8520->80/tcp"])
    lab = mustDo(join("web", "beta")(lab)).lab
    expect(bindings(holds(lab), "web")).toEqual(["beta 0.0.0.0:8520->80/tcp"])
  })

  it("none ignores ports and host discards them", () => {
    const lab = labOf({}, published("lonely", ["8080:80"], "none"), published("hosted", ["8080:80"], "host"))
    expect(bindings(holds(lab), "lonely")).toEqual([])
    expect(bindings(lab, "hosted")).toEqual([])
  })

  it("the default network publishes on docker0's network, bridge", () => {
    const lab = labOf({}, published("web", ["127.0.0.1:5353:53/udp", "80"]))
    expect(bindings(holds(lab), "web")).toEqual(["bridge 127.0.0.1:5353->53/udp", "bridge 0.0.0.0:32768->80/tcp"])
  })

  it("a -p without an address takes its gateway network's host_binding_ipv4; an address written in -p wins", () => {
    const bound = { "com.docker.network.bridge.host_binding_ipv4": "127.0.0.1" }
    let lab = labOf({}, network({ name: "lo-only", options: bound }), network({ name: "wide" }), published("web", ["8200:80", "192.168.99.1:8201:80"], "lo-only"))
    expect(bindings(holds(lab), "web")).toEqual(["lo-only 127.0.0.1:8200->80/tcp", "lo-only 192.168.99.1:8201->80/tcp"])
    // 127.0.0.1:8200 is held, so 8200 on every address meets the proxy's bind; on another address it is free
    refusedUnchanged(lab, published("wide-web", ["8200:80"], "wide"), "PortInUse")
    lab = mustDo(published("other", ["192.168.99.1:8200:80"], "wide")(lab)).lab
    // moving to a gateway network without the option publishes on every address again
    lab = mustDo(join("web", "aaa")(mustDo(network({ name: "aaa" })(mustDo(remove("other")(lab)).lab)).lab)).lab
    expect(bindings(holds(lab), "web")).toEqual(["aaa 0.0.0.0:8200->80/tcp", "aaa 192.168.99.1:8201->80/tcp"])
  })

  it("a removed container gives its ports back", () => {
    let lab = labOf({}, published("web", ["8080:80"], "bridge"), remove("web"))
    lab = mustDo(published("again", ["8080:80"], "bridge")(holds(lab))).lab
    expect(bindings(holds(lab), "again")).toEqual(["bridge 0.0.0.0:8080->80/tcp"])
  })
})

describe("host ports", () => {
  it("ephemeral ports from 32768 up, one by one, per address and protocol; a host range gives its next free port", () => {
    const lab = labOf(
      {},
      published("ca", ["80", "81", "53/udp"]),
      published("cb", ["80"]),
      published("cc", ["8080-8082:80", "8080-8082:81"]),
      published("cd", ["9000-9001:80-81"]),
    )
    expect(bindings(holds(lab), "ca")).toEqual(["bridge 0.0.0.0:32768->80/tcp", "bridge 0.0.0.0:32769->81/tcp", "bridge 0.0.0.0:32768->53/udp"])
    expect(bindings(lab, "cb")).toEqual(["bridge 0.0.0.0:32770->80/tcp"])
    expect(bindings(lab, "cc")).toEqual(["bridge 0.0.0.0:8080->80/tcp", "bridge 0.0.0.0:8081->81/tcp"])
    expect(bindings(lab, "cd")).toEqual(["bridge 0.0.0.0:9000->80/tcp", "bridge 0.0.0.0:9001->81/tcp"])
  })

  it("a moved gateway takes the allocator's next ephemeral port, as a fresh allocation does", () => {
    let lab = labOf({}, network({ name: "zeta" }), network({ name: "alpha" }), published("web", ["80"], "zeta"))
    expect(bindings(lab, "web")).toEqual(["zeta 0.0.0.0:32768->80/tcp"])
    lab = mustDo(join("web", "alpha")(lab)).lab
    expect(bindings(holds(lab), "web")).toEqual(["alpha 0.0.0.0:32769->80/tcp"])
  })

  it("a container on several networks starts on its first and is connected to the others: its ephemeral port moves with its gateway (fixture three-networks-internal-left)", () => {
    // docker run --network beta publishes 32768 there; docker network connect alpha moves it to alpha as 32769
    const lab = labOf({}, network({ name: "alpha" }), network({ name: "beta" }), published("web", ["80"], "beta", "alpha"))
    expect(bindings(holds(lab), "web")).toEqual(["alpha 0.0.0.0:32769->80/tcp"])
  })
})

describe("an ephemeral port the proxy cannot bind", () => {
  it("is given back and the next one tried, for TCP and UDP, on every address and on one (fixture ports-ephemeral-retry)", () => {
    // Docker 20.10: 127.0.0.1:32768 held by a proxy and 32769/tcp, 32768/udp by a process on host; libnetwork's
    // allocatePort retries an ephemeral port whose userland proxy fails, the allocator's cursor moving on each time
    const hostProcess: LabStep = (lab) => Model.createLabContainer(lab, { name: "hp", host: "host1", networks: [{ network: "host" }], listen: ["32769/tcp", "32768/udp"] })
    const lab = labOf({}, network({ name: "front" }), published("lo1", ["127.0.0.1:32768:80"], "front"), hostProcess, published("e1", ["80", "53/udp"], "front"), published("e3", ["127.0.0.1::80"], "front"))
    expect(bindings(holds(lab), "e1")).toEqual(["front 0.0.0.0:32770->80/tcp", "front 0.0.0.0:32769->53/udp"])
    expect(bindings(lab, "e3")).toEqual(["front 127.0.0.1:32771->80/tcp"])
  })

  it("a host range is not retried: its port's proxy refusal is the step's", () => {
    const lab = labOf({}, network({ name: "front" }), published("lo1", ["127.0.0.1:9000:80"], "front"))
    expect(refusedUnchanged(lab, published("r1", ["9000-9001:80"], "front"), "PortInUse")).toContain("listen tcp4 0.0.0.0:9000: bind: address already in use")
  })
})

describe("refusals change nothing", () => {
  const taken = labOf({}, network({ name: "front" }), network({ name: "hidden", internal: true }), published("web", ["8080:80", "5353:53/udp"], "front"))

  it("the same host port and protocol: Docker's allocator sentence", () => {
    const message = refusedUnchanged(taken, published("web2", ["8080:80"], "front"), "PortInUse")
    expect(message).toContain("Bind for 0.0.0.0:8080 failed: port is already allocated")
  })

  it("one address next to 0.0.0.0 passes the allocator and fails at the proxy's bind", () => {
    const message = refusedUnchanged(taken, published("web2", ["127.0.0.1:8080:80"], "front"), "PortInUse")
    expect(message).toContain("Error starting userland proxy: listen tcp4 127.0.0.1:8080: bind: address already in use")
  })

  it("the same port in the other protocol is free", () => {
    expect(bindings(holds(mustDo(published("web2", ["8080:80/udp"], "front")(taken)).lab), "web2")).toEqual(["front 0.0.0.0:8080->80/udp"])
  })

  it("a connect that moves ports onto a taken host port is refused", () => {
    const lab = mustDo(published("shy", ["8080:80"], "hidden")(taken)).lab
    expect(bindings(holds(lab), "shy")).toEqual([])
    refusedUnchanged(lab, join("shy", "front"), "PortInUse")
  })

  it.each(["8080:abc", "99999:80", "80/xyz", "1.2.3:80:80", "8094:"])("a bad -p spec %s is InvalidPort, before any other check", (spec) => {
    refusedUnchanged(taken, published("web", [spec], "front"), "InvalidPort")
  })

  it("every port of a host range taken: all ports are allocated", () => {
    const full = labOf({}, published("ca", ["7000-7001:80"]), published("cb", ["7000-7001:80"]))
    expect(refusedUnchanged(full, published("cc", ["7000-7001:80"]), "PortInUse")).toContain("all ports are allocated")
  })
})

describe("the invariants catch a broken bookkeeping", () => {
  const lab = labOf({}, published("ca", ["8080:80"]), published("cb", ["8081:80"]))
  const names = (broken: Model.LabState) => Model.checkLabInvariants(broken).map((violation) => violation.invariant)

  it("host-port-published-once", () => {
    const [first] = Model.portBindingsOf(lab, "ca")
    const clash = { ...lab, ports: { ...lab.ports, bindings: Model.portBindingsOf(lab, "cb").length > 0 ? setBindings(lab, "cb", [{ ...(first as Model.PortBinding), container: "cb" }]) : lab.ports.bindings } }
    expect(names(clash)).toContain("host-port-published-once")
  })

  it("ports-published-on-gateway-network", () => {
    const moved = { ...lab, ports: { ...lab.ports, bindings: setBindings(lab, "ca", Model.portBindingsOf(lab, "ca").map((binding) => ({ ...binding, network: "none" }))) } }
    expect(names(moved)).toContain("ports-published-on-gateway-network")
  })
})

const setBindings = (lab: Model.LabState, name: string, held: ReadonlyArray<Model.PortBinding>) => StringMap.set(lab.ports.bindings, name, held)
