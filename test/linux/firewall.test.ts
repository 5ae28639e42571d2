import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import type { FwTable } from "../../backends/kernel-types.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { failure, inNs, needsRoot, nsName, root, run, sh } from "./support.ts"

const nftTables = (ns: string): string[] =>
  (JSON.parse(sh("ip", ["netns", "exec", ns, "nft", "-j", "list", "tables"])).nftables as Array<{ table?: { family: string; name: string } }>)
    .flatMap((i) => (i.table ? [`${i.table.family} ${i.table.name}`] : []))
    .sort()

const ipTable = (rules: FwTable["chains"][number]["rules"], policy: "accept" | "drop" = "accept"): FwTable => ({
  name: "routed",
  chains: [{ name: "forward", hook: "forward", type: "filter", priority: 0, policy, rules }],
})

describe.skipIf(!root)(`linux backend: firewall through nftables (${needsRoot})`, () => {
  let kernel: KernelShape
  // two containers on one bridge in a host, and a third namespace routed through the host
  const host = nsName("fw-h")
  const c1 = nsName("fw-c1")
  const c2 = nsName("fw-c2")
  const outside = nsName("fw-o")
  beforeAll(async () => {
    kernel = await makeLinuxKernel()
    const attach = (ns: string, hostIf: string, address: string) =>
      [
        { op: "nsAdd", ns },
        { op: "linkAdd", ns: host, link: { kind: "veth", name: hostIf, master: "br0", up: true, peer: { name: "eth0", ns } } },
        { op: "addrAdd", ns, dev: "eth0", cidr: address },
        { op: "linkSet", ns, name: "eth0", up: true },
        { op: "routeAdd", ns, route: { dst: "default", via: "10.30.0.1" } },
      ] as const
    await run(
      kernel.apply([
        { op: "nsAdd", ns: host },
        { op: "sysctlSet", ns: host, key: "net.ipv4.ip_forward", value: "1" },
        { op: "linkAdd", ns: host, link: { kind: "bridge", name: "br0", up: true } },
        { op: "addrAdd", ns: host, dev: "br0", cidr: "10.30.0.1/24" },
        ...attach(c1, "vc1", "10.30.0.2/24"),
        ...attach(c2, "vc2", "10.30.0.3/24"),
        { op: "nsAdd", ns: outside },
        { op: "linkAdd", ns: host, link: { kind: "veth", name: "up0", up: true, peer: { name: "eth0", ns: outside } } },
        { op: "addrAdd", ns: host, dev: "up0", cidr: "192.168.77.1/24" },
        { op: "addrAdd", ns: outside, dev: "eth0", cidr: "192.168.77.2/24" },
        { op: "linkSet", ns: outside, name: "eth0", up: true },
        { op: "routeAdd", ns: outside, route: { dst: "10.30.0.0/24", via: "192.168.77.1" } },
      ]),
    )
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  it("reads back exactly the table it set, from the kernel's own listing", async () => {
    const table: FwTable = {
      name: "mixed",
      chains: [
        { name: "forward", hook: "forward", type: "filter", priority: 0, policy: "accept", rules: [{ match: { iif: "br0", oifNot: "br0" }, verdict: { kind: "jump", chain: "fwd" } }] },
        { name: "fwd", rules: [{ match: { oif: "up0", ctState: ["established", "related"] }, verdict: { kind: "accept" }, comment: 'say "hi"' }] },
        { name: "post", hook: "postrouting", type: "nat", priority: 100, rules: [{ match: { src: "10.30.0.0/24", oifNot: "br0" }, verdict: { kind: "masquerade" } }] },
        { name: "pre", hook: "prerouting", type: "nat", rules: [{ match: { proto: "tcp", dport: 8080 }, verdict: { kind: "dnat", to: "10.30.0.2", port: 80 } }] },
        { name: "l2", hook: "bridge-forward", type: "filter", rules: [{ match: { bridge: "br0", iif: "vc1" }, verdict: { kind: "accept" } }] },
      ],
    }
    await run(kernel.apply([{ op: "firewallSet", ns: host, table }]))
    expect(nftTables(host)).toEqual(["bridge cnm-mixed", "ip cnm-mixed"])
    expect((await run(kernel.read(host))).firewall).toEqual([table])
    // iproute2's neighbour: nft's own text listing shows what we meant
    const listing = sh("ip", ["netns", "exec", host, "nft", "list", "ruleset"])
    expect(listing).toContain('iifname "br0" oifname != "br0" jump fwd')
    expect(listing).toContain("tcp dport 8080 dnat to 10.30.0.2:80")
    expect(listing).toMatch(/iifname @ports-br0 iifname "vc1" accept/)
    expect(listing).toMatch(/elements = \{ "vc1",\s+"vc2" \}/)
    await run(kernel.apply([{ op: "firewallDel", ns: host, table: "mixed" }]))
    expect(nftTables(host)).toEqual([])
  })

  it("round-trips generated tables through the real nft", async () => {
    const ifname = fc.constantFrom("br0", "vc1", "up0", "eth9")
    const rule = fc.record(
      {
        match: fc.record(
          {
            iif: ifname,
            oifNot: ifname,
            src: fc.constantFrom("10.30.0.0/24", "10.30.0.2/32", "0.0.0.0/0"),
            proto: fc.constantFrom("tcp" as const, "udp" as const),
            dport: fc.integer({ min: 1, max: 65535 }),
            ctState: fc.subarray(["new", "established", "related"] as const, { minLength: 1 }),
          },
          { requiredKeys: [] },
        ),
        verdict: fc.constantFrom({ kind: "accept" } as const, { kind: "drop" } as const, { kind: "jump", chain: "sub" } as const),
      },
      { requiredKeys: ["match", "verdict"] },
    )
    await fc.assert(
      fc.asyncProperty(fc.array(rule, { maxLength: 5 }), fc.constantFrom("accept" as const, "drop" as const), async (rules, policy) => {
        const table: FwTable = {
          name: "gen",
          chains: [
            { name: "input", hook: "input", type: "filter", priority: -5, policy, rules },
            { name: "sub", rules: [{ match: {}, verdict: { kind: "return" } }] },
          ],
        }
        await run(kernel.apply([{ op: "firewallSet", ns: c1, table }]))
        expect((await run(kernel.read(c1))).firewall).toEqual([table])
      }),
      { numRuns: 12 },
    )
    await run(kernel.apply([{ op: "firewallDel", ns: c1, table: "gen" }]))
  })

  it("a table that gains or loses a few rules anywhere holds exactly the table asked for, and only the ports it holds answer", async () => {
    // published ports as the bridge driver writes them: a DNAT per port; the ones that go are in the middle
    const ports = [8081, 8082, 8083, 8084, 8085]
    const published = (list: ReadonlyArray<number>): FwTable => ({
      name: "ports",
      chains: [
        { name: "pre", hook: "prerouting", type: "nat", priority: -100, rules: list.map((port) => ({ match: { proto: "tcp", dport: port }, verdict: { kind: "dnat", to: "10.30.0.2", port: 80 } })) },
        { name: "post", hook: "postrouting", type: "nat", priority: 100, rules: [{ match: { src: "10.30.0.0/24", oifNot: "br0" }, verdict: { kind: "masquerade" } }] },
      ],
    })
    await run(kernel.listen({ ns: c1, port: 80, proto: "tcp", answer: "c1" }))
    // deleted, put back in the middle, appended, the table replaced, and again
    for (const list of [ports, [8081, 8083, 8085], ports, [8086, 8081, 8082, 8083, 8084, 8085], [8086], ports]) {
      await run(kernel.apply([{ op: "firewallSet", ns: host, table: published(list) }]))
      expect((await run(kernel.read(host))).firewall).toEqual([published(list)])
      for (const port of [8082, 8086]) {
        const result = await run(kernel.connect({ from: outside, address: "192.168.77.1", port, proto: "tcp" }))
        expect(result.outcome, `port ${port} with ${list.join(",")}`).toBe(list.includes(port) ? "answer" : "refused")
      }
    }
    await run(kernel.unlisten({ ns: c1, port: 80, proto: "tcp" }))
    await run(kernel.apply([{ op: "firewallDel", ns: host, table: "ports" }]))
  })

  it("replaces a table atomically, including dropping its bridge half", async () => {
    const withBridge: FwTable = {
      name: "swap",
      chains: [{ name: "l2", hook: "bridge-forward", rules: [{ match: { bridge: "br0" }, verdict: { kind: "drop" } }] }],
    }
    await run(kernel.apply([{ op: "firewallSet", ns: host, table: withBridge }]))
    expect(nftTables(host)).toEqual(["bridge cnm-swap"])
    const routedOnly = ipTable([{ match: { iif: "up0" }, verdict: { kind: "accept" } }])
    await run(kernel.apply([{ op: "firewallSet", ns: host, table: { ...routedOnly, name: "swap" } }]))
    expect(nftTables(host)).toEqual(["ip cnm-swap"])
    expect((await run(kernel.read(host))).firewall).toEqual([{ ...routedOnly, name: "swap" }])
    await run(kernel.apply([{ op: "firewallDel", ns: host, table: "swap" }]))
    expect((await failure(kernel.apply([{ op: "firewallDel", ns: host, table: "swap" }]))).reason).toBe("NotFound")
  })

  it("filters real traffic: a forward chain cuts routed flows only, a bridge-forward drop cuts switched ones", async () => {
    expect((await run(kernel.probe(c1, "10.30.0.3"))).reachable).toBe(true)
    expect((await run(kernel.probe(outside, "10.30.0.2"))).reachable).toBe(true)

    await run(kernel.apply([{ op: "firewallSet", ns: host, table: ipTable([], "drop") }]))
    // routed: outside -> c1 crosses the host's forward hook
    expect((await run(kernel.probe(outside, "10.30.0.2"))).reachable).toBe(false)
    // switched within br0: not routed, so the ip forward hook does not see it (br_netfilter off)
    expect((await run(kernel.probe(c1, "10.30.0.3"))).reachable).toBe(true)
    await run(kernel.apply([{ op: "firewallSet", ns: host, table: ipTable([{ match: { ctState: ["established", "related"] }, verdict: { kind: "accept" } }, { match: { iif: "up0", oif: "br0", proto: "icmp" }, verdict: { kind: "accept" } }], "drop") }]))
    expect((await run(kernel.probe(outside, "10.30.0.2"))).reachable).toBe(true)
    expect((await run(kernel.probe(c1, "192.168.77.2"))).reachable).toBe(false)
    await run(kernel.apply([{ op: "firewallDel", ns: host, table: "routed" }]))

    const icc: FwTable = { name: "icc", chains: [{ name: "l2", hook: "bridge-forward", policy: "accept", rules: [{ match: { bridge: "br0" }, verdict: { kind: "drop" } }] }] }
    await run(kernel.apply([{ op: "firewallSet", ns: host, table: icc }]))
    expect((await run(kernel.probe(c1, "10.30.0.3"))).reachable).toBe(false)
    // to the bridge itself is not switched between ports: still answered
    expect((await run(kernel.probe(c1, "10.30.0.1"))).reachable).toBe(true)
    // a port that joins later is covered too (the port set follows the bridge)
    const c3 = nsName("fw-c3")
    await run(
      kernel.apply([
        { op: "nsAdd", ns: c3 },
        { op: "linkAdd", ns: host, link: { kind: "veth", name: "vc3", master: "br0", up: true, peer: { name: "eth0", ns: c3 } } },
        { op: "addrAdd", ns: c3, dev: "eth0", cidr: "10.30.0.4/24" },
        { op: "linkSet", ns: c3, name: "eth0", up: true },
      ]),
    )
    expect(sh("ip", ["netns", "exec", host, "nft", "list", "set", "bridge", "cnm-icc", "ports-br0"])).toContain('"vc3"')
    expect((await run(kernel.probe(c3, "10.30.0.3"))).reachable).toBe(false)
    expect(inNs(c3, "ping", "-c1", "-W1", "10.30.0.2").status).not.toBe(0)
    await run(kernel.apply([{ op: "firewallDel", ns: host, table: "icc" }]))
    expect((await run(kernel.probe(c3, "10.30.0.3"))).reachable).toBe(true)
    await run(kernel.apply([{ op: "nsDel", ns: c3 }]))
  })

  it("keeps a bridge's port set to the ports the ops name: a port released leaves it, a name taken again off the bridge is dropped", async () => {
    const ports = () => sh("ip", ["netns", "exec", host, "nft", "-j", "list", "set", "bridge", "cnm-watch", "ports-br0"])
    const watch: FwTable = { name: "watch", chains: [{ name: "l2", hook: "bridge-forward", policy: "accept", rules: [{ match: { bridge: "br0" }, verdict: { kind: "drop" } }] }] }
    const c4 = nsName("fw-c4")
    await run(kernel.apply([{ op: "firewallSet", ns: host, table: watch }]))
    expect(ports()).toContain('"vc1"')
    await run(kernel.apply([{ op: "nsAdd", ns: c4 }, { op: "linkAdd", ns: host, link: { kind: "veth", name: "vc4", master: "br0", up: true, peer: { name: "eth0", ns: c4 } } }]))
    expect(ports()).toContain('"vc4"')
    await run(kernel.apply([{ op: "linkSet", ns: host, name: "vc4", master: null }]))
    expect(ports()).not.toContain('"vc4"')
    await run(kernel.apply([{ op: "linkSet", ns: host, name: "vc4", master: "br0" }]))
    expect(ports()).toContain('"vc4"')
    // the far end's namespace deleted takes vc4 along; the set keeps the name until a link takes it again
    await run(kernel.apply([{ op: "nsDel", ns: c4 }, { op: "nsAdd", ns: c4 }]))
    await run(kernel.apply([{ op: "linkAdd", ns: host, link: { kind: "veth", name: "vc4", up: true, peer: { name: "eth0", ns: c4 } } }]))
    expect(ports()).not.toContain('"vc4"')
    expect(ports()).toContain('"vc2"')
    await run(kernel.apply([{ op: "firewallDel", ns: host, table: "watch" }, { op: "nsDel", ns: c4 }]))
  })

  it("answers with nft's refusal for what this kernel cannot do, and for nonsense", async () => {
    const ctInBridge: FwTable = { name: "ct", chains: [{ name: "l2", hook: "bridge-forward", rules: [{ match: { ctState: ["established"] }, verdict: { kind: "accept" } }] }] }
    const outcome = await run(kernel.apply([{ op: "firewallSet", ns: host, table: ctInBridge }])).then(
      () => "accepted",
      () => "refused",
    )
    // the oracle: nft itself, in its own text syntax (kernels with CONFIG_NF_CONNTRACK_BRIDGE accept it)
    const direct = inNs(host, "nft", "add table bridge oracle; add chain bridge oracle c { type filter hook forward priority 0; }; add rule bridge oracle c ct state established accept")
    inNs(host, "nft", "delete table bridge oracle")
    expect(outcome).toBe(direct.status === 0 ? "accepted" : "refused")
    if (outcome === "accepted") await run(kernel.apply([{ op: "firewallDel", ns: host, table: "ct" }]))
    const badJump: FwTable = { name: "bad", chains: [{ name: "f", hook: "forward", rules: [{ match: {}, verdict: { kind: "jump", chain: "missing" } }] }] }
    const e = await failure(kernel.apply([{ op: "firewallSet", ns: host, table: badJump }]))
    expect(e.reason).not.toBe("Unknown")
    expect(nftTables(host).filter((t) => t.includes("cnm-bad"))).toEqual([])
  })
})
