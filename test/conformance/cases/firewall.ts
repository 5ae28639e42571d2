import { expect, it } from "vitest"
import type { Capabilities, FwChain, FwTable } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { host, twoBridges, wire } from "../topologies.ts"

/** nftables semantics, each case checked with ping against real nft tables */
export const firewallCases = (h: () => Harness, caps: Capabilities): void => {
  const table = (name: string, ...chains: ReadonlyArray<FwChain>): FwTable => ({ name, chains })

  const forwarding = (ns: string) => ({ op: "sysctlSet", ns, key: "net.ipv4.ip_forward", value: "1" }) as const

  it.skipIf(!caps.firewall)("a forward-hook drop between two bridges stops the probe; deleting the table lets it through", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops, forwarding(net.host), {
      op: "firewallSet",
      ns: net.host,
      table: table("isolate", {
        name: "fw",
        hook: "forward",
        type: "filter",
        priority: 0,
        rules: [{ match: { iif: "br0", oif: "br1" }, verdict: { kind: "drop" }, comment: "br0-to-br1" }],
      }),
    })
    const blocked = await harness.probe(net.c1, "10.32.0.2")
    expect(blocked.reachable).toBe(false)
    if (harness.kernel.backend === "sim") {
      expect(blocked.reason).toBe("filtered")
      expect(blocked.detail).toContain("isolate/fw/br0-to-br1")
    }
    // the other direction's request passes, its reply is dropped
    expect(await harness.reachable(net.c2, "10.31.0.2")).toBe(false)
    // traffic that is not forwarded is not seen by the forward hook
    expect(await harness.reachable(net.c1, "10.32.0.1")).toBe(true)
    await harness.apply({ op: "firewallDel", ns: net.host, table: "isolate" })
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(true)
  })

  it.skipIf(!caps.firewall)("with a drop policy, replies need an established-accept rule; new flows only go the allowed way", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    const oneWay = (established: boolean): FwTable =>
      table("oneway", {
        name: "fw",
        hook: "forward",
        type: "filter",
        priority: 0,
        policy: "drop",
        rules: [
          ...(established ? [{ match: { ctState: ["established", "related"] as const }, verdict: { kind: "accept" } } as const] : []),
          { match: { iif: "br0", oif: "br1" }, verdict: { kind: "accept" } },
        ],
      })
    await harness.apply(net.ops, forwarding(net.host), { op: "firewallSet", ns: net.host, table: oneWay(false) })
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(false)
    // firewallSet replaces the table atomically
    await harness.apply({ op: "firewallSet", ns: net.host, table: oneWay(true) })
    expect((await harness.read(net.host)).firewall).toEqual([oneWay(true)])
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(true)
    expect(await harness.reachable(net.c2, "10.31.0.2")).toBe(false)
  })

  it.skipIf(!caps.firewall)("a drop in one table wins over an accept in another on the same hook", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(
      net.ops,
      forwarding(net.host),
      {
        op: "firewallSet",
        ns: net.host,
        table: table("allow", { name: "fw", hook: "forward", type: "filter", priority: 0, rules: [{ match: {}, verdict: { kind: "accept" } }] }),
      },
      {
        op: "firewallSet",
        ns: net.host,
        table: table("deny", {
          name: "fw",
          hook: "forward",
          type: "filter",
          priority: 10,
          rules: [{ match: { iif: "br0" }, verdict: { kind: "drop" } }],
        }),
      },
    )
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(false)
  })

  it.skipIf(!caps.firewall)("jump and return: a rule in a regular chain decides, a return goes back to the caller", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    const withJump = (dropInChain: boolean): FwTable =>
      table(
        "jumps",
        {
          name: "fw",
          hook: "forward",
          type: "filter",
          priority: 0,
          rules: [{ match: { iif: "br0" }, verdict: { kind: "jump", chain: "from-br0" } }],
        },
        {
          name: "from-br0",
          rules: [
            { match: { dst: "10.32.0.0/24" }, verdict: dropInChain ? { kind: "drop" } : { kind: "return" } },
            { match: {}, verdict: { kind: "drop" } },
          ],
        },
      )
    await harness.apply(net.ops, forwarding(net.host), { op: "firewallSet", ns: net.host, table: withJump(true) })
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(false)
    await harness.apply({ op: "firewallSet", ns: net.host, table: withJump(false) })
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(true)
  })

  it.skipIf(!caps.firewall)("a bridge-forward drop stops port-to-port traffic but not traffic to the bridge's own address", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops, {
      op: "firewallSet",
      ns: net.host,
      table: table("ports", {
        name: "fw",
        hook: "bridge-forward",
        type: "filter",
        priority: 0,
        rules: [{ match: { bridge: "br0", iif: "vc1", oif: "vc3" }, verdict: { kind: "drop" } }],
      }),
    })
    expect(await harness.reachable(net.c1, "10.31.0.3")).toBe(false)
    // c3's request passes vc3 -> vc1, the reply vc1 -> vc3 does not
    expect(await harness.reachable(net.c3, "10.31.0.2")).toBe(false)
    expect(await harness.reachable(net.c1, "10.31.0.1")).toBe(true)
    expect(await harness.reachable(net.c3, "10.31.0.1")).toBe(true)
  })

  it.skipIf(!caps.firewall)("masquerade on the way out lets a network without a route back answer", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    const outside = harness.ns("out")
    await harness.apply(
      net.ops,
      host(outside),
      wire({ ns: net.host, dev: "ext0", cidr: "192.168.50.1/24" }, { ns: outside, dev: "eth0", cidr: "192.168.50.2/24" }),
      forwarding(net.host),
    )
    expect(await harness.reachable(net.c1, "192.168.50.2")).toBe(false)
    await harness.apply({
      op: "firewallSet",
      ns: net.host,
      table: table("nat", {
        name: "post",
        hook: "postrouting",
        type: "nat",
        priority: 100,
        rules: [{ match: { oif: "ext0" }, verdict: { kind: "masquerade" } }],
      }),
    })
    expect(await harness.reachable(net.c1, "192.168.50.2")).toBe(true)
  })

  it.skipIf(!caps.firewall)("dnat in prerouting sends an address nobody has to a container, and the reply comes back from it", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    const outside = harness.ns("out")
    await harness.apply(
      net.ops,
      host(outside),
      wire({ ns: net.host, dev: "ext0", cidr: "192.168.50.1/24" }, { ns: outside, dev: "eth0", cidr: "192.168.50.2/24" }),
      { op: "routeAdd", ns: outside, route: { dst: "10.31.0.0/24", via: "192.168.50.1" } },
      forwarding(net.host),
    )
    expect(await harness.reachable(outside, "10.31.0.200")).toBe(false)
    await harness.apply({
      op: "firewallSet",
      ns: net.host,
      table: table("nat", {
        name: "pre",
        hook: "prerouting",
        type: "nat",
        priority: -100,
        rules: [{ match: { dst: "10.31.0.200" }, verdict: { kind: "dnat", to: "10.31.0.2" } }],
      }),
    })
    expect(await harness.reachable(outside, "10.31.0.200")).toBe(true)
  })

  it.skipIf(!caps.firewall)("an input-hook drop makes the namespace deaf to probes, its forwarding unaffected", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops, forwarding(net.host), {
      op: "firewallSet",
      ns: net.host,
      table: table("deaf", {
        name: "in",
        hook: "input",
        type: "filter",
        priority: 0,
        rules: [{ match: { proto: "icmp", iif: "br0" }, verdict: { kind: "drop" } }],
      }),
    })
    expect(await harness.reachable(net.c1, "10.31.0.1")).toBe(false)
    expect(await harness.reachable(net.c2, "10.32.0.1")).toBe(true)
    expect(await harness.reachable(net.c1, "10.32.0.2")).toBe(true)
  })
}
