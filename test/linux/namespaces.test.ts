import { existsSync, readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { readEntry } from "../../backends/linux/ledger.ts"
import { failure, inNs, ipJson, needsRoot, nsName, root, run, sh } from "./support.ts"

describe.skipIf(!root)(`linux backend: namespaces (${needsRoot})`, () => {
  let kernel: KernelShape
  beforeAll(async () => {
    kernel = await makeLinuxKernel({ seed: 7 })
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  it("creates a namespace iproute2 can see, records it in the ledger, and deletes both", async () => {
    const ns = nsName("life")
    await run(kernel.apply([{ op: "nsAdd", ns }]))
    expect(sh("ip", ["netns", "list"])).toContain(ns)
    expect(ipJson(ns, "link").map((l: { ifname: string }) => l.ifname)).toEqual(["lo"])
    expect(readEntry(ns)?.pid).toBe(process.pid)
    expect(await run(kernel.namespaces())).toContain(ns)
    await run(kernel.apply([{ op: "nsDel", ns }]))
    expect(existsSync(`/run/netns/${ns}`)).toBe(false)
    expect(readEntry(ns)).toBeUndefined()
    expect(await run(kernel.namespaces())).not.toContain(ns)
  })

  it("refuses names without the cnm- prefix before touching anything", async () => {
    const e = await failure(kernel.apply([{ op: "nsAdd", ns: "mine" }]))
    expect(e.reason).toBe("PermissionDenied")
    expect(existsSync("/run/netns/mine")).toBe(false)
    expect((await failure(kernel.apply([{ op: "linkDel", ns: "dk", name: "eth0" }]))).reason).toBe("PermissionDenied")
    expect((await failure(kernel.apply([{ op: "nsAdd", ns: "cnm-../x" }]))).reason).toBe("InvalidArgument")
  })

  it("answers AlreadyExists for a second nsAdd and NotFound for operations on a missing namespace", async () => {
    const ns = nsName("dup")
    await run(kernel.apply([{ op: "nsAdd", ns }]))
    const e = await failure(kernel.apply([{ op: "nsAdd", ns }]))
    expect(e.reason).toBe("AlreadyExists")
    expect(e.op).toEqual({ op: "nsAdd", ns })
    // the refused duplicate must not have taken over the ledger entry or deleted anything
    expect(readEntry(ns)?.pid).toBe(process.pid)
    await run(kernel.apply([{ op: "nsDel", ns }]))
    expect((await failure(kernel.apply([{ op: "nsDel", ns }]))).reason).toBe("NotFound")
    expect((await failure(kernel.read(ns))).reason).toBe("NotFound")
    expect((await failure(kernel.apply([{ op: "linkSet", ns, name: "lo", up: true }]))).reason).toBe("NotFound")
  })

  it("stops at the first refusal and keeps what came before", async () => {
    const ns = nsName("stop")
    const e = await failure(
      kernel.apply([
        { op: "nsAdd", ns },
        { op: "linkAdd", ns, link: { kind: "bridge", name: "br0" } },
        { op: "linkAdd", ns, link: { kind: "bridge", name: "br0" } },
        { op: "linkAdd", ns, link: { kind: "bridge", name: "br1" } },
      ]),
    )
    expect(e.reason).toBe("AlreadyExists")
    expect(e.op).toMatchObject({ op: "linkAdd", link: { name: "br0" } })
    expect(ipJson(ns, "link").map((l: { ifname: string }) => l.ifname)).toEqual(["lo", "br0"])
    await run(kernel.apply([{ op: "nsDel", ns }]))
  })

  it("starts namespaces with IPv6 off, allows ping sockets on the first probe, switches br_netfilter off with the first bridge, and leaves the root's values alone", async () => {
    // br_netfilter is built in here; where it is a module that is not loaded, there is nothing to switch off
    const brNetfilter = existsSync("/proc/sys/net/bridge/bridge-nf-call-iptables")
    const files = ["ipv6/conf/default/disable_ipv6", "ipv4/ping_group_range", ...(brNetfilter ? ["bridge/bridge-nf-call-iptables"] : [])]
    const before = files.map((f) => readFileSync(`/proc/sys/net/${f}`, "utf8"))
    const ns = nsName("init")
    const value = (file: string) => inNs(ns, "cat", `/proc/sys/net/${file}`).stdout.split(/\s+/).filter(Boolean).join(" ")
    await run(kernel.apply([{ op: "nsAdd", ns }]))
    expect(value("ipv6/conf/default/disable_ipv6")).toBe("1")
    // nothing else is written up front: each sysctl write costs more the more namespaces exist
    expect(value("ipv4/ping_group_range")).toBe("1 0")
    if (brNetfilter) expect(value("bridge/bridge-nf-call-iptables")).toBe("1")
    await run(kernel.apply([{ op: "linkAdd", ns, link: { kind: "bridge", name: "br0" } }]))
    if (brNetfilter) expect(value("bridge/bridge-nf-call-iptables")).toBe("0")
    await run(kernel.apply([{ op: "linkSet", ns, name: "lo", up: true }]))
    expect((await run(kernel.probe(ns, "127.0.0.1"))).reachable).toBe(true)
    expect(value("ipv4/ping_group_range")).toBe("0 2147483647")
    expect(files.map((f) => readFileSync(`/proc/sys/net/${f}`, "utf8"))).toEqual(before)
    await run(kernel.apply([{ op: "nsDel", ns }]))
  })

  it("closes its socket before deleting: a veth end in another namespace disappears with its peer's namespace", async () => {
    const host = nsName("pin-h")
    const box = nsName("pin-c")
    await run(
      kernel.apply([
        { op: "nsAdd", ns: host },
        { op: "nsAdd", ns: box },
        { op: "linkAdd", ns: host, link: { kind: "veth", name: "h0", peer: { name: "eth0", ns: box } } },
      ]),
    )
    // reading the box opens (and caches) a socket inside it: that socket must not keep it alive
    expect((await run(kernel.read(box))).links.map((l) => l.name)).toContain("eth0")
    await run(kernel.apply([{ op: "nsDel", ns: box }]))
    const deadline = Date.now() + 3000
    let names = ipJson(host, "link").map((l: { ifname: string }) => l.ifname)
    while (names.includes("h0") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
      names = ipJson(host, "link").map((l: { ifname: string }) => l.ifname)
    }
    expect(names).toEqual(["lo"])
    await run(kernel.apply([{ op: "nsDel", ns: host }]))
  })

  it("close() removes every namespace this instance made, and only those", async () => {
    const other = await makeLinuxKernel()
    const mine = nsName("close-a")
    const theirs = nsName("close-b")
    await run(other.apply([{ op: "nsAdd", ns: mine }]))
    await run(kernel.apply([{ op: "nsAdd", ns: theirs }]))
    await run(other.close())
    await run(other.close())
    expect(existsSync(`/run/netns/${mine}`)).toBe(false)
    expect(existsSync(`/run/netns/${theirs}`)).toBe(true)
    await run(kernel.apply([{ op: "nsDel", ns: theirs }]))
  })
})
