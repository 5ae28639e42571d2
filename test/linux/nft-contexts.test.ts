import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import type { FwTable } from "../../backends/kernel-types.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { failure, ipJson, needsRoot, nsName, processesIn, root, run, sh } from "./support.ts"

/**
 * Firewall changes go through one libnftables context per namespace (backends/linux/nft/run.ts),
 * not an nft process each. What must hold: a refused change is reported as nft reported it and
 * changes nothing; no process runs in a namespace's firewall; and the context, whose netlink
 * socket would keep a deleted namespace alive, goes with its namespace (on nsDel and on close).
 */

/** the kernel's own listing, through the nft command: an oracle independent of the backend */
const listing = (ns: string): unknown[] =>
  (JSON.parse(sh("ip", ["netns", "exec", ns, "nft", "-j", "list", "ruleset"])).nftables as Array<Record<string, unknown>>)
    .filter((item) => !("metainfo" in item))
    .map((item) => {
      // handles are the kernel's numbering: the same content may be numbered anew
      const [kind, body] = Object.entries(item)[0] as [string, Record<string, unknown>]
      const { handle: _handle, ...rest } = body
      return { [kind]: rest }
    })

const vethPeersIn = (ns: string, name: string): string[] =>
  ipJson<Array<{ ifname: string }>>(ns, "link", "show")
    .map((l) => l.ifname)
    .filter((n) => n === name)

const waitUntil = async (what: string, done: () => boolean, boundMs: number): Promise<number> => {
  const started = performance.now()
  while (!done()) {
    if (performance.now() - started > boundMs) throw new Error(`${what}: not after ${boundMs / 1000} s`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return performance.now() - started
}

const accepting: FwTable = {
  name: "kept",
  chains: [
    {
      name: "forward",
      hook: "forward",
      type: "filter",
      priority: 0,
      policy: "drop",
      rules: [{ match: { iif: "br0", oifNot: "br0" }, verdict: { kind: "accept" }, comment: "outbound" }],
    },
  ],
}

/** the same table grown by a chain, and a jump to a chain it does not have: the kernel refuses the rule */
const refused: FwTable = {
  name: "kept",
  chains: [
    ...accepting.chains,
    { name: "extra", rules: [{ match: { proto: "tcp", dport: 80 }, verdict: { kind: "jump", chain: "missing" } }] },
  ],
}

describe.skipIf(!root)(`linux backend: nftables contexts, one per namespace (${needsRoot})`, () => {
  let kernel: KernelShape
  let other: KernelShape
  const host = nsName("nc-h")
  const far = nsName("nc-far")
  beforeAll(async () => {
    kernel = await makeLinuxKernel({ teardownMaxMs: 20_000 })
    // the far namespace belongs to another kernel instance, so that closing the first one leaves it
    other = await makeLinuxKernel()
    await run(other.apply([{ op: "nsAdd", ns: far }]))
  })
  afterAll(async () => {
    await run(kernel.close())
    await run(other.close())
  })

  it("a refused change fails with nft's reason and leaves the table as it was", async () => {
    await run(kernel.apply([{ op: "nsAdd", ns: host }, { op: "firewallSet", ns: host, table: accepting }]))
    const before = listing(host)
    const error = await failure(kernel.apply([{ op: "firewallSet", ns: host, table: refused }]))
    console.log(`[nft-contexts] refused: ${error.reason} ${error.errno}: ${error.detail}`)
    expect(error.reason).toBe("NotFound")
    expect(error.errno).toBe("ENOENT")
    expect(error.op).toMatchObject({ op: "firewallSet", ns: host })
    expect(error.detail).toContain("Could not process rule: No such file or directory")
    // one transaction: neither the new chain nor anything else of the refused table is there
    expect(listing(host)).toEqual(before)
    expect((await run(kernel.read(host))).firewall).toEqual([accepting])
    // and the next change goes through the same context as before
    await run(kernel.apply([{ op: "firewallDel", ns: host, table: "kept" }]))
    expect(listing(host)).toEqual([])
    const deleted = await failure(kernel.apply([{ op: "firewallDel", ns: host, table: "kept" }]))
    expect(deleted.reason).toBe("NotFound")
  })

  it("rules added at the ends of chains go alone, refused or not, and a table changed behind our back is replaced whole", async () => {
    const ns = nsName("nc-a")
    const withRules = (...extra: FwTable["chains"][number]["rules"]): FwTable => ({
      ...accepting,
      chains: [{ ...(accepting.chains[0] as FwTable["chains"][number]), rules: [...(accepting.chains[0] as FwTable["chains"][number]).rules, ...extra] }],
    })
    const grown = withRules({ match: { oif: "br1" }, verdict: { kind: "accept" }, comment: "grown" })
    await run(kernel.apply([{ op: "nsAdd", ns }, { op: "firewallSet", ns, table: accepting }]))
    await run(kernel.apply([{ op: "firewallSet", ns, table: grown }]))
    expect((await run(kernel.read(ns))).firewall).toEqual([grown])
    const before = listing(ns)
    // the added rule is refused by the kernel: nothing changes, the reason is nft's
    const error = await failure(kernel.apply([{ op: "firewallSet", ns, table: withRules(...(grown.chains[0]?.rules.slice(1) ?? []), { match: {}, verdict: { kind: "jump", chain: "missing" } }) }]))
    expect(error.reason).toBe("NotFound")
    expect(error.detail).toContain("Could not process rule: No such file or directory")
    expect(listing(ns)).toEqual(before)
    // someone else adds a rule: the next change must not build on a table it no longer knows
    sh("ip", ["netns", "exec", ns, "nft", "add", "rule", "ip", "cnm-kept", "forward", "counter", "drop"])
    const grownAgain = withRules(...(grown.chains[0]?.rules.slice(1) ?? []), { match: { oif: "br2" }, verdict: { kind: "accept" }, comment: "again" })
    await run(kernel.apply([{ op: "firewallSet", ns, table: grownAgain }]))
    expect((await run(kernel.read(ns))).firewall).toEqual([grownAgain])
    expect(JSON.stringify(listing(ns))).not.toContain("counter")
    await run(kernel.apply([{ op: "nsDel", ns }]))
  })

  it("no process runs in a namespace's firewall: changes and reads start none", async () => {
    const ns = nsName("nc-p")
    await run(kernel.apply([{ op: "nsAdd", ns }]))
    const seen: number[] = []
    for (let i = 0; i < 20; i++) {
      const pending = run(kernel.apply([{ op: "firewallSet", ns, table: { ...accepting, name: `t${i}` } }]))
      seen.push(...processesIn(ns))
      await pending
      seen.push(...processesIn(ns))
      await run(kernel.read(ns))
    }
    expect((await run(kernel.read(ns))).firewall).toHaveLength(20)
    expect(seen).toEqual([])
    await run(kernel.apply([{ op: "nsDel", ns }]))
  })

  it("the context goes with its namespace: nsDel and close both let the kernel destroy it", async () => {
    // a namespace with firewall tables and a veth into a namespace that outlives it: the kernel
    // removes the peer only once the namespace is destroyed, which an open netlink socket prevents
    const deleted = nsName("nc-d")
    await run(
      kernel.apply([
        { op: "nsAdd", ns: deleted },
        { op: "firewallSet", ns: deleted, table: accepting },
        { op: "linkAdd", ns: deleted, link: { kind: "veth", name: "d0", peer: { name: "from-d", ns: far } } },
      ]),
    )
    expect((await run(kernel.read(deleted))).firewall).toEqual([accepting])
    expect(vethPeersIn(far, "from-d")).toEqual(["from-d"])
    // apply waits for the peer to go (bounded at 20 s here): a pinned namespace fails it with TimedOut
    await run(kernel.apply([{ op: "nsDel", ns: deleted }]))
    expect(vethPeersIn(far, "from-d")).toEqual([])

    // close: every namespace of the instance deleted, every context closed with it
    await run(
      kernel.apply([
        { op: "firewallSet", ns: host, table: accepting },
        { op: "linkAdd", ns: host, link: { kind: "veth", name: "h0", peer: { name: "from-h", ns: far } } },
      ]),
    )
    expect(vethPeersIn(far, "from-h")).toEqual(["from-h"])
    await run(kernel.close())
    const waited = await waitUntil("the closed instance's namespace destroyed (its veth peer gone)", () => vethPeersIn(far, "from-h").length === 0, 20_000)
    console.log(`[nft-contexts] after close, the peer went in ${waited.toFixed(0)} ms`)
  })
})
