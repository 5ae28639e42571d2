import { expect, it } from "vitest"
import type { Capabilities, KernelOp, LinkSpec } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { bridge, host } from "../topologies.ts"

/**
 * Every refusal with the reason Linux gives (errno measured on a 6.18 kernel, mapped by
 * backends/KernelError.ts). Each case sets up a namespace with a bridge br0 (10.50.0.1/24, up)
 * and a veth pair v0/v1 (down), then asks for something the kernel refuses.
 */
export const refusalCases = (h: () => Harness, caps: Capabilities): void => {
  const setup = async (): Promise<{ readonly a: string; readonly b: string; readonly harness: Harness }> => {
    const harness = h()
    const a = harness.ns("a")
    const b = harness.ns("b")
    await harness.apply(
      host(a),
      host(b),
      bridge(a, "br0", "10.50.0.1/24"),
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "v0", peer: { name: "v1" } } },
    )
    return { a, b, harness }
  }

  const refusals: ReadonlyArray<{
    readonly title: string
    readonly reason: Parameters<Harness["expectRefused"]>[0]
    readonly ops: (a: string, b: string) => ReadonlyArray<KernelOp>
  }> = [
    {
      title: "nsAdd of an existing namespace",
      reason: "AlreadyExists",
      ops: (a) => [{ op: "nsAdd", ns: a }],
    },
    {
      title: "linkAdd in a missing namespace",
      reason: "NotFound",
      ops: (a) => [{ op: "linkAdd", ns: `${a}-missing`, link: { kind: "bridge", name: "x" } }],
    },
    {
      title: "linkAdd of a name that exists in the namespace",
      reason: "AlreadyExists",
      ops: (a) => [{ op: "linkAdd", ns: a, link: { kind: "bridge", name: "v0" } }],
    },
    {
      title: "a veth whose peer name exists in the peer's namespace",
      reason: "AlreadyExists",
      ops: (a, b) => [{ op: "linkAdd", ns: a, link: { kind: "veth", name: "new0", peer: { name: "lo", ns: b } } }],
    },
    {
      title: "a veth whose peer name equals its own name in one namespace",
      reason: "AlreadyExists",
      ops: (a) => [{ op: "linkAdd", ns: a, link: { kind: "veth", name: "same", peer: { name: "same" } } }],
    },
    {
      title: "a link name longer than 15 bytes",
      reason: "InvalidArgument",
      ops: (a) => [{ op: "linkAdd", ns: a, link: { kind: "bridge", name: "abcdefghijklmnop" } }],
    },
    {
      title: "an empty link name",
      reason: "InvalidArgument",
      ops: (a) => [{ op: "linkAdd", ns: a, link: { kind: "bridge", name: "" } }],
    },
    {
      title: "a master that is not a bridge",
      reason: "NotSupported",
      ops: (a) => [{ op: "linkSet", ns: a, name: "v1", master: "v0" }],
    },
    {
      title: "a master that is not a bridge, at creation",
      reason: "NotSupported",
      ops: (a) => [{ op: "linkAdd", ns: a, link: { kind: "bridge", name: "br9", master: "v0" } }],
    },
    {
      title: "a missing master",
      reason: "NoSuchDevice",
      ops: (a) => [{ op: "linkSet", ns: a, name: "v0", master: "nosuchbr" }],
    },
    {
      title: "setting a missing link",
      reason: "NoSuchDevice",
      ops: (a) => [{ op: "linkSet", ns: a, name: "nosuch", up: true }],
    },
    {
      title: "an address on a missing link",
      reason: "NoSuchDevice",
      ops: (a) => [{ op: "addrAdd", ns: a, dev: "nosuch", cidr: "10.51.0.1/24" }],
    },
    {
      title: "the same address twice on one link",
      reason: "AlreadyExists",
      ops: (a) => [{ op: "addrAdd", ns: a, dev: "br0", cidr: "10.50.0.1/24" }],
    },
    {
      title: "a route via a gateway that is not on-link",
      reason: "NetworkUnreachable",
      ops: (a) => [{ op: "routeAdd", ns: a, route: { dst: "10.60.0.0/24", via: "10.99.0.1" } }],
    },
    {
      title: "a route via a gateway on-link only through a down link",
      reason: "NetworkUnreachable",
      ops: (a) => [
        { op: "addrAdd", ns: a, dev: "v0", cidr: "10.52.0.1/24" },
        { op: "routeAdd", ns: a, route: { dst: "10.60.0.0/24", via: "10.52.0.9" } },
      ],
    },
    {
      title: "a route via a gateway that is on-link but asked with scope link (only local addresses qualify then)",
      reason: "NetworkUnreachable",
      ops: (a) => [{ op: "routeAdd", ns: a, route: { dst: "10.60.0.0/24", via: "10.50.0.7", scope: "link" } }],
    },
    {
      title: "a route through a device that is down",
      reason: "NetworkUnreachable",
      ops: (a) => [{ op: "routeAdd", ns: a, route: { dst: "10.60.0.0/24", dev: "v0" } }],
    },
    {
      title: "a route through a missing device",
      reason: "NoSuchDevice",
      ops: (a) => [{ op: "routeAdd", ns: a, route: { dst: "10.60.0.0/24", dev: "nosuch" } }],
    },
    {
      title: "a route whose destination has host bits set",
      reason: "InvalidArgument",
      ops: (a) => [{ op: "routeAdd", ns: a, route: { dst: "10.60.0.1/24", dev: "br0" } }],
    },
    {
      title: "a second route to the same prefix, even through another next hop",
      reason: "AlreadyExists",
      ops: (a) => [
        { op: "routeAdd", ns: a, route: { dst: "10.60.0.0/24", via: "10.50.0.7" } },
        { op: "routeAdd", ns: a, route: { dst: "10.60.0.0/24", via: "10.50.0.8" } },
      ],
    },
    {
      title: "a static route to a prefix the kernel already routes (connected)",
      reason: "AlreadyExists",
      ops: (a) => [{ op: "routeAdd", ns: a, route: { dst: "10.50.0.0/24", dev: "br0" } }],
    },
    {
      title: "deleting a missing link",
      reason: "NoSuchDevice",
      ops: (a) => [{ op: "linkDel", ns: a, name: "nosuch" }],
    },
    {
      title: "deleting lo",
      reason: "NotSupported",
      ops: (a) => [{ op: "linkDel", ns: a, name: "lo" }],
    },
    {
      title: "deleting an address the link does not have",
      reason: "NotFound",
      ops: (a) => [{ op: "addrDel", ns: a, dev: "br0", cidr: "10.50.0.99/24" }],
    },
    {
      title: "deleting an address with another prefix length than it has",
      reason: "NotFound",
      ops: (a) => [{ op: "addrDel", ns: a, dev: "br0", cidr: "10.50.0.1/16" }],
    },
    {
      title: "deleting a missing route",
      reason: "NotFound",
      ops: (a) => [{ op: "routeDel", ns: a, route: { dst: "10.61.0.0/24" } }],
    },
    {
      title: "deleting a route with a gateway it does not have",
      reason: "NotFound",
      ops: (a) => [
        { op: "routeAdd", ns: a, route: { dst: "10.60.0.0/24", via: "10.50.0.7" } },
        { op: "routeDel", ns: a, route: { dst: "10.60.0.0/24", via: "10.50.0.8" } },
      ],
    },
    {
      title: "deleting a missing neighbour",
      reason: "NotFound",
      ops: (a) => [{ op: "neighDel", ns: a, dev: "br0", ip: "10.50.0.77" }],
    },
    {
      title: "a neighbour on a missing link",
      reason: "NoSuchDevice",
      ops: (a) => [{ op: "neighAdd", ns: a, dev: "nosuch", ip: "10.50.0.77", mac: "02:00:00:00:00:77" }],
    },
    {
      title: "a macvlan whose parent is missing",
      reason: "NoSuchDevice",
      ops: (a) => [{ op: "linkAdd", ns: a, link: { kind: "macvlan", name: "mv0", parent: "nosuch", mode: "bridge" } }],
    },
    {
      title: "a macvlan on lo",
      reason: "InvalidArgument",
      ops: (a) => [{ op: "linkAdd", ns: a, link: { kind: "macvlan", name: "mv0", parent: "lo", mode: "bridge" } }],
    },
    {
      title: "a vxlan without a VNI",
      reason: "InvalidArgument",
      // the type demands a VNI; a caller that forgets it anyway must be refused, not defaulted
      ops: (a) => [{ op: "linkAdd", ns: a, link: { kind: "vxlan", name: "vx0", port: 4789 } as unknown as LinkSpec }],
    },
    {
      title: "an unknown sysctl",
      reason: "NotFound",
      ops: (a) => [{ op: "sysctlSet", ns: a, key: "net.ipv4.no_such_knob", value: "1" }],
    },
  ]

  for (const refusal of refusals) {
    it(`refuses ${refusal.title} with ${refusal.reason}`, async () => {
      const { a, b, harness } = await setup()
      await harness.expectRefused(refusal.reason, refusal.ops(a, b))
    })
  }

  it("a refused operation stops the list: the ones before it stay, the ones after never run", async () => {
    const { a, harness } = await setup()
    const error = await harness.refusal(
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "before" } },
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "br0" } },
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "after" } },
    )
    expect(error.reason).toBe("AlreadyExists")
    expect(error.op).toEqual({ op: "linkAdd", ns: a, link: { kind: "bridge", name: "br0" } })
    const names = (await harness.read(a)).links.map((link) => link.name)
    expect(names).toContain("before")
    expect(names).not.toContain("after")
  })

  it("a bridge holds 1,023 ports: the next one is refused with Full, by linkAdd and by linkSet master alike", async () => {
    const { a, harness } = await setup()
    const ports = Array.from({ length: 1023 }, (_, i): KernelOp => ({
      op: "linkAdd",
      ns: a,
      link: { kind: "veth", name: `p${i}`, master: "br0", peer: { name: `q${i}` } },
    }))
    await harness.apply(ports)
    const full = await harness.refusal({ op: "linkAdd", ns: a, link: { kind: "veth", name: "one-more", master: "br0", peer: { name: "its-peer" } } })
    expect(full.reason).toBe("Full")
    expect((await harness.read(a)).links.map((link) => link.name)).not.toContain("one-more")
    await harness.expectRefused("Full", { op: "linkSet", ns: a, name: "v0", master: "br0" })
    // a port that leaves makes room again
    await harness.apply({ op: "linkDel", ns: a, name: "p0" }, { op: "linkSet", ns: a, name: "v0", master: "br0" })
    expect((await harness.read(a)).links.find((link) => link.name === "v0")?.master).toBe("br0")
  })

  it.skipIf(caps.ipvlan)("refuses ipvlan with NotSupported where the kernel lacks it (capabilities.ipvlan is false)", async () => {
    const { a, harness } = await setup()
    await harness.expectRefused("NotSupported", {
      op: "linkAdd",
      ns: a,
      link: { kind: "ipvlan", name: "ipv0", parent: "v0", mode: "l2" },
    })
  })

  it.skipIf(!caps.ipvlan)("refuses an ipvlan whose parent is missing with NoSuchDevice (skipped where capabilities.ipvlan is false)", async () => {
    const { a, harness } = await setup()
    await harness.expectRefused("NoSuchDevice", {
      op: "linkAdd",
      ns: a,
      link: { kind: "ipvlan", name: "ipv0", parent: "nosuch", mode: "l2" },
    })
  })

  it.skipIf(!caps.firewall)("refuses a firewall jump to a chain the table does not have with NotFound", async () => {
    const { a, harness } = await setup()
    await harness.expectRefused("NotFound", {
      op: "firewallSet",
      ns: a,
      table: {
        name: "t",
        chains: [{ name: "fw", hook: "forward", type: "filter", priority: 0, rules: [{ match: {}, verdict: { kind: "jump", chain: "nochain" } }] }],
      },
    })
    expect((await harness.read(a)).firewall).toEqual([])
  })

  it.skipIf(!caps.firewall)("refuses deleting a firewall table that does not exist with NotFound", async () => {
    const { a, harness } = await setup()
    await harness.expectRefused("NotFound", { op: "firewallDel", ns: a, table: "nosuch" })
  })
}
