import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { FwTable, KernelOp, ProbeResult } from "../../backends/kernel-types.ts"
import { KernelError } from "../../backends/KernelError.ts"
import { makeSimKernel, type SimKernel } from "../../backends/sim/layer.ts"
import { containerOnBridge, host, twoBridges } from "./topologies.ts"

/**
 * What only the simulator can say, on top of the conformance suite: why a probe failed (the real
 * kernel only sees silence), the hop-by-hop trace, the synchronous fast path, replayable MACs.
 */

const names = (suffix: string): string => `sim-${suffix}`

const probe = (kernel: SimKernel, from: string, to: string, trace = false): ProbeResult =>
  Effect.runSync(kernel.probe(from, to, { trace }))

const built = (...ops: ReadonlyArray<ReadonlyArray<KernelOp>>): SimKernel => {
  const kernel = makeSimKernel()
  kernel.applySync(ops.flat())
  return kernel
}

/** two bridges whose host forwards, under one firewall table */
const forwardingWith = (net: ReturnType<typeof twoBridges>, table: FwTable): SimKernel =>
  built(net.ops, [
    { op: "sysctlSet", ns: net.host, key: "net.ipv4.ip_forward", value: "1" },
    { op: "firewallSet", ns: net.host, table },
  ])

describe("sim: why a probe failed", () => {
  it("no route: the namespace without one is named", () => {
    const kernel = built(host(names("a")))
    expect(probe(kernel, names("a"), "10.9.9.9")).toEqual({
      reachable: false,
      reason: "no-route",
      detail: "sim-a: no route to 10.9.9.9",
    })
  })

  it("not forwarded: the host that would have to route says so", () => {
    const net = twoBridges(names)
    const result = probe(built(net.ops), net.c1, "10.32.0.2")
    expect(result.reason).toBe("not-forwarded")
    expect(result.detail).toContain(net.host)
  })

  it("filtered: the table, chain and rule comment that dropped it", () => {
    const net = twoBridges(names)
    const kernel = forwardingWith(net, {
      name: "t",
      chains: [{ name: "c", hook: "forward", rules: [{ match: { oif: "br1" }, verdict: { kind: "drop" }, comment: "no-br1" }] }],
    })
    expect(probe(kernel, net.c1, "10.32.0.2")).toMatchObject({ reason: "filtered", detail: `${net.host}: forward dropped by t/c/no-br1` })
  })

  it("filtered at a bridge port: a dropped ARP request is reported as the drop, not as silence", () => {
    const net = twoBridges(names)
    const kernel = built(net.ops, [
      {
        op: "firewallSet",
        ns: net.host,
        table: { name: "b", chains: [{ name: "f", hook: "bridge-forward", policy: "drop", rules: [] }] },
      },
    ])
    const result = probe(kernel, net.c1, "10.31.0.3")
    expect(result.reason).toBe("filtered")
    expect(result.detail).toContain("vc1 -> vc3")
    expect(result.detail).toContain("b/f/policy drop")
  })

  it("link-down: a veth whose peer is down", () => {
    const a = names("a")
    const b = names("b")
    const kernel = built(host(a), host(b), [
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "eth0", up: true, peer: { name: "eth0", ns: b } } },
      { op: "addrAdd", ns: a, dev: "eth0", cidr: "10.33.0.1/24" },
      { op: "addrAdd", ns: b, dev: "eth0", cidr: "10.33.0.2/24" },
    ])
    expect(probe(kernel, a, "10.33.0.2")).toMatchObject({ reachable: false, reason: "link-down" })
  })

  it("unresolved: nobody on the segment has the address", () => {
    const net = twoBridges(names)
    expect(probe(built(net.ops), net.c1, "10.31.0.77")).toMatchObject({ reachable: false, reason: "unresolved" })
  })

  it("ARP answers are remembered only while nothing changes: a container recreated with a new MAC is found again", () => {
    const net = twoBridges(names)
    const kernel = built(net.ops)
    expect(probe(kernel, net.c1, "10.31.0.3").reachable).toBe(true)
    expect(probe(kernel, net.c1, "10.31.0.3", true).trace?.map((hop) => hop.event)).toContain(
      `arp 10.31.0.3 is-at ${Effect.runSync(kernel.read(net.c3)).links.find((link) => link.name === "eth0")?.mac} (cached)`,
    )
    kernel.applySync([
      { op: "nsDel", ns: net.c3 },
      ...containerOnBridge({ hostNs: net.host, bridge: "br0", hostEnd: "vc3", container: net.c3, cidr: "10.31.0.3/24", gateway: "10.31.0.1" }),
    ])
    // the kernel would keep the stale entry for seconds (Docker sends a gratuitous ARP for that); the sim forgets at once
    expect(probe(kernel, net.c1, "10.31.0.3").reachable).toBe(true)
  })

  it("a trace follows the request and the reply hop by hop", () => {
    const net = twoBridges(names)
    const result = probe(built(net.ops), net.c1, "10.31.0.3", true)
    expect(result.reachable).toBe(true)
    const events = (result.trace ?? []).map((hop) => `${hop.ns}${hop.dev === undefined ? "" : `/${hop.dev}`}: ${hop.event}`)
    expect(events[0]).toBe(`${net.c1}/eth0: send 10.31.0.2 -> 10.31.0.3 via 10.31.0.3`)
    expect(events).toContain(`${net.host}/br0: bridge vc1 -> vc3`)
    expect(events).toContain(`${net.c3}/eth0: deliver 10.31.0.3`)
    expect(events.at(-1)).toBe(`${net.c1}/eth0: deliver 10.31.0.2`)
    // without trace, no trace
    expect(probe(built(net.ops), net.c1, "10.31.0.3")).toEqual({ reachable: true, reason: "answered" })
  })
})

describe("sim: loops end", () => {
  it("a switching loop (two bridges joined twice, no STP) does not hang a probe", () => {
    const net = twoBridges(names)
    const kernel = built(net.ops, [
      { op: "linkAdd", ns: net.host, link: { kind: "veth", name: "l0", master: "br0", up: true, peer: { name: "l1" } } },
      { op: "linkSet", ns: net.host, name: "l1", master: "br1", up: true },
      { op: "linkAdd", ns: net.host, link: { kind: "veth", name: "l2", master: "br0", up: true, peer: { name: "l3" } } },
      { op: "linkSet", ns: net.host, name: "l3", master: "br1", up: true },
      // c2 moves onto the 10.31/24 segment, now reachable at layer 2 through the loop
      { op: "addrAdd", ns: net.c2, dev: "eth0", cidr: "10.31.0.9/24" },
    ])
    expect(probe(kernel, net.c1, "10.31.0.9").reachable).toBe(true)
    expect(probe(kernel, net.c1, "10.31.0.99")).toMatchObject({ reachable: false, reason: "unresolved" })
  })

  it("an overlay carried over itself ends with no answer instead of recursing forever", () => {
    const a = names("a")
    const kernel = built(host(a), [
      { op: "linkAdd", ns: a, link: { kind: "vxlan", name: "vx0", vni: 1, port: 4789, up: true } },
      { op: "addrAdd", ns: a, dev: "vx0", cidr: "10.5.0.1/24" },
      // the remote VTEP is only reachable through the vxlan itself
      { op: "routeAdd", ns: a, route: { dst: "192.168.9.0/24", dev: "vx0" } },
      { op: "fdbAdd", ns: a, dev: "vx0", mac: "00:00:00:00:00:00", dst: "192.168.9.9" },
    ])
    expect(probe(kernel, a, "10.5.0.2")).toMatchObject({ reachable: false, reason: "no-answer" })
  })
})

describe("sim: the machine itself", () => {
  it("applySync throws the refusal (reason, errno, op) and keeps what came before", () => {
    const kernel = makeSimKernel()
    const duplicate: KernelOp = { op: "nsAdd", ns: names("a") }
    let thrown: unknown
    try {
      kernel.applySync([{ op: "nsAdd", ns: names("a") }, duplicate, { op: "nsAdd", ns: names("b") }])
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(KernelError)
    expect(thrown).toMatchObject({ reason: "AlreadyExists", errno: "EEXIST", op: duplicate })
    expect(Effect.runSync(kernel.namespaces())).toEqual([names("a")])
  })

  it("the same seed gives the same MACs; another seed, others", () => {
    const macs = (seed: number): ReadonlyArray<string> => {
      const kernel = makeSimKernel({ seed })
      const net = twoBridges(names)
      kernel.applySync(net.ops)
      return Effect.runSync(kernel.read(net.host)).links.map((link) => link.mac)
    }
    expect(macs(7)).toEqual(macs(7))
    expect(macs(7)).not.toEqual(macs(8))
  })

  it("a bridge learns: once it has seen a MAC, frames for it leave by that one port instead of every port", () => {
    const net = twoBridges(names)
    const c4 = names("c4")
    const kernel = built(net.ops, containerOnBridge({ hostNs: net.host, bridge: "br0", hostEnd: "vc4", container: c4, cidr: "10.31.0.4/24" }))
    const crossings = (result: ProbeResult) => (result.trace ?? []).filter((hop) => hop.event.startsWith("bridge ")).map((hop) => hop.event)
    // the first probe asks ARP (a broadcast, flooded: vc3 sees it before vc4 answers); the bridge learns both MACs
    expect(crossings(probe(kernel, net.c1, "10.31.0.4", true))).toContain("bridge vc1 -> vc3")
    // the second knows the MAC: the request goes straight to vc4 and the reply straight back, never by vc3
    expect(crossings(probe(kernel, net.c1, "10.31.0.4", true))).toEqual(["bridge vc1 -> vc4", "bridge vc4 -> vc1"])
  })

  it("a bridge takes the lowest MAC of its ports unless its own was set", () => {
    const a = names("a")
    const kernel = built(host(a), [
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "br0" } },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "p1", mac: "02:00:00:00:00:09", master: "br0", peer: { name: "q1" } } },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "p2", mac: "02:00:00:00:00:05", master: "br0", peer: { name: "q2" } } },
    ])
    const bridgeMac = (): string | undefined => Effect.runSync(kernel.read(a)).links.find((link) => link.name === "br0")?.mac
    expect(bridgeMac()).toBe("02:00:00:00:00:05")
    kernel.applySync([{ op: "linkDel", ns: a, name: "p2" }])
    expect(bridgeMac()).toBe("02:00:00:00:00:09")
    kernel.applySync([{ op: "linkSet", ns: a, name: "br0", mac: "02:00:00:00:00:01" }, { op: "linkDel", ns: a, name: "p1" }])
    expect(bridgeMac()).toBe("02:00:00:00:00:01")
  })

  it("5,000 containers attach over five bridges (a bridge holds 1,023 ports) and detach, leaving the host as it was", () => {
    const kernel = makeSimKernel()
    const h = names("h")
    const bridges = ["br0", "br1", "br2", "br3", "br4"]
    kernel.applySync([
      ...host(h),
      ...bridges.flatMap((bridge, b): KernelOp[] => [
        { op: "linkAdd", ns: h, link: { kind: "bridge", name: bridge, up: true } },
        { op: "addrAdd", ns: h, dev: bridge, cidr: `10.${b}.0.1/16` },
      ]),
    ])
    const count = 5000
    const perBridge = count / bridges.length
    const address = (i: number): string => `10.${Math.floor(i / perBridge)}.${((i % perBridge) + 2) >> 8}.${((i % perBridge) + 2) & 255}/16`
    const attach = Array.from({ length: count }, (_, i) =>
      containerOnBridge({
        hostNs: h,
        bridge: bridges[Math.floor(i / perBridge)] as string,
        hostEnd: `v${i}`,
        container: `c${i}`,
        cidr: address(i),
        gateway: `10.${Math.floor(i / perBridge)}.0.1`,
      }),
    )
    // how fast is the bench's business (bench/sim.ts); this checks that the work is undone exactly
    for (const ops of attach) kernel.applySync(ops)
    expect(Effect.runSync(kernel.read(h)).links).toHaveLength(1 + bridges.length + count)
    for (let i = 0; i < count; i++) kernel.applySync([{ op: "nsDel", ns: `c${i}` }])
    expect(Effect.runSync(kernel.read(h)).links.map((link) => link.name)).toEqual(["lo", ...bridges])
  })
})

describe("sim: what a connection went through", () => {
  const withNat = () => {
    const net = twoBridges(names)
    const kernel = forwardingWith(net, {
      name: "nat",
      chains: [
        {
          name: "pre",
          hook: "prerouting",
          type: "nat",
          rules: [{ match: { iif: "br1", proto: "tcp", dport: 8080 }, verdict: { kind: "dnat", to: "10.31.0.2", port: 80 } }],
        },
        { name: "post", hook: "postrouting", type: "nat", rules: [{ match: { oif: "br0", src: "10.32.0.0/24" }, verdict: { kind: "masquerade" } }] },
      ],
    })
    Effect.runSync(kernel.listen({ ns: net.c1, port: 80, proto: "tcp", answer: "c1" }))
    return { net, kernel }
  }

  it("the trace shows the DNAT and masquerade on the way there and the SYN-ACK un-NATed on the way home", () => {
    const { net, kernel } = withNat()
    const result = Effect.runSync(kernel.connect({ from: net.c2, address: "10.32.0.1", port: 8080, proto: "tcp", trace: true }))
    expect(result).toMatchObject({ outcome: "answer", answeredBy: "c1", seenFrom: "10.31.0.1" })
    const events = (result.trace ?? []).map((hop) => `${hop.ns}: ${hop.event}`)
    expect(events).toContain(`${net.host}: prerouting dnat to 10.31.0.2:80`)
    expect(events).toContain(`${net.host}: masquerade to 10.31.0.1`)
    expect(events).toContain(`${net.c1}: accept 10.31.0.2:80 from 10.31.0.1:${32768}`)
    // home: the SYN-ACK arrives at c2 from the address c2 connected to
    expect(events.at(-1)).toBe(`${net.c2}: deliver 10.32.0.2`)
    expect(events.some((e) => e.startsWith(`${net.c2}: receive 10.32.0.1 -> 10.32.0.2`))).toBe(true)
  })

  it("says where a connection died: the refusing namespace, the dropping rule, the router without a route", () => {
    const { net, kernel } = withNat()
    const refused = Effect.runSync(kernel.connect({ from: net.c2, address: "10.32.0.1", port: 8081, proto: "tcp" }))
    expect(refused).toEqual({ outcome: "refused", detail: `${net.host}: nothing listens on 10.32.0.1:8081/tcp` })
    const noRoute = Effect.runSync(kernel.connect({ from: net.c2, address: "192.0.2.1", port: 80, proto: "udp" }))
    expect(noRoute).toEqual({ outcome: "unreachable", detail: `${net.host}: no route to 192.0.2.1` })
  })

  it("a balancing counter advances once per new flow, probes included, and starts again when the table is set", () => {
    const net = twoBridges(names)
    const table = {
      name: "lb",
      chains: [
        {
          name: "out",
          hook: "output",
          type: "nat",
          rules: [{ match: { dst: "10.99.0.1/32" }, verdict: { kind: "dnatBalance", to: ["10.31.0.2", "10.31.0.3"] } }],
        },
      ],
    } as const
    // the VIP needs a route for the output lookup that comes before the output hook (as on Linux)
    const kernel = built(net.ops, [
      { op: "routeAdd", ns: net.host, route: { dst: "10.99.0.0/24", dev: "br0" } },
      { op: "firewallSet", ns: net.host, table },
    ])
    Effect.runSync(kernel.listen({ ns: net.c1, port: 80, proto: "tcp", answer: "c1" }))
    Effect.runSync(kernel.listen({ ns: net.c3, port: 80, proto: "tcp", answer: "c3" }))
    const who = () => Effect.runSync(kernel.connect({ from: net.host, address: "10.99.0.1", port: 80, proto: "tcp" })).answeredBy
    expect([who(), who(), who()]).toEqual(["c1", "c3", "c1"])
    // an echo to the VIP takes the next turn (numgen counts every evaluation)
    expect(probe(kernel, net.host, "10.99.0.1").reachable).toBe(true)
    expect(who()).toBe("c1")
    kernel.applySync([{ op: "firewallSet", ns: net.host, table }])
    expect(who()).toBe("c1")
  })
})
