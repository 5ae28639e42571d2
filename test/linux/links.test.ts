import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { CNMLAB_LINK_GROUP, type LinkState } from "../../backends/kernel-types.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { failure, ipJson, needsRoot, nsName, root, run } from "./support.ts"

interface IpLink {
  ifname: string
  ifindex: number
  mtu: number
  address: string
  flags: string[]
  master?: string
  group?: string | number
  link?: string
  link_netnsid?: number
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> }
}

const ipLinks = (ns: string): IpLink[] => ipJson<IpLink[]>(ns, "-d", "link")
const ipLink = (ns: string, name: string): IpLink => {
  const link = ipLinks(ns).find((l) => l.ifname === name)
  if (!link) throw new Error(`no ${name} in ${ns}`)
  return link
}
const byName = (links: ReadonlyArray<LinkState>, name: string): LinkState => {
  const link = links.find((l) => l.name === name)
  if (!link) throw new Error(`read() has no ${name}`)
  return link
}

describe.skipIf(!root)(`linux backend: links (${needsRoot})`, () => {
  let kernel: KernelShape
  const host = nsName("lk-h")
  const box = nsName("lk-c")
  beforeAll(async () => {
    kernel = await makeLinuxKernel()
    await run(kernel.apply([{ op: "nsAdd", ns: host }, { op: "nsAdd", ns: box }]))
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  it("creates a veth whose peer is born inside the other namespace, with its MAC, MTU, group and master", async () => {
    await run(
      kernel.apply([
        { op: "linkAdd", ns: host, link: { kind: "bridge", name: "br0", up: true } },
        {
          op: "linkAdd",
          ns: host,
          link: { kind: "veth", name: "vh0", master: "br0", up: true, mtu: 1400, peer: { name: "eth0", ns: box, mac: "02:42:0a:00:00:02", mtu: 1400 } },
        },
      ]),
    )
    const hostSide = ipLink(host, "vh0")
    expect(hostSide.master).toBe("br0")
    expect(hostSide.flags).toContain("UP")
    expect(hostSide.mtu).toBe(1400)
    expect(Number(hostSide.group)).toBe(CNMLAB_LINK_GROUP)
    const peer = ipLink(box, "eth0")
    expect(peer.address).toBe("02:42:0a:00:00:02")
    expect(peer.mtu).toBe(1400)
    expect(Number(peer.group)).toBe(CNMLAB_LINK_GROUP)
    // iproute2 reports the peer in another namespace by netnsid; our read() resolves it to a name
    expect(hostSide.link_netnsid).toBeTypeOf("number")

    const hostState = await run(kernel.read(host))
    const vh0 = byName(hostState.links, "vh0")
    expect(vh0).toMatchObject({ kind: "veth", master: "br0", up: true, mtu: 1400, mac: hostSide.address, index: hostSide.ifindex, group: CNMLAB_LINK_GROUP })
    expect(vh0.peer).toEqual({ name: "eth0", ns: box })
    expect(byName((await run(kernel.read(box))).links, "eth0").peer).toEqual({ name: "vh0", ns: host })
    expect(byName(hostState.links, "br0")).toMatchObject({ kind: "bridge", up: true })
    expect(byName(hostState.links, "lo")).toMatchObject({ kind: "loopback", up: false, index: 1 })
  })

  it("names the peer even when both ends have the same ifindex (indexes are per namespace)", async () => {
    const a = nsName("lk-a")
    const b = nsName("lk-b")
    await run(kernel.apply([{ op: "nsAdd", ns: a }, { op: "nsAdd", ns: b }, { op: "linkAdd", ns: a, link: { kind: "veth", name: "va", peer: { name: "vb", ns: b } } }]))
    expect(ipLink(a, "va").ifindex).toBe(ipLink(b, "vb").ifindex)
    expect(byName((await run(kernel.read(a))).links, "va").peer).toEqual({ name: "vb", ns: b })
    expect(byName((await run(kernel.read(b))).links, "vb").peer).toEqual({ name: "va", ns: a })
    await run(kernel.apply([{ op: "nsDel", ns: a }, { op: "nsDel", ns: b }]))
  })

  it("reads every link exactly as iproute2 sees it", async () => {
    for (const ns of [host, box]) {
      const ours = (await run(kernel.read(ns))).links
      const theirs = ipLinks(ns)
      expect(ours.map((l) => l.name)).toEqual(theirs.map((l) => l.ifname))
      for (const l of theirs) {
        const mine = byName(ours, l.ifname)
        expect(mine.index).toBe(l.ifindex)
        expect(mine.mac).toBe(l.address)
        expect(mine.mtu).toBe(l.mtu)
        expect(mine.up).toBe(l.flags.includes("UP"))
        expect(mine.master).toBe(l.master)
      }
    }
  })

  it("creates a vxlan with its VNI, local address, learning off and the UDP port in network order", async () => {
    await run(kernel.apply([{ op: "linkAdd", ns: host, link: { kind: "vxlan", name: "vx0", vni: 4242, port: 4789, local: "192.168.200.1", learning: false } }]))
    const info = ipLink(host, "vx0").linkinfo?.info_data
    expect(info).toMatchObject({ id: 4242, port: 4789, local: "192.168.200.1", learning: false })
    expect(byName((await run(kernel.read(host))).links, "vx0")).toMatchObject({ kind: "vxlan", vni: 4242 })
  })

  it("creates a macvlan straight inside its target namespace, on a parent of the requesting one", async () => {
    if (!kernel.capabilities.macvlan) return
    await run(
      kernel.apply([
        { op: "linkAdd", ns: host, link: { kind: "veth", name: "par0", up: true, peer: { name: "par1" } } },
        { op: "linkAdd", ns: host, link: { kind: "macvlan", name: "mv0", parent: "par0", mode: "bridge", targetNs: box } },
      ]),
    )
    expect(ipLinks(host).map((l) => l.ifname)).not.toContain("mv0")
    const mv = ipLink(box, "mv0")
    expect(mv.linkinfo).toMatchObject({ info_kind: "macvlan", info_data: { mode: "bridge" } })
    expect(byName((await run(kernel.read(box))).links, "mv0")).toMatchObject({ kind: "macvlan", parent: "par0" })
  })

  it("answers with the kernel's refusal for kinds this kernel lacks, and capabilities say so", async () => {
    for (const kind of ["ipvlan", "dummy"] as const) {
      const link =
        kind === "ipvlan" ? ({ kind, name: "k-ipvlan", parent: "par0", mode: "l2" } as const) : ({ kind, name: "k-dummy" } as const)
      const exit = await Effect.runPromiseExit(kernel.apply([{ op: "linkAdd", ns: host, link }]))
      expect(Exit.isSuccess(exit)).toBe(kernel.capabilities[kind])
      if (!kernel.capabilities[kind]) {
        const e = await failure(kernel.apply([{ op: "linkAdd", ns: host, link }]))
        expect(e.reason).toBe("NotSupported")
        expect(e.detail).toContain("Unknown device type")
      }
    }
  })

  it("renames, re-masters and changes MTU and MAC in one linkSet; an up link can be renamed (Linux >= 6.2)", async () => {
    await run(kernel.apply([{ op: "linkAdd", ns: host, link: { kind: "veth", name: "rn0", peer: { name: "rn1" } } }]))
    await run(kernel.apply([{ op: "linkSet", ns: host, name: "rn0", newName: "rn2", up: true, master: "br0", mtu: 1300, mac: "02:00:00:00:00:99" }]))
    const renamed = ipLink(host, "rn2")
    expect(renamed).toMatchObject({ master: "br0", mtu: 1300, address: "02:00:00:00:00:99" })
    expect(renamed.flags).toContain("UP")
    await run(kernel.apply([{ op: "linkSet", ns: host, name: "rn2", newName: "rn3" }]))
    expect(ipLink(host, "rn3").flags).toContain("UP")
    await run(kernel.apply([{ op: "linkSet", ns: host, name: "rn3", master: null }]))
    expect(ipLink(host, "rn3").master).toBeUndefined()
    expect((await failure(kernel.apply([{ op: "linkSet", ns: host, name: "nope", up: true }]))).reason).toBe("NoSuchDevice")
  })

  it("deletes one link by name, and a whole group in one request", async () => {
    await run(
      kernel.apply([
        { op: "linkAdd", ns: host, link: { kind: "veth", name: "g1", group: 77, peer: { name: "g1p", ns: box } } },
        { op: "linkAdd", ns: host, link: { kind: "veth", name: "g2", group: 77, peer: { name: "g2p", ns: box } } },
        { op: "linkAdd", ns: host, link: { kind: "bridge", name: "keep", group: 78 } },
      ]),
    )
    await run(kernel.apply([{ op: "linkDelGroup", ns: host, group: 77 }]))
    const names = ipLinks(host).map((l) => l.ifname)
    expect(names).not.toContain("g1")
    expect(names).not.toContain("g2")
    expect(names).toContain("keep")
    // a veth goes as a pair: the peers in the other namespace went too
    const boxNames = ipLinks(box).map((l) => l.ifname)
    expect(boxNames).not.toContain("g1p")
    await run(kernel.apply([{ op: "linkDel", ns: host, name: "keep" }]))
    expect(ipLinks(host).map((l) => l.ifname)).not.toContain("keep")
    expect((await failure(kernel.apply([{ op: "linkDel", ns: host, name: "keep" }]))).reason).toBe("NoSuchDevice")
    expect((await failure(kernel.apply([{ op: "linkDel", ns: host, name: "lo" }]))).reason).toBe("NotSupported")
  })

  it("refuses bad input the way the kernel does", async () => {
    expect((await failure(kernel.apply([{ op: "linkAdd", ns: host, link: { kind: "bridge", name: "x".repeat(16) } }]))).reason).toBe("InvalidArgument")
    expect((await failure(kernel.apply([{ op: "linkAdd", ns: host, link: { kind: "veth", name: "vz", peer: { name: "eth0", ns: box } } }]))).reason).toBe(
      "AlreadyExists",
    )
    expect((await failure(kernel.apply([{ op: "linkAdd", ns: host, link: { kind: "bridge", name: "b9", mac: "zz" } }]))).reason).toBe("InvalidArgument")
  })
})
