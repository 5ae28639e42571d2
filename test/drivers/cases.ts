import { expect, it } from "vitest"
import type { Capabilities } from "../../backends/kernel-types.ts"
import type { Driver, HostContext } from "../../drivers/Driver.ts"
import { ipvlanDriver } from "../../drivers/ipvlan/driver.ts"
import { macvlanDriver } from "../../drivers/macvlan/driver.ts"
import { overlayDriver } from "../../drivers/overlay/driver.ts"
import { overlayNamespace } from "../../drivers/overlay/names.ts"
import type { VlanInfo, VlanMode } from "../../model/lab-types.ts"
import type { Network } from "../../model/types.ts"
import type { Harness } from "../conformance/harness.ts"
import { hostAddress, type Member, makeWorld, member, networkOf, peerOf, refused, run, type World } from "./world.ts"

/** what the cases measured, printed after the run */
export interface Tally {
  reachable: number
  unreachable: number
}

/**
 * The overlay, macvlan and ipvlan drivers' steps applied to a kernel, on hosts joined by an
 * underlay, with reachability measured by the kernel (real echoes on linux). Cases the kernel
 * cannot run are skipped by name, with the capability in the title.
 */
export const driverCases = (h: () => Harness, caps: Capabilities, tally: Tally): void => {
  const reach = async (from: Member | string, address: string): Promise<boolean> => {
    const result = await h().reachable(typeof from === "string" ? from : from.ns, address)
    if (result) tally.reachable++
    else tally.unreachable++
    return result
  }
  const linkNames = async (ns: string): Promise<ReadonlyArray<string>> => (await h().read(ns)).links.map((link) => link.name)
  /** a case that needs these capabilities: skipped where the kernel lacks one, saying which */
  const needing = (kinds: ReadonlyArray<keyof Capabilities>, title: string): [boolean, string] => {
    const missing = kinds.filter((kind) => !caps[kind])
    return [missing.length > 0, missing.length > 0 ? `${title} (skipped: this kernel has no ${missing.join(", ")})` : title]
  }
  const test = (kinds: ReadonlyArray<keyof Capabilities>, title: string, body: () => Promise<void>): void => {
    const [skip, name] = needing(kinds, title)
    it.skipIf(skip)(name, body)
  }

  // -- overlay ---------------------------------------------------------------------------------

  const OVERLAY = { vni: 4097, mtu: 1450, encrypted: false }

  const overlayWorld = async (hostCount: number) => {
    const world = await makeWorld(h(), hostCount)
    const network = networkOf("ov", "overlay", "10.0.1.0/24", "10.0.1.1")
    world.overlays.set(network.name, OVERLAY)
    for (const host of world.hosts) await run(world, overlayDriver.createNetwork(network, host))
    return { world, network, hosts: world.hosts as [HostContext, HostContext, ...HostContext[]] }
  }

  /** each host learns about the other's member, as the global store would tell them */
  const exchangePeers = (world: World, network: Network, a: Member, b: Member, event: "peerAdd" | "peerDelete") =>
    Promise.all([
      run(world, (overlayDriver[event] as NonNullable<Driver["peerAdd"]>)(network, peerOf(b), a.host)),
      run(world, (overlayDriver[event] as NonNullable<Driver["peerAdd"]>)(network, peerOf(a), b.host)),
    ])

  test(["vxlan"], "overlay: containers on two hosts reach each other once each host has the other's peer, and no more after peerDelete", async () => {
    const { world, network, hosts } = await overlayWorld(2)
    const c1 = await member(world, overlayDriver, network, hosts[0], "c1", "10.0.1.2")
    const c2 = await member(world, overlayDriver, network, hosts[1], "c2", "10.0.1.3")
    expect(c1.gateway).toBeUndefined()
    expect(await reach(c1, c2.address)).toBe(false)
    await exchangePeers(world, network, c1, c2, "peerAdd")
    expect(await reach(c1, c2.address)).toBe(true)
    expect(await reach(c2, c1.address)).toBe(true)
    await exchangePeers(world, network, c1, c2, "peerDelete")
    expect(await reach(c1, c2.address)).toBe(false)
    expect(await reach(c2, c1.address)).toBe(false)
  })

  test(["vxlan"], "overlay: MTU 1450 on the vxlan, the bridge and both veth ends; the vxlan lives in the network's namespace; peers are a neighbour and an FDB entry", async () => {
    const { world, network, hosts } = await overlayWorld(2)
    const c1 = await member(world, overlayDriver, network, hosts[0], "c1", "10.0.1.2")
    const c2 = await member(world, overlayDriver, network, hosts[1], "c2", "10.0.1.3")
    await exchangePeers(world, network, c1, c2, "peerAdd")
    const ovNs = overlayNamespace(network, hosts[0])
    const inside = await h().read(ovNs)
    const link = (name: string) => inside.links.find((l) => l.name === name)
    expect(link("br0")).toMatchObject({ kind: "bridge", mtu: 1450, up: true })
    expect(link("vxlan0")).toMatchObject({ kind: "vxlan", vni: 4097, mtu: 1450, master: "br0", up: true })
    expect(link(c1.hostIf)).toMatchObject({ kind: "veth", mtu: 1450, master: "br0", up: true, peer: { name: "eth0", ns: c1.ns } })
    expect(inside.addrs.filter((a) => a.dev !== "lo")).toEqual([{ dev: "br0", cidr: "10.0.1.1/24" }])
    expect(inside.neighs).toEqual([{ dev: "vxlan0", ip: "10.0.1.3", mac: "02:42:0a:00:01:03" }])
    expect(inside.fdb.filter((entry) => entry.dst !== undefined)).toEqual([{ dev: "vxlan0", mac: "02:42:0a:00:01:03", dst: hostAddress(1) }])
    const eth0 = (await h().read(c1.ns)).links.find((l) => l.name === "eth0")
    expect(eth0).toMatchObject({ kind: "veth", mtu: 1450, mac: "02:42:0a:00:01:02", up: true })
    // the host keeps only its underlay leg: the vxlan's socket is there, the device is not
    expect(await linkNames(hosts[0].ns)).toEqual(["lo", "eth0"])
  })

  /** an encrypted overlay on two hosts with a member each, peers exchanged, each host securing the pair */
  const encryptedPair = async () => {
    const world = await makeWorld(h(), 2)
    const network = networkOf("sec", "overlay", "10.0.1.0/24", "10.0.1.1")
    world.overlays.set(network.name, { vni: 4097, mtu: 1424, encrypted: true })
    const [h1, h2] = world.hosts as [HostContext, HostContext]
    for (const host of [h1, h2]) await run(world, overlayDriver.createNetwork(network, host))
    const c1 = await member(world, overlayDriver, network, h1, "c1", "10.0.1.2")
    const c2 = await member(world, overlayDriver, network, h2, "c2", "10.0.1.3")
    await exchangePeers(world, network, c1, c2, "peerAdd")
    const secure = (event: "secureVtepAdd" | "secureVtepDelete") =>
      Promise.all([
        run(world, (overlayDriver[event] as NonNullable<Driver["secureVtepAdd"]>)(hostAddress(1), h1)),
        run(world, (overlayDriver[event] as NonNullable<Driver["secureVtepAdd"]>)(hostAddress(0), h2)),
      ])
    await secure("secureVtepAdd")
    return { world, h1, h2, c1, c2, secure }
  }

  test(["vxlan", "firewall", "esp"], "overlay encrypted: ESP between the hosts carries the members' traffic; without the pair's states and policy the receiver drops what comes in clear", async () => {
    const { h1, c1, c2, secure } = await encryptedPair()
    expect(await reach(c1, c2.address)).toBe(true)
    expect(await reach(c2, c1.address)).toBe(true)
    const held = await h().read(h1.ns)
    expect(held.xfrmStates.map((s) => `${s.src} -> ${s.dst}`)).toEqual([
      ...Array(3).fill(`${hostAddress(1)} -> ${hostAddress(0)}`),
      `${hostAddress(0)} -> ${hostAddress(1)}`,
    ])
    expect(held.xfrmPolicies.map((p) => `${p.dir} ${p.selector.dst} ${p.template.spi === held.xfrmStates[3]?.spi}`)).toEqual([`out ${hostAddress(1)}/32 true`])
    await secure("secureVtepDelete")
    expect((await h().read(h1.ns)).xfrmStates).toEqual([])
    expect(await reach(c1, c2.address)).toBe(false)
  })

  test(["vxlan", "firewall"], "overlay encrypted: the VNI's mark and input rules on each host; on a kernel without ESP no states and no policies, and nothing crosses (Docker's silent loss)", async () => {
    const { h1, h2, c1, c2 } = await encryptedPair()
    for (const host of [h1, h2]) expect((await h().read(host.ns)).firewall.map((t) => t.name)).toEqual(["overlay-esp-4097"])
    if (caps.esp) return
    expect((await h().read(h1.ns)).xfrmStates).toEqual([])
    expect((await h().read(h1.ns)).xfrmPolicies).toEqual([])
    expect(await reach(c1, c2.address)).toBe(false)
    // it is the receiving host's rule against VXLAN in clear that loses it: without the rules it crosses
    await h().apply(...[h1, h2].map((host) => ({ op: "firewallDel", ns: host.ns, table: "overlay-esp-4097" }) as const))
    expect(await reach(c1, c2.address)).toBe(true)
  })

  test(["vxlan"], "overlay: a third host reaches exactly the members whose peers it was given", async () => {
    const { world, network, hosts } = await overlayWorld(3)
    const c1 = await member(world, overlayDriver, network, hosts[0], "c1", "10.0.1.2")
    const c2 = await member(world, overlayDriver, network, hosts[1], "c2", "10.0.1.3")
    const c3 = await member(world, overlayDriver, network, hosts[2] as HostContext, "c3", "10.0.1.4")
    await exchangePeers(world, network, c1, c3, "peerAdd")
    expect(await reach(c3, c1.address)).toBe(true)
    expect(await reach(c3, c2.address)).toBe(false)
    expect(await reach(c1, c2.address)).toBe(false)
  })

  test(["vxlan"], "overlay: leaving and deleting the network on every host leaves nothing but the hosts and the sandboxes", async () => {
    const h0 = h()
    const before = new Set(await h0.namespaces())
    const { world, network, hosts } = await overlayWorld(2)
    const c1 = await member(world, overlayDriver, network, hosts[0], "c1", "10.0.1.2")
    const c2 = await member(world, overlayDriver, network, hosts[1], "c2", "10.0.1.3")
    await exchangePeers(world, network, c1, c2, "peerAdd")
    for (const m of [c1, c2]) await run(world, overlayDriver.leave(network, m.endpoint, m.host, { sandboxNs: m.ns, hostIf: m.hostIf }))
    expect(await linkNames(c1.ns)).toEqual(["lo"])
    for (const host of hosts) await run(world, overlayDriver.deleteNetwork(network, host))
    const after = (await h0.namespaces()).filter((ns) => !before.has(ns)).sort()
    expect(after).toEqual([world.underlayNs, ...hosts.map((host) => host.ns), c1.ns, c2.ns].sort())
    for (const host of hosts) expect(await linkNames(host.ns)).toEqual(["lo", "eth0"])
    expect(await linkNames(c2.ns)).toEqual(["lo"])
  })

  test(["vxlan"], "overlay: two networks share each host's UDP port 4789 and each carries its own members", async () => {
    const { world, network, hosts } = await overlayWorld(2)
    const other = networkOf("ov2", "overlay", "10.0.2.0/24", "10.0.2.1")
    world.overlays.set(other.name, { ...OVERLAY, vni: 4098 })
    for (const host of hosts) await run(world, overlayDriver.createNetwork(other, host))
    const a1 = await member(world, overlayDriver, network, hosts[0], "a1", "10.0.1.2")
    const a2 = await member(world, overlayDriver, network, hosts[1], "a2", "10.0.1.3")
    const b1 = await member(world, overlayDriver, other, hosts[0], "b1", "10.0.2.2")
    const b2 = await member(world, overlayDriver, other, hosts[1], "b2", "10.0.2.3")
    await exchangePeers(world, network, a1, a2, "peerAdd")
    await exchangePeers(world, other, b1, b2, "peerAdd")
    expect(await reach(a1, a2.address)).toBe(true)
    expect(await reach(b2, b1.address)).toBe(true)
  })

  test(["vxlan"], "overlay: a second network with a VNI the host already carries is refused ('file exists') and its half-made namespace is rolled back", async () => {
    const { world, hosts } = await overlayWorld(1)
    const again = networkOf("ov-again", "overlay", "10.0.2.0/24", "10.0.2.1")
    world.overlays.set(again.name, OVERLAY)
    const failure = await refused(world, overlayDriver.createNetwork(again, hosts[0]))
    expect(failure.step).toBe("overlay.vxlan")
    expect(failure.error.reason).toBe("AlreadyExists")
    expect(await h().namespaces()).not.toContain(overlayNamespace(again, hosts[0]))
  })

  // -- macvlan and ipvlan ----------------------------------------------------------------------

  const onEth0 = (mode: VlanMode): VlanInfo => ({ parent: "eth0", mode, parentKind: "link", createdParent: false })

  /** a network on both hosts' eth0 (the underlay's own subnet), with each host's parent as given */
  const vlanWorld = async (driver: Driver, name: string, subnet: string, gateway: string, info: (host: HostContext) => VlanInfo) => {
    const world = await makeWorld(h(), 2)
    const network = networkOf(name, driver.name, subnet, gateway)
    for (const host of world.hosts) {
      world.vlans.set(`${host.host}/${name}`, info(host))
      await run(world, driver.createNetwork(network, host))
    }
    return { world, network, hosts: world.hosts as [HostContext, HostContext] }
  }

  const macvlanOnEth0 = async (mode: VlanMode) => {
    const { world, network, hosts } = await vlanWorld(macvlanDriver, "mv", "198.18.0.0/24", "198.18.0.254", () => onEth0(mode))
    const m1 = await member(world, macvlanDriver, network, hosts[0], "m1", "198.18.0.11")
    const m2 = await member(world, macvlanDriver, network, hosts[0], "m2", "198.18.0.12")
    const m3 = await member(world, macvlanDriver, network, hosts[1], "m3", "198.18.0.21")
    return { world, network, hosts, m1, m2, m3 }
  }

  test(["macvlan"], "macvlan bridge: children on one host reach each other, the other host and its children, never their own host", async () => {
    const { world, network, hosts, m1, m2, m3 } = await macvlanOnEth0("bridge")
    expect(m1.gateway).toBe("198.18.0.254")
    expect((await h().read(m1.ns)).links.find((l) => l.name === "eth0")).toMatchObject({ kind: "macvlan", mac: "02:42:c6:12:00:0b" })
    expect(await reach(m1, m2.address)).toBe(true)
    expect(await reach(m1, m3.address)).toBe(true)
    expect(await reach(m1, hostAddress(1))).toBe(true)
    expect(await reach(hosts[1].ns, m1.address)).toBe(true)
    expect(await reach(m1, hostAddress(0))).toBe(false)
    expect(await reach(hosts[0].ns, m1.address)).toBe(false)
    // eth0 was there before the network and stays after it
    for (const host of hosts) await run(world, macvlanDriver.deleteNetwork(network, host))
    expect(await linkNames(hosts[0].ns)).toEqual(["lo", "eth0"])
  })

  test(["macvlan"], "macvlan private: siblings on one host do not reach each other; across hosts they do", async () => {
    const { m1, m2, m3 } = await macvlanOnEth0("private")
    expect(await reach(m1, m2.address)).toBe(false)
    expect(await reach(m1, m3.address)).toBe(true)
  })

  test(["macvlan"], "macvlan vepa: siblings meet only through the external switch, which does not hairpin; across hosts they do", async () => {
    const { m1, m2, m3 } = await macvlanOnEth0("vepa")
    expect(await reach(m1, m2.address)).toBe(false)
    expect(await reach(m1, m3.address)).toBe(true)
  })

  test(["macvlan"], "macvlan passthru: one child per parent; the second join is refused and leaves its sandbox as it was", async () => {
    const { world, network, hosts } = await vlanWorld(macvlanDriver, "mv", "198.18.0.0/24", "198.18.0.254", () => onEth0("passthru"))
    const p1 = await member(world, macvlanDriver, network, hosts[1], "p1", "198.18.0.21")
    expect(await reach(hosts[0].ns, p1.address)).toBe(true)
    const ns = h().ns("c-p2")
    await h().apply({ op: "nsAdd", ns })
    const endpoint = { container: "p2", network: "mv", address: "198.18.0.22/24", mac: "02:42:c6:12:00:16", aliases: [], ifname: "eth0", staticAddress: true }
    const failure = await refused(world, macvlanDriver.join(network, endpoint, hosts[1], { sandboxNs: ns, hostIf: "unused" }).steps)
    expect(failure.step).toBe("macvlan.child")
    expect(failure.error.reason).toBe("InvalidArgument")
    expect(await linkNames(ns)).toEqual(["lo"])
  })

  test(["macvlan", "vlan"], "macvlan on an 802.1Q parent the network makes: children on two hosts meet on VLAN 10; the parent goes with the network", async () => {
    const tagged: VlanInfo = { parent: "eth0.10", mode: "bridge", parentKind: "vlan", createdParent: true, vlanOf: { link: "eth0", id: 10 } }
    const { world, network, hosts } = await vlanWorld(macvlanDriver, "mv10", "10.10.0.0/24", "10.10.0.1", () => tagged)
    expect((await h().read(hosts[0].ns)).links.find((l) => l.name === "eth0.10")).toMatchObject({ kind: "vlan", parent: "eth0", vlanId: 10 })
    const m1 = await member(world, macvlanDriver, network, hosts[0], "m1", "10.10.0.11")
    const m3 = await member(world, macvlanDriver, network, hosts[1], "m3", "10.10.0.21")
    expect(await reach(m1, m3.address)).toBe(true)
    for (const m of [m1, m3]) await run(world, macvlanDriver.leave(network, m.endpoint, m.host, { sandboxNs: m.ns, hostIf: m.hostIf }))
    for (const host of hosts) await run(world, macvlanDriver.deleteNetwork(network, host))
    for (const host of hosts) expect(await linkNames(host.ns)).toEqual(["lo", "eth0"])
  })

  test(["macvlan", "dummy"], "macvlan without a parent: a dummy the network makes, children reach each other and nothing else; the gateway is set as libnetwork 20.10 sets it, and nobody answers it", async () => {
    const world = await makeWorld(h(), 1)
    const host = world.hosts[0] as HostContext
    const network = networkOf("mvd", "macvlan", "10.11.0.0/24", "10.11.0.1")
    const dummy = `dm-${network.id.slice(0, 12)}`
    world.vlans.set(`${host.host}/mvd`, { parent: dummy, mode: "bridge", parentKind: "dummy", createdParent: true })
    await run(world, macvlanDriver.createNetwork(network, host))
    const m1 = await member(world, macvlanDriver, network, host, "m1", "10.11.0.11")
    const m2 = await member(world, macvlanDriver, network, host, "m2", "10.11.0.12")
    expect(m1.gateway).toBe("10.11.0.1")
    expect(await reach(m1, m2.address)).toBe(true)
    expect(await reach(m1, "10.11.0.1")).toBe(false)
    for (const m of [m1, m2]) await run(world, macvlanDriver.leave(network, m.endpoint, m.host, { sandboxNs: m.ns, hostIf: m.hostIf }))
    await run(world, macvlanDriver.deleteNetwork(network, host))
    expect(await linkNames(host.ns)).toEqual(["lo", "eth0"])
  })

  test(["ipvlan"], "ipvlan l2: children share the parent's MAC, reach each other and the other host, never their own host", async () => {
    const { world, network, hosts } = await vlanWorld(ipvlanDriver, "iv", "198.18.0.0/24", "198.18.0.254", () => onEth0("l2"))
    const i1 = await member(world, ipvlanDriver, network, hosts[0], "i1", "198.18.0.31", undefined)
    const i2 = await member(world, ipvlanDriver, network, hosts[0], "i2", "198.18.0.32", undefined)
    const i3 = await member(world, ipvlanDriver, network, hosts[1], "i3", "198.18.0.41", undefined)
    expect(i1.gateway).toBe("198.18.0.254")
    const parentMac = (await h().read(hosts[0].ns)).links.find((l) => l.name === "eth0")?.mac
    expect((await h().read(i1.ns)).links.find((l) => l.name === "eth0")).toMatchObject({ kind: "ipvlan", mac: parentMac })
    expect(await reach(i1, i2.address)).toBe(true)
    expect(await reach(i1, i3.address)).toBe(true)
    expect(await reach(i1, hostAddress(1))).toBe(true)
    expect(await reach(i1, hostAddress(0))).toBe(false)
  })

  test(["ipvlan"], "ipvlan l3: `default dev eth0` and no gateway; the other host answers only once it has a route back", async () => {
    const { world, network, hosts } = await vlanWorld(ipvlanDriver, "iv3", "10.12.0.0/24", "10.12.0.1", () => onEth0("l3"))
    const i1 = await member(world, ipvlanDriver, network, hosts[0], "i1", "10.12.0.11", undefined)
    const i2 = await member(world, ipvlanDriver, network, hosts[0], "i2", "10.12.0.12", undefined)
    expect(i1.gateway).toBeUndefined()
    expect((await h().read(i1.ns)).routes).toContainEqual(expect.objectContaining({ dst: "default", dev: "eth0", scope: "link" }))
    expect(await reach(i1, i2.address)).toBe(true)
    expect(await reach(i1, hostAddress(1))).toBe(false)
    await h().apply({ op: "routeAdd", ns: hosts[1].ns, route: { dst: "10.12.0.0/24", via: hostAddress(0) } })
    expect(await reach(i1, hostAddress(1))).toBe(true)
  })
}
