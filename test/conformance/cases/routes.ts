import { expect, it } from "vitest"
import type { RouteState } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { host } from "../topologies.ts"

/** addresses and the routes they make: connected routes come and go with the address and the link */
export const routeCases = (h: () => Harness): void => {
  const connected = (dst: string, dev: string): RouteState => ({ dst, dev, scope: "link", origin: "kernel" })

  /** a namespace with bridge br0, down, holding nothing yet */
  const setup = async (): Promise<{ readonly a: string; readonly harness: Harness }> => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a), { op: "linkAdd", ns: a, link: { kind: "bridge", name: "br0" } })
    return { a, harness }
  }

  it("an address on an up link makes its connected route (network form, scope link, kernel)", async () => {
    const { a, harness } = await setup()
    await harness.apply({ op: "linkSet", ns: a, name: "br0", up: true }, { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.2/24" })
    const state = await harness.read(a)
    expect(state.addrs).toContainEqual({ dev: "br0", cidr: "10.70.0.2/24" })
    expect(state.routes).toEqual([connected("10.70.0.0/24", "br0")])
  })

  it("an address added while the link is down makes its route only when the link comes up", async () => {
    const { a, harness } = await setup()
    await harness.apply({ op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.2/24" })
    expect((await harness.read(a)).routes).toEqual([])
    await harness.apply({ op: "linkSet", ns: a, name: "br0", up: true })
    expect((await harness.read(a)).routes).toEqual([connected("10.70.0.0/24", "br0")])
  })

  it("a /32 address makes no connected route", async () => {
    const { a, harness } = await setup()
    await harness.apply({ op: "linkSet", ns: a, name: "br0", up: true }, { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.9/32" })
    expect((await harness.read(a)).routes).toEqual([])
  })

  it("a default route via an on-link gateway reads back as default, via, dev, scope universe, static", async () => {
    const { a, harness } = await setup()
    await harness.apply(
      { op: "linkSet", ns: a, name: "br0", up: true },
      { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.2/24" },
      { op: "routeAdd", ns: a, route: { dst: "default", via: "10.70.0.1" } },
    )
    const routes = (await harness.read(a)).routes
    expect(routes).toContainEqual({ dst: "default", via: "10.70.0.1", dev: "br0", scope: "universe", origin: "static" })
    expect(routes).toContainEqual(connected("10.70.0.0/24", "br0"))
    expect(routes).toHaveLength(2)
  })

  it("an on-link route through a device, and a gateway reached through it", async () => {
    const { a, harness } = await setup()
    await harness.apply(
      { op: "linkSet", ns: a, name: "br0", up: true },
      { op: "routeAdd", ns: a, route: { dst: "10.71.0.0/24", dev: "br0" } },
      { op: "routeAdd", ns: a, route: { dst: "10.72.0.0/16", via: "10.71.0.1" } },
    )
    const routes = (await harness.read(a)).routes
    expect(routes).toContainEqual({ dst: "10.71.0.0/24", dev: "br0", scope: "link", origin: "static" })
    expect(routes).toContainEqual({ dst: "10.72.0.0/16", via: "10.71.0.1", dev: "br0", scope: "universe", origin: "static" })
  })

  it("a link going down takes its connected and static routes; coming up brings back only the connected one", async () => {
    const { a, harness } = await setup()
    await harness.apply(
      { op: "linkSet", ns: a, name: "br0", up: true },
      { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.2/24" },
      { op: "routeAdd", ns: a, route: { dst: "default", via: "10.70.0.1" } },
      { op: "routeAdd", ns: a, route: { dst: "10.73.0.0/24", dev: "br0" } },
      { op: "linkSet", ns: a, name: "br0", up: false },
    )
    const down = await harness.read(a)
    expect(down.routes).toEqual([])
    expect(down.addrs).toContainEqual({ dev: "br0", cidr: "10.70.0.2/24" })
    await harness.apply({ op: "linkSet", ns: a, name: "br0", up: true })
    expect((await harness.read(a)).routes).toEqual([connected("10.70.0.0/24", "br0")])
  })

  it("deleting the address removes its connected route, and with the link's last address its static routes", async () => {
    const { a, harness } = await setup()
    await harness.apply(
      { op: "linkSet", ns: a, name: "br0", up: true },
      { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.2/24" },
      { op: "addrAdd", ns: a, dev: "br0", cidr: "10.74.0.2/24" },
      { op: "routeAdd", ns: a, route: { dst: "default", via: "10.70.0.1" } },
      { op: "addrDel", ns: a, dev: "br0", cidr: "10.70.0.2/24" },
    )
    const routes = (await harness.read(a)).routes
    expect(routes).not.toContainEqual(connected("10.70.0.0/24", "br0"))
    expect(routes).toContainEqual(connected("10.74.0.0/24", "br0"))
    expect(routes).toContainEqual({ dst: "default", via: "10.70.0.1", dev: "br0", scope: "universe", origin: "static" })
    await harness.apply({ op: "addrDel", ns: a, dev: "br0", cidr: "10.74.0.2/24" })
    expect((await harness.read(a)).routes).toEqual([])
  })

  it("a second address of the same subnet is secondary: no route of its own, and it goes with the primary", async () => {
    const { a, harness } = await setup()
    await harness.apply(
      { op: "linkSet", ns: a, name: "br0", up: true },
      { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.2/24" },
      { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.3/24" },
    )
    const both = await harness.read(a)
    expect(both.addrs.filter((addr) => addr.dev === "br0")).toEqual([
      { dev: "br0", cidr: "10.70.0.2/24" },
      { dev: "br0", cidr: "10.70.0.3/24" },
    ])
    expect(both.routes).toEqual([connected("10.70.0.0/24", "br0")])
    await harness.apply({ op: "addrDel", ns: a, dev: "br0", cidr: "10.70.0.2/24" })
    const after = await harness.read(a)
    expect(after.addrs.filter((addr) => addr.dev === "br0")).toEqual([])
    expect(after.routes).toEqual([])
  })

  it("the same subnet on two links makes two connected routes", async () => {
    const { a, harness } = await setup()
    await harness.apply(
      { op: "linkAdd", ns: a, link: { kind: "bridge", name: "br1", up: true } },
      { op: "linkSet", ns: a, name: "br0", up: true },
      { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.2/24" },
      { op: "addrAdd", ns: a, dev: "br1", cidr: "10.70.0.3/24" },
    )
    const routes = (await harness.read(a)).routes
    expect(routes).toHaveLength(2)
    expect(routes).toContainEqual(connected("10.70.0.0/24", "br0"))
    expect(routes).toContainEqual(connected("10.70.0.0/24", "br1"))
  })

  it("a connected route can be deleted; its address stays", async () => {
    const { a, harness } = await setup()
    await harness.apply(
      { op: "linkSet", ns: a, name: "br0", up: true },
      { op: "addrAdd", ns: a, dev: "br0", cidr: "10.70.0.2/24" },
      { op: "routeDel", ns: a, route: { dst: "10.70.0.0/24", dev: "br0" } },
    )
    const state = await harness.read(a)
    expect(state.routes).toEqual([])
    expect(state.addrs).toContainEqual({ dev: "br0", cidr: "10.70.0.2/24" })
  })

  it("permanent neighbours and sysctls read back as set", async () => {
    const { a, harness } = await setup()
    await harness.apply(
      { op: "linkSet", ns: a, name: "br0", up: true },
      { op: "neighAdd", ns: a, dev: "br0", ip: "10.70.0.9", mac: "02:00:0a:46:00:09" },
      { op: "sysctlSet", ns: a, key: "net.ipv4.ip_forward", value: "1" },
    )
    const state = await harness.read(a)
    expect(state.neighs).toEqual([{ dev: "br0", ip: "10.70.0.9", mac: "02:00:0a:46:00:09" }])
    expect(state.sysctls["net.ipv4.ip_forward"]).toBe("1")
    await harness.apply(
      { op: "neighDel", ns: a, dev: "br0", ip: "10.70.0.9" },
      { op: "sysctlSet", ns: a, key: "net.ipv4.conf.all.forwarding", value: "0" },
    )
    const after = await harness.read(a)
    expect(after.neighs).toEqual([])
    // one switch in Linux: writing conf.all.forwarding changes ip_forward too
    expect(after.sysctls["net.ipv4.ip_forward"]).toBe("0")
  })
}
