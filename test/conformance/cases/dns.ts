import { expect, it } from "vitest"
import { EMBEDDED_DNS_ADDRESS, type DnsHandler } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { host, twoBridges } from "../topologies.ts"

/** the embedded-DNS plumbing: a handler served on address:53 inside a namespace, asked over the network */
export const dnsCases = (h: () => Harness): void => {
  /** answers "web" with 10.31.0.3, anything else NXDOMAIN, and remembers what it was asked */
  const recordingHandler = (): { readonly handler: DnsHandler; readonly asked: Array<string> } => {
    const asked: Array<string> = []
    return {
      asked,
      handler: (name) => {
        asked.push(name)
        return name.toLowerCase() === "web" ? { rcode: "NOERROR", addresses: ["10.31.0.3"] } : { rcode: "NXDOMAIN", addresses: [] }
      },
    }
  }

  it("a server on 127.0.0.11 answers questions from its own namespace, name passed as asked", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    const server = recordingHandler()
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, server.handler)
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "Web")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.3"] })
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "db")).toEqual({ rcode: "NXDOMAIN", addresses: [] })
    expect(server.asked).toEqual(["Web", "db"])
  })

  it("after stopDns nobody answers: the query times out", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, recordingHandler().handler)
    await harness.stopDns(a)
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "TIMEOUT", addresses: [] })
  })

  it("with lo down, a server on 127.0.0.11 can be started but not reached", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply({ op: "nsAdd", ns: a })
    const server = recordingHandler()
    await harness.serveDns(a, EMBEDDED_DNS_ADDRESS, server.handler)
    expect(await harness.queryDns(a, EMBEDDED_DNS_ADDRESS, "web")).toEqual({ rcode: "TIMEOUT", addresses: [] })
    expect(server.asked).toEqual([])
  })

  it("a server on a container's address answers a neighbour on the same bridge", async () => {
    const harness = h()
    const net = twoBridges(harness.ns)
    await harness.apply(net.ops)
    await harness.serveDns(net.c3, "10.31.0.3", recordingHandler().handler)
    expect(await harness.queryDns(net.c1, "10.31.0.3", "web")).toEqual({ rcode: "NOERROR", addresses: ["10.31.0.3"] })
    // c1 serves only on 127.0.0.11: its eth0 address has no listener
    await harness.serveDns(net.c1, EMBEDDED_DNS_ADDRESS, recordingHandler().handler)
    expect(await harness.queryDns(net.c3, "10.31.0.2", "web")).toEqual({ rcode: "TIMEOUT", addresses: [] })
  })

  it("serving on an address the namespace does not have is refused with NotFound", async () => {
    const harness = h()
    const a = harness.ns("a")
    await harness.apply(host(a))
    const error = await harness.serveDnsRefusal(a, "10.31.0.9", recordingHandler().handler)
    expect(error.reason).toBe("NotFound")
  })
}
