import { Effect } from "effect"
import { expect, it } from "vitest"
import type { Capabilities, LinkState } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { host } from "../topologies.ts"

/** namespace lifecycle and links: what a new namespace holds, veth pairs across namespaces, bridges */
export const linkCases = (h: () => Harness, caps: Capabilities): void => {
  const LOCALLY_ADMINISTERED_UNICAST = /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/

  const linkNamed = (links: ReadonlyArray<LinkState>, name: string): LinkState | undefined =>
    links.find((link) => link.name === name)

  it("a new namespace holds only lo: index 1, down, mtu 65536, all-zero MAC", async () => {
    const { ns, apply, read, namespaces } = h()
    const a = ns("a")
    await apply({ op: "nsAdd", ns: a })
    expect(await namespaces()).toContain(a)
    const state = await read(a)
    expect(state.links).toEqual([
      { name: "lo", index: 1, kind: "loopback", mac: "00:00:00:00:00:00", mtu: 65536, up: false, group: 0 },
    ])
    expect(state.addrs).toEqual([])
    expect(state.routes).toEqual([])
  })

  it("lo brought up gets 127.0.0.1/8, and no route in the main table", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    await apply(host(a))
    const state = await read(a)
    expect(state.links[0]?.up).toBe(true)
    expect(state.addrs).toEqual([{ dev: "lo", cidr: "127.0.0.1/8" }])
    expect(state.routes).toEqual([])
  })

  it("nsDel removes the namespace; later operations in it are refused with NotFound", async () => {
    const { ns, apply, namespaces, expectRefused } = h()
    const a = ns("a")
    await apply({ op: "nsAdd", ns: a }, { op: "nsDel", ns: a })
    expect(await namespaces()).not.toContain(a)
    await expectRefused("NotFound", { op: "linkSet", ns: a, name: "lo", up: true })
    await expectRefused("NotFound", { op: "nsDel", ns: a })
  })

  it("a veth with its peer in a fresh namespace: index 2 on both sides, each names the other", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    const b = ns("b")
    await apply(
      { op: "nsAdd", ns: a },
      { op: "nsAdd", ns: b },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "va", peer: { name: "eth0", ns: b } } },
    )
    const near = linkNamed((await read(a)).links, "va")
    const far = linkNamed((await read(b)).links, "eth0")
    expect(near).toMatchObject({ index: 2, kind: "veth", mtu: 1500, up: false, peer: { name: "eth0", ns: b } })
    expect(far).toMatchObject({ index: 2, kind: "veth", mtu: 1500, up: false, peer: { name: "va", ns: a } })
    expect(near?.mac).toMatch(LOCALLY_ADMINISTERED_UNICAST)
    expect(far?.mac).toMatch(LOCALLY_ADMINISTERED_UNICAST)
    expect(near?.mac).not.toBe(far?.mac)
  })

  it("a veth with both ends in one namespace: the peer is registered first and gets the lower index", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    await apply({ op: "nsAdd", ns: a }, { op: "linkAdd", ns: a, link: { kind: "veth", name: "x0", peer: { name: "x1" } } })
    const links = (await read(a)).links
    expect(linkNamed(links, "x1")?.index).toBe(2)
    expect(linkNamed(links, "x0")?.index).toBe(3)
    expect(linkNamed(links, "x0")?.peer).toEqual({ name: "x1", ns: a })
  })

  it("the MAC and MTU given at creation are kept, on both ends", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    const b = ns("b")
    await apply(
      { op: "nsAdd", ns: a },
      { op: "nsAdd", ns: b },
      {
        op: "linkAdd",
        ns: a,
        link: { kind: "veth", name: "va", mac: "02:00:0a:00:00:01", mtu: 1450, peer: { name: "eth0", ns: b, mac: "02:00:0a:00:00:02", mtu: 1400 } },
      },
    )
    expect(linkNamed((await read(a)).links, "va")).toMatchObject({ mac: "02:00:0a:00:00:01", mtu: 1450 })
    expect(linkNamed((await read(b)).links, "eth0")).toMatchObject({ mac: "02:00:0a:00:00:02", mtu: 1400 })
  })

  it("deleting one veth end deletes its peer in the other namespace", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    const b = ns("b")
    await apply(
      { op: "nsAdd", ns: a },
      { op: "nsAdd", ns: b },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "va", peer: { name: "eth0", ns: b } } },
      { op: "linkDel", ns: b, name: "eth0" },
    )
    expect((await read(a)).links.map((link) => link.name)).toEqual(["lo"])
    expect((await read(b)).links.map((link) => link.name)).toEqual(["lo"])
  })

  it("deleting a namespace deletes the veth peers it had elsewhere", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    const b = ns("b")
    await apply(
      { op: "nsAdd", ns: a },
      { op: "nsAdd", ns: b },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "va", peer: { name: "eth0", ns: b } } },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "vb", peer: { name: "eth1", ns: b } } },
      { op: "nsDel", ns: b },
    )
    expect((await read(a)).links.map((link) => link.name)).toEqual(["lo"])
  })

  it("a bridge takes a port at creation (master) and releases it on request", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    const b = ns("b")
    await apply(
      { op: "nsAdd", ns: a },
      { op: "nsAdd", ns: b },
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "br0" } },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "va", master: "br0", up: true, peer: { name: "eth0", ns: b } } },
    )
    const links = (await read(a)).links
    expect(linkNamed(links, "br0")).toMatchObject({ kind: "bridge", index: 2 })
    expect(linkNamed(links, "va")).toMatchObject({ master: "br0", up: true, index: 3 })
    await apply({ op: "linkSet", ns: a, name: "va", master: null })
    expect(linkNamed((await read(a)).links, "va")?.master).toBeUndefined()
    await apply({ op: "linkSet", ns: a, name: "va", master: "br0" })
    expect(linkNamed((await read(a)).links, "va")?.master).toBe("br0")
  })

  it("deleting a bridge releases its ports", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    await apply(
      { op: "nsAdd", ns: a },
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "br0" } },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "p0", master: "br0", peer: { name: "p1" } } },
      { op: "linkDel", ns: a, name: "br0" },
    )
    const links = (await read(a)).links
    expect(linkNamed(links, "br0")).toBeUndefined()
    expect(linkNamed(links, "p0")).toBeDefined()
    expect(linkNamed(links, "p0")?.master).toBeUndefined()
  })

  it("a rename keeps the link, even while it is up", async () => {
    const { ns, apply, read } = h()
    const a = ns("a")
    await apply(
      { op: "nsAdd", ns: a },
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "br0", up: true } },
      { op: "linkSet", ns: a, name: "br0", newName: "br-renamed" },
    )
    const links = (await read(a)).links
    expect(linkNamed(links, "br0")).toBeUndefined()
    expect(linkNamed(links, "br-renamed")).toMatchObject({ index: 2, up: true })
  })

  it("linkDelGroup deletes every link of the group (and their peers), and nothing else", async () => {
    const { ns, apply, read, expectRefused } = h()
    const a = ns("a")
    const b = ns("b")
    await apply(
      { op: "nsAdd", ns: a },
      { op: "nsAdd", ns: b },
      { op: "linkAdd", ns: a, link: { kind: "veth", name: "g1", group: 4242, peer: { name: "eth0", ns: b } } },
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "g2", group: 4242 } },
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "keep" } },
    )
    expect(linkNamed((await read(a)).links, "g1")?.group).toBe(4242)
    await apply({ op: "linkDelGroup", ns: a, group: 4242 })
    expect((await read(a)).links.map((link) => link.name)).toEqual(["lo", "keep"])
    expect((await read(b)).links.map((link) => link.name)).toEqual(["lo"])
    await expectRefused("NoSuchDevice", { op: "linkDelGroup", ns: a, group: 4242 })
  })

  it("close() deletes every namespace this kernel made, and can be called twice", async () => {
    const { ns, apply, namespaces, kernel } = h()
    await apply({ op: "nsAdd", ns: ns("a") }, { op: "nsAdd", ns: ns("b") })
    await Effect.runPromise(kernel.close())
    await Effect.runPromise(kernel.close())
    const left = await namespaces()
    expect(left).not.toContain(ns("a"))
    expect(left).not.toContain(ns("b"))
  })

  it.skipIf(!caps.dummy)("a dummy link holds addresses that are local to its namespace", async () => {
    const { ns, apply, read, reachable } = h()
    const a = ns("a")
    await apply(
      host(a),
      { op: "linkAdd", ns: a, link: { kind: "dummy", name: "d0", up: true } },
      { op: "addrAdd", ns: a, dev: "d0", cidr: "10.40.0.1/24" },
    )
    expect(linkNamed((await read(a)).links, "d0")).toMatchObject({ kind: "dummy", up: true })
    expect(await reachable(a, "10.40.0.1")).toBe(true)
  })

  it.skipIf(caps.dummy)("dummy is refused with NotSupported where the kernel lacks it (capabilities.dummy is false)", async () => {
    const { ns, apply, expectRefused } = h()
    const a = ns("a")
    await apply({ op: "nsAdd", ns: a })
    await expectRefused("NotSupported", { op: "linkAdd", ns: a, link: { kind: "dummy", name: "d0" } })
  })
}
