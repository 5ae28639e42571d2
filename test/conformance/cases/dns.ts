import { expect, it } from "vitest"
import { EMBEDDED_DNS_ADDRESS, type DnsUpdate } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { host, twoBridges } from "../topologies.ts"

/**
 * The embedded DNS: servers bound to address:53 inside a namespace, answering over the network
 * from a resolver's names (kept by updateDns) for the networks their view lists, in order.
 */
export const dnsCases = (h: () => Harness): void => {
  const resolver = "r1"
  /** web on n1 and on n2 (different addresses), db and its alias on n2 only */
  const names: DnsUpdate = {
    resolver,
    add: [
      { network: "n1", names: ["web", "www"], address: "10.31.0.3" },
      { network: "n2", names: ["web"], address: "10.32.0.3" },
      { network: "n2", names: ["db", "Store"], address: "10.32.0.4" },
    ],
  }

  it("a server on 127.0.0.11 answers its own namespace from its resolver's names, case-insensitively", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    await harness.updateDns(names)
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n1"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "Web")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.3"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "www")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.3"] })
    // db lives on n2, which this server does not answer for
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "db")).toEqual({ rcode: "NXDOMAIN", addresses: [] })
  })

  it("asks the view's networks in order, and name.network only on that network", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    await harness.updateDns(names)
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n2", "n1"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "NOERROR", addresses: ["10.32.0.3"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web.n1")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.3"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "store.n2")).toEqual({ rcode: "NOERROR", addresses: ["10.32.0.4"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "db.n1")).toEqual({ rcode: "NXDOMAIN", addresses: [] })
  })

  it("a query sent after updateDns returns is answered from the new names and networks", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n1"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "NXDOMAIN", addresses: [] })
    await harness.updateDns(names)
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.3"] })
    // a second address for the same name answers with both, in address order
    await harness.updateDns({ resolver, add: [{ network: "n1", names: ["web"], address: "10.31.0.2" }] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.2", "10.31.0.3"] })
    await harness.updateDns({ resolver, remove: [{ network: "n1", names: ["web", "www"], address: "10.31.0.3" }], networks: [{ ns: a, networks: ["n1", "n2"] }] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.2"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "www")).toEqual({ rcode: "NXDOMAIN", addresses: [] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "db")).toEqual({ rcode: "NOERROR", addresses: ["10.32.0.4"] })
  })

  it("resolvers are apart: the same network name in another resolver answers nothing here", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    await harness.updateDns({ resolver: "r2", add: [{ network: "n1", names: ["web"], address: "10.31.0.9" }] })
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n1"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "NXDOMAIN", addresses: [] })
  })

  it("an update naming a namespace without a server is refused with NotFound and changes nothing", async () => {
    const harness = h()
    const a = harness.ns("a")
    const b = harness.ns("b")
    await harness.apply(host(a), host(b))
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n1"] })
    const error = await harness.updateDnsRefusal({ ...names, networks: [{ ns: b, networks: ["n1"] }] })
    expect(error.reason).toBe("NotFound")
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "NXDOMAIN", addresses: [] })
  })

  it("after stopDns nobody answers: the query times out", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    await harness.updateDns(names)
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n1"] })
    await harness.stopDns(a)
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "TIMEOUT", addresses: [] })
  })

  it("stopDns closes the DNS only: the namespace's servers on 0.0.0.0 keep answering, and unlisten still finds them", async () => {
    // a container's last user network going stops its resolver, not the processes listening in it
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops)
    await harness.listen({ ns: net.c1, port: 80, proto: "tcp", answer: "web" })
    await harness.listen({ ns: net.c1, port: 5000, proto: "udp", answer: "web" })
    await harness.serveDns(net.c1, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n1"] })
    await harness.stopDns(net.c1)
    const served = { outcome: "answer", answeredBy: "web", seenFrom: "10.31.0.3" }
    expect(await harness.connect({ from: net.c3, address: "10.31.0.2", port: 80, proto: "tcp" })).toMatchObject(served)
    expect(await harness.connect({ from: net.c3, address: "10.31.0.2", port: 5000, proto: "udp" })).toMatchObject(served)
    await harness.unlisten({ ns: net.c1, port: 80, proto: "tcp" })
    expect((await harness.connect({ from: net.c3, address: "10.31.0.2", port: 80, proto: "tcp" })).outcome).toBe("refused")
  })

  it("with lo down, a server on 127.0.0.11 can be started but not reached", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply({ op: "nsAdd", ns: a })
    await harness.updateDns(names)
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n1"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "TIMEOUT", addresses: [] })
  })

  it("a server on a container's address answers a neighbour on the same bridge", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops)
    await harness.updateDns(names)
    await harness.serveDns(net.c3, "10.31.0.3", { resolver, networks: ["n1"] })
    expect(await harness.queryDns(net.c1, "10.31.0.3", "web")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.3"] })
    // c1 serves only on 127.0.0.11: its eth0 address has no listener
    await harness.serveDns(net.c1, EMBEDDED_DNS_ADDRESS, { resolver, networks: ["n1"] })
    expect(await harness.queryDns(net.c3, "10.31.0.2", "web")).toEqual({ rcode: "TIMEOUT", addresses: [] })
  })

  it("serving on an address the namespace does not have is refused with NotFound", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    const error = await harness.serveDnsRefusal(a, "10.31.0.9", { resolver, networks: ["n1"] })
    expect(error.reason).toBe("NotFound")
  })
}
