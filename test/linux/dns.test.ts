import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { EMBEDDED_DNS_ADDRESS, type DnsView } from "../../backends/kernel-types.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { failure, inNs, inNsAsync, needsRoot, nsName, root, run, sh } from "./support.ts"

const view: DnsView = { resolver: "r", networks: ["n1", "n2"] }

/** UDP sockets listening on port 53 in a namespace (or the machine's own, with ns undefined) */
const listeners = (ns?: string): string => (ns ? inNs(ns, "ss", "-Hulpn").stdout : sh("ss", ["-Hulpn"])).split("\n").filter((l) => l.includes(":53 ")).join("\n")

describe.skipIf(!root)(`linux backend: DNS over real UDP inside namespaces (${needsRoot})`, () => {
  let kernel: KernelShape
  const box = nsName("dns-c")
  const other = nsName("dns-o")
  beforeAll(async () => {
    kernel = await makeLinuxKernel({ seed: 3 })
    await run(
      kernel.updateDns({
        resolver: view.resolver,
        add: [
          { network: "n1", names: ["db"], address: "10.50.0.3" },
          { network: "n1", names: ["web"], address: "10.50.0.2" },
          { network: "n1", names: ["web"], address: "10.60.0.2" },
        ],
      }),
    )
    await run(
      kernel.apply([
        { op: "nsAdd", ns: box },
        { op: "nsAdd", ns: other },
        { op: "linkSet", ns: box, name: "lo", up: true },
        { op: "linkAdd", ns: box, link: { kind: "veth", name: "eth0", up: true, peer: { name: "eth0", ns: other } } },
        { op: "linkSet", ns: other, name: "eth0", up: true },
        { op: "addrAdd", ns: box, dev: "eth0", cidr: "10.50.0.2/24" },
        { op: "addrAdd", ns: other, dev: "eth0", cidr: "10.50.0.3/24" },
      ]),
    )
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  it("binds 127.0.0.11:53 inside the namespace, not in the machine's own", async () => {
    const rootBefore = listeners()
    await run(kernel.serveDns(box, EMBEDDED_DNS_ADDRESS, view))
    expect(listeners(box)).toContain(`${EMBEDDED_DNS_ADDRESS}:53`)
    expect(listeners()).toBe(rootBefore)
    expect(listeners(other)).toBe("")
  })

  it("answers A queries from inside the namespace, NXDOMAIN for unknown names", async () => {
    expect(await run(kernel.queryDns(box, EMBEDDED_DNS_ADDRESS, "db"))).toEqual({ rcode: "NOERROR", addresses: ["10.50.0.3"] })
    expect(await run(kernel.queryDns(box, EMBEDDED_DNS_ADDRESS, "WEB"))).toEqual({ rcode: "NOERROR", addresses: ["10.50.0.2", "10.60.0.2"] })
    expect(await run(kernel.queryDns(box, EMBEDDED_DNS_ADDRESS, "nope"))).toEqual({ rcode: "NXDOMAIN", addresses: [] })
  })

  it("is understood by an independent resolver (busybox nslookup run inside the namespace)", async () => {
    const found = await inNsAsync(box, "busybox", "nslookup", "db", EMBEDDED_DNS_ADDRESS)
    expect(found.stdout).toContain("10.50.0.3")
    const missing = await inNsAsync(box, "busybox", "nslookup", "nope", EMBEDDED_DNS_ADDRESS)
    expect(`${missing.stdout}${missing.stderr}`).toMatch(/NXDOMAIN|can't find/)
  })

  it("is not reachable from another namespace (127.0.0.11 is the sandbox's own)", async () => {
    expect(await run(kernel.queryDns(other, EMBEDDED_DNS_ADDRESS, "db"))).toEqual({ rcode: "TIMEOUT", addresses: [] })
  })

  it("serves on a routable address too, reached over the veth", async () => {
    await run(kernel.serveDns(box, "10.50.0.2", view))
    expect(await run(kernel.queryDns(other, "10.50.0.2", "db"))).toEqual({ rcode: "NOERROR", addresses: ["10.50.0.3"] })
  })

  it("stops serving on stopDns, and refuses a second server on the same address while running", async () => {
    expect((await failure(kernel.serveDns(box, "10.50.0.2", view))).reason).toBe("Busy")
    await run(kernel.stopDns(box))
    expect(listeners(box)).toBe("")
    const started = performance.now()
    expect(await run(kernel.queryDns(box, EMBEDDED_DNS_ADDRESS, "db"))).toEqual({ rcode: "TIMEOUT", addresses: [] })
    // the query went out and nobody answered: the whole timeout passed
    expect(performance.now() - started).toBeGreaterThanOrEqual(950)
    await run(kernel.serveDns(box, EMBEDDED_DNS_ADDRESS, view))
    expect((await run(kernel.queryDns(box, EMBEDDED_DNS_ADDRESS, "db"))).rcode).toBe("NOERROR")
  })

  it("stops the servers of a namespace that is deleted", async () => {
    const ns = nsName("dns-gone")
    await run(kernel.apply([{ op: "nsAdd", ns }, { op: "linkSet", ns, name: "lo", up: true }]))
    await run(kernel.serveDns(ns, EMBEDDED_DNS_ADDRESS, view))
    await run(kernel.apply([{ op: "nsDel", ns }]))
    expect((await failure(kernel.serveDns(ns, EMBEDDED_DNS_ADDRESS, view))).reason).toBe("NotFound")
  })
})
