import { expect, it } from "vitest"
import type { Harness } from "../harness.ts"
import { host, twoBridges, wire } from "../topologies.ts"

/** ICMP echo across veth pairs, bridges and a forwarding host (every expectation measured with ping) */
export const reachabilityCases = (h: () => Harness): void => {
  it("two containers on one bridge reach each other and their gateway", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops)
    expect(await harness.reachable(net.c1, "10.31.0.3")).toBe(true)
    expect(await harness.reachable(net.c3, "10.31.0.2")).toBe(true)
    expect(await harness.reachable(net.c1, "10.31.0.1")).toBe(true)
  })

  it("a container on another bridge is not reachable while the host does not forward", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops)
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(false)
    expect(await harness.reachable(net.c2, "10.31.0.2")).toBe(false)
  })

  it("any address of the host answers, whatever link it is on (weak host model), without forwarding", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops)
    expect(await harness.reachable(net.c1, "10.32.0.1")).toBe(true)
  })

  it("with ip_forward = 1 the host routes between its bridges; back to 0, it stops", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops, { op: "sysctlSet", ns: net.host, key: "net.ipv4.ip_forward", value: "1" })
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(true)
    expect(await harness.reachable(net.c2, "10.31.0.3")).toBe(true)
    await harness.apply({ op: "sysctlSet", ns: net.host, key: "net.ipv4.ip_forward", value: "0" })
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(false)
  })

  it("net.ipv4.conf.all.forwarding = 1 turns routing on as well", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops, { op: "sysctlSet", ns: net.host, key: "net.ipv4.conf.all.forwarding", value: "1" })
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(true)
  })

  it("without a route there is no reach, and a probe says no-route where the kernel can tell", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    const result = await harness.probe(a, "10.99.0.1")
    expect(result.reachable).toBe(false)
    if (harness.kernel.backend === "sim") expect(result.reason).toBe("no-route")
  })

  it("a veth whose peer is down carries nothing (no carrier) until the peer comes up", async () => {
    const harness = h()
    const a = harness.ns("a")
    const b = harness.ns("b")
    await harness.apply(
      host(a),
      host(b),
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "eth0", peer: { name: "eth0", ns: b } } },
      { op: "addrAdd", ns: a, dev: "eth0", cidr: "10.33.0.1/24" },
      { op: "addrAdd", ns: b, dev: "eth0", cidr: "10.33.0.2/24" },
      { op: "linkSet", ns: a, name: "eth0", up: true },
    )
    // the connected route exists (Linux flags it linkdown) but nothing passes
    expect((await harness.read(a)).routes).toContainEqual({ dst: "10.33.0.0/24", dev: "eth0", scope: "link", origin: "kernel" })
    expect(await harness.reachable(a, "10.33.0.2")).toBe(false)
    await harness.apply({ op: "linkSet", ns: b, name: "eth0", up: true })
    expect(await harness.reachable(a, "10.33.0.2")).toBe(true)
  })

  it("an address on a down link of the far namespace still answers", async () => {
    const harness = h()
    const a = harness.ns("a")
    const b = harness.ns("b")
    await harness.apply(
      host(a),
      host(b),
      wire({ ns: a, dev: "eth0", cidr: "10.33.0.1/24" }, { ns: b, dev: "eth0", cidr: "10.33.0.2/24" }),
      { op: "linkAdd", ns: b, link: { kind: "bridge", name: "br9" } },
      { op: "addrAdd", ns: b, dev: "br9", cidr: "10.34.0.1/24" },
      { op: "routeAdd", ns: a, route: { dst: "10.34.0.0/24", dev: "eth0" } },
    )
    expect(await harness.reachable(a, "10.34.0.1")).toBe(true)
  })

  it("a namespace reaches its own addresses only while lo is up", async () => {
    const harness = h()
    const a = harness.ns("a")
    const b = harness.ns("b")
    await harness.apply(
      { op: "nsAdd", ns: a },
      { op: "nsAdd", ns: b },
      wire({ ns: a, dev: "eth0", cidr: "10.33.0.1/24" }, { ns: b, dev: "eth0", cidr: "10.33.0.2/24" }),
    )
    expect(await harness.reachable(a, "10.33.0.1")).toBe(false)
    // the far side answers without its lo: only locally delivered packets go through lo
    expect(await harness.reachable(a, "10.33.0.2")).toBe(true)
    await harness.apply({ op: "linkSet", ns: a, name: "lo", up: true })
    expect(await harness.reachable(a, "10.33.0.1")).toBe(true)
    expect(await harness.reachable(a, "127.0.0.1")).toBe(true)
    await harness.apply({ op: "linkSet", ns: a, name: "lo", up: false })
    expect(await harness.reachable(a, "127.0.0.1")).toBe(false)
  })

  it("a bridge that is down switches nothing", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops, { op: "linkSet", ns: net.host, name: "br0", up: false })
    expect(await harness.reachable(net.c1, "10.31.0.3")).toBe(false)
    await harness.apply({ op: "linkSet", ns: net.host, name: "br0", up: true })
    expect(await harness.reachable(net.c1, "10.31.0.3")).toBe(true)
  })

  it("a container whose bridge port was released is cut off", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops, { op: "linkSet", ns: net.host, name: "vc3", master: null })
    expect(await harness.reachable(net.c1, "10.31.0.3")).toBe(false)
  })

  it("a routing loop between two forwarding namespaces ends (TTL) without an answer", async () => {
    const harness = h()
    const a = harness.ns("a")
    const b = harness.ns("b")
    await harness.apply(
      host(a),
      host(b),
      wire({ ns: a, dev: "eth0", cidr: "10.33.0.1/24" }, { ns: b, dev: "eth0", cidr: "10.33.0.2/24" }),
      { op: "sysctlSet", ns: a, key: "net.ipv4.ip_forward", value: "1" },
      { op: "sysctlSet", ns: b, key: "net.ipv4.ip_forward", value: "1" },
      { op: "routeAdd", ns: a, route: { dst: "10.99.0.0/24", via: "10.33.0.2" } },
      { op: "routeAdd", ns: b, route: { dst: "10.99.0.0/24", via: "10.33.0.1" } },
    )
    expect(await harness.reachable(a, "10.99.0.1")).toBe(false)
    // the loop does not hurt anything else
    expect(await harness.reachable(a, "10.33.0.2")).toBe(true)
  })

  it("a permanent neighbour entry with a wrong MAC sends the echo nowhere", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops, { op: "neighAdd", ns: net.c1, dev: "eth0", ip: "10.31.0.3", mac: "02:00:00:00:de:ad" })
    expect(await harness.reachable(net.c1, "10.31.0.3")).toBe(false)
  })
}
