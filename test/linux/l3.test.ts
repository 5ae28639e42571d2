import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { failure, inNs, ipJson, needsRoot, nsName, root, run, sh } from "./support.ts"

describe.skipIf(!root)(`linux backend: addresses, routes, neighbours, fdb, sysctls (${needsRoot})`, () => {
  let kernel: KernelShape
  const ns = nsName("l3")
  const peer = nsName("l3p")
  beforeAll(async () => {
    kernel = await makeLinuxKernel()
    await run(
      kernel.apply([
        { op: "nsAdd", ns },
        { op: "nsAdd", ns: peer },
        { op: "linkAdd", ns, link: { kind: "veth", name: "eth0", up: true, peer: { name: "eth0", ns: peer } } },
        { op: "linkSet", ns: peer, name: "eth0", up: true },
      ]),
    )
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  it("adds and deletes addresses; the kernel's connected route follows, and read() agrees with ip", async () => {
    await run(kernel.apply([{ op: "addrAdd", ns, dev: "eth0", cidr: "10.20.0.2/24" }, { op: "addrAdd", ns, dev: "eth0", cidr: "10.21.0.2/16" }]))
    const ipAddrs = ipJson<Array<{ ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(ns, "addr")
      .flatMap((l) => l.addr_info.filter((a) => a.family === "inet").map((a) => ({ dev: l.ifname, cidr: `${a.local}/${a.prefixlen}` })))
    const state = await run(kernel.read(ns))
    expect(state.addrs).toEqual(ipAddrs)
    expect(state.addrs).toEqual([
      { dev: "eth0", cidr: "10.20.0.2/24" },
      { dev: "eth0", cidr: "10.21.0.2/16" },
    ])
    expect(state.routes).toContainEqual({ dst: "10.20.0.0/24", dev: "eth0", scope: "link", origin: "kernel" })
    expect(state.routes).toContainEqual({ dst: "10.21.0.0/16", dev: "eth0", scope: "link", origin: "kernel" })
    expect((await failure(kernel.apply([{ op: "addrAdd", ns, dev: "eth0", cidr: "10.20.0.2/24" }]))).reason).toBe("AlreadyExists")
    await run(kernel.apply([{ op: "addrDel", ns, dev: "eth0", cidr: "10.21.0.2/16" }]))
    const after = await run(kernel.read(ns))
    expect(after.addrs).toEqual([{ dev: "eth0", cidr: "10.20.0.2/24" }])
    expect(after.routes.some((r) => r.dst === "10.21.0.0/16")).toBe(false)
    expect((await failure(kernel.apply([{ op: "addrDel", ns, dev: "eth0", cidr: "10.21.0.2/16" }]))).reason).toBe("NotFound")
    expect((await failure(kernel.apply([{ op: "addrAdd", ns, dev: "nope", cidr: "10.22.0.2/24" }]))).reason).toBe("NoSuchDevice")
  })

  it("adds static routes (default via a gateway, on-link ones) and deletes them; an off-link gateway is refused", async () => {
    await run(
      kernel.apply([
        { op: "routeAdd", ns, route: { dst: "default", via: "10.20.0.1" } },
        { op: "routeAdd", ns, route: { dst: "172.30.0.0/16", dev: "eth0" } },
        { op: "routeAdd", ns, route: { dst: "172.31.0.0/16", via: "10.20.0.9", dev: "eth0" } },
      ]),
    )
    const routes = (await run(kernel.read(ns))).routes
    expect(routes).toContainEqual({ dst: "default", via: "10.20.0.1", dev: "eth0", scope: "universe", origin: "static" })
    expect(routes).toContainEqual({ dst: "172.30.0.0/16", dev: "eth0", scope: "link", origin: "static" })
    expect(routes).toContainEqual({ dst: "172.31.0.0/16", via: "10.20.0.9", dev: "eth0", scope: "universe", origin: "static" })
    const ipRoutes = ipJson<Array<{ dst: string; gateway?: string; dev: string; protocol?: string }>>(ns, "route")
    expect(routes.map((r) => r.dst).sort()).toEqual(ipRoutes.map((r) => r.dst).sort())
    expect(ipRoutes.find((r) => r.dst === "default")).toMatchObject({ gateway: "10.20.0.1", dev: "eth0" })
    expect(sh("ip", ["-n", ns, "route", "show", "proto", "boot"])).toContain("default via 10.20.0.1 dev eth0")

    expect((await failure(kernel.apply([{ op: "routeAdd", ns, route: { dst: "default", via: "10.20.0.1" } }]))).reason).toBe("AlreadyExists")
    expect((await failure(kernel.apply([{ op: "routeAdd", ns, route: { dst: "192.0.2.0/24", via: "10.99.0.1" } }]))).reason).toBe(
      "NetworkUnreachable",
    )
    await run(kernel.apply([{ op: "routeDel", ns, route: { dst: "172.30.0.0/16", dev: "eth0" } }, { op: "routeDel", ns, route: { dst: "default" } }]))
    const left = (await run(kernel.read(ns))).routes.map((r) => r.dst)
    expect(left).not.toContain("172.30.0.0/16")
    expect(left).not.toContain("default")
    expect((await failure(kernel.apply([{ op: "routeDel", ns, route: { dst: "default" } }]))).reason).toBe("NotFound")
  })

  it("keeps permanent neighbours, replaces an existing entry, reports only permanent ones", async () => {
    await run(kernel.apply([{ op: "neighAdd", ns, dev: "eth0", ip: "10.20.0.50", mac: "02:00:00:00:00:50" }]))
    await run(kernel.apply([{ op: "neighAdd", ns, dev: "eth0", ip: "10.20.0.50", mac: "02:00:00:00:00:51" }]))
    const neighs = (await run(kernel.read(ns))).neighs
    expect(neighs).toEqual([{ dev: "eth0", ip: "10.20.0.50", mac: "02:00:00:00:00:51" }])
    expect(sh("ip", ["-n", ns, "neigh", "show", "10.20.0.50"])).toContain("PERMANENT")
    // a learned (non-permanent) entry appears in the kernel but not in read()
    await run(kernel.apply([{ op: "addrAdd", ns: peer, dev: "eth0", cidr: "10.20.0.3/24" }]))
    expect((await run(kernel.probe(ns, "10.20.0.3"))).reachable).toBe(true)
    expect(sh("ip", ["-n", ns, "neigh", "show", "10.20.0.3"])).toMatch(/REACHABLE|STALE|DELAY/)
    expect((await run(kernel.read(ns))).neighs.map((n) => n.ip)).toEqual(["10.20.0.50"])
    await run(kernel.apply([{ op: "neighDel", ns, dev: "eth0", ip: "10.20.0.50" }]))
    expect((await run(kernel.read(ns))).neighs).toEqual([])
    expect((await failure(kernel.apply([{ op: "neighDel", ns, dev: "eth0", ip: "10.20.0.50" }]))).reason).toBe("NotFound")
  })

  it("keeps vxlan FDB entries (several VTEPs for the all-zero MAC) and static bridge entries, not the kernel's own", async () => {
    await run(
      kernel.apply([
        { op: "linkAdd", ns, link: { kind: "vxlan", name: "vx0", vni: 7, port: 4789, local: "10.20.0.2", dev: "eth0", learning: false } },
        { op: "linkAdd", ns, link: { kind: "bridge", name: "br0", up: true } },
        { op: "linkSet", ns, name: "vx0", master: "br0", up: true },
        { op: "fdbAdd", ns, dev: "vx0", mac: "00:00:00:00:00:00", dst: "10.20.0.3" },
        { op: "fdbAdd", ns, dev: "vx0", mac: "00:00:00:00:00:00", dst: "10.20.0.4" },
        { op: "fdbAdd", ns, dev: "vx0", mac: "02:42:0a:00:00:05", dst: "10.20.0.3" },
        { op: "fdbAdd", ns, dev: "vx0", mac: "02:42:0a:00:00:06" },
      ]),
    )
    const fdb = (await run(kernel.read(ns))).fdb
    expect(fdb).toEqual(
      expect.arrayContaining([
        { dev: "vx0", mac: "00:00:00:00:00:00", dst: "10.20.0.3" },
        { dev: "vx0", mac: "00:00:00:00:00:00", dst: "10.20.0.4" },
        { dev: "vx0", mac: "02:42:0a:00:00:05", dst: "10.20.0.3" },
        { dev: "vx0", mac: "02:42:0a:00:00:06" },
      ]),
    )
    expect(fdb).toHaveLength(4)
    const bridgeView = sh("bridge", ["-n", ns, "fdb", "show", "dev", "vx0"])
    expect(bridgeView).toContain("00:00:00:00:00:00 dst 10.20.0.4 self permanent")
    expect(bridgeView).toMatch(/02:42:0a:00:00:06 master br0 static/)
    // appending a VTEP that is already listed is a no-op for the kernel, not a refusal
    await run(kernel.apply([{ op: "fdbAdd", ns, dev: "vx0", mac: "00:00:00:00:00:00", dst: "10.20.0.4" }]))
    expect((await run(kernel.read(ns))).fdb).toHaveLength(4)
    await run(
      kernel.apply([
        { op: "fdbDel", ns, dev: "vx0", mac: "00:00:00:00:00:00", dst: "10.20.0.4" },
        { op: "fdbDel", ns, dev: "vx0", mac: "02:42:0a:00:00:06" },
      ]),
    )
    expect((await run(kernel.read(ns))).fdb).toHaveLength(2)
    expect((await failure(kernel.apply([{ op: "fdbDel", ns, dev: "vx0", mac: "02:42:0a:00:00:06" }]))).reason).toBe("NotFound")
  })

  it("sets per-namespace sysctls from inside the namespace and reads back exactly those", async () => {
    const rootForward = sh("cat", ["/proc/sys/net/ipv4/ip_forward"])
    await run(
      kernel.apply([
        { op: "sysctlSet", ns, key: "net.ipv4.ip_forward", value: "1" },
        { op: "sysctlSet", ns, key: "net.ipv4.conf.eth0.rp_filter", value: "2" },
        { op: "sysctlSet", ns, key: "net.ipv4.ip_local_port_range", value: "30000 40000" },
      ]),
    )
    expect(inNs(ns, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.trim()).toBe("1")
    expect(inNs(ns, "cat", "/proc/sys/net/ipv4/conf/eth0/rp_filter").stdout.trim()).toBe("2")
    expect(sh("cat", ["/proc/sys/net/ipv4/ip_forward"])).toBe(rootForward)
    expect((await run(kernel.read(ns))).sysctls).toEqual({
      "net.ipv4.ip_forward": "1",
      "net.ipv4.conf.eth0.rp_filter": "2",
      "net.ipv4.ip_local_port_range": "30000 40000",
    })
    expect((await run(kernel.read(peer))).sysctls).toEqual({})
    expect((await failure(kernel.apply([{ op: "sysctlSet", ns, key: "net.ipv4.no_such_knob", value: "1" }]))).reason).toBe("NotFound")
    expect((await failure(kernel.apply([{ op: "sysctlSet", ns, key: "net.ipv4.ip_forward", value: "banana" }]))).reason).toBe("InvalidArgument")
    // machine-wide keys are refused: written from "inside" a namespace they would change the host
    expect((await failure(kernel.apply([{ op: "sysctlSet", ns, key: "kernel.hostname", value: "x" }]))).reason).toBe("PermissionDenied")
    expect((await failure(kernel.apply([{ op: "sysctlSet", ns, key: "net.ipv4.conf.../x", value: "x" }]))).reason).toBe("PermissionDenied")
  })
})
