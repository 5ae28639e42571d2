import { describe, expect, it } from "vitest"
import type { FwTable } from "../../backends/kernel-types.ts"
import { addon } from "../../backends/linux/addon.ts"
import { kernelFeatures, withScratchNamespace } from "../../backends/linux/capabilities.ts"
import { Firewall } from "../../backends/linux/firewall.ts"
import { IpvsServices, resolveFamilyIn } from "../../backends/linux/ipvs.ts"
import { toKernelError } from "../../backends/linux/errors.ts"
import type { IpvsControl, IpvsService, IpvsServiceState } from "../../backends/ipvs-types.ts"
import { IPVS_MARK_CHAIN } from "../../backends/ipvs-form.ts"
import { askingLoadsNothing } from "../../backends/linux/ipvs-probe.ts"
import { GENL_ID_CTRL } from "../../backends/linux/netlink/genl-wire.ts"
import { IPVS_GENL_NAME } from "../../backends/linux/netlink/ipvs-wire.ts"
import { balancerOn7070 } from "../conformance/topologies.ts"
import { needsRoot, root, sh } from "./support.ts"

/**
 * The linux backend's IPVS form on this kernel, which has no ip_vs (backends/linux/README.md,
 * "Load balancing: numgen or IPVS"). What can be measured here is measured: the generic netlink
 * controller answers our CTRL_CMD_GETFAMILY inside our namespaces (its own family resolves, IPVS
 * does not), the capability follows it, and nftables takes the form's table. The IPVS half is
 * played by StrictIpvs below, an in-memory IPVS that refuses what ip_vs_ctl.c refuses; it tests
 * the firewall's ordering and read-back, never what the kernel's IPVS would do with packets.
 */


/** a netlink-style refusal: what toKernelError maps (code = errno name) */
const refusal = (code: string, what: string): Error => Object.assign(new Error(`${what}: ${code}`), { code })

/** fwmark services per namespace, refused as ip_vs_ctl.c refuses: EEXIST for a mark in use, ESRCH for one that is not */
class StrictIpvs implements IpvsControl {
  readonly services = new Map<string, Map<number, IpvsServiceState>>()
  add(ns: string, service: IpvsService): void {
    const held = this.services.get(ns) ?? new Map<number, IpvsServiceState>()
    if (held.has(service.fwmark)) throw refusal("EEXIST", `fwmark ${service.fwmark}`)
    const seen = new Set(service.destinations.map((d) => `${d.address}:${d.port}`))
    if (seen.size !== service.destinations.length) throw refusal("EEXIST", `a destination of fwmark ${service.fwmark} twice`)
    held.set(service.fwmark, { fwmark: service.fwmark, scheduler: "rr", destinations: service.destinations.map((d) => ({ ...d, forward: "nat", weight: 1 })) })
    this.services.set(ns, held)
  }
  delete(ns: string, fwmark: number): void {
    if (!this.services.get(ns)?.delete(fwmark)) throw refusal("ESRCH", `fwmark ${fwmark}`)
  }
  deleteQuietly(ns: string, fwmark: number): void {
    this.services.get(ns)?.delete(fwmark)
  }
  read(ns: string): IpvsServiceState[] {
    return [...(this.services.get(ns)?.values() ?? [])]
  }
}

/** the conformance suite's balancer: local port 7070 over three backends' port 80 */
const BALANCER = balancerOn7070(["10.31.0.2", "10.31.0.3", "10.32.0.2"])

/** the nft command's own listing of one chain: an oracle independent of the backend's parser */
const chainRules = (ns: string, table: string, chain: string): string =>
  sh("ip", ["netns", "exec", ns, "nft", "list", "chain", "ip", table, chain]).replace(/\s+/g, " ")

describe.skipIf(!root)(`IPVS on this kernel${root ? "" : ` (skipped: ${needsRoot})`}`, () => {
  const native = root ? addon() : undefined

  it("the generic netlink controller resolves its own family in our namespace, and IPVS exactly where the capability says", async () => {
    const features = await kernelFeatures(native as ReturnType<typeof addon>)
    await withScratchNamespace(native as ReturnType<typeof addon>, "ipvs", async (namespaces, ns) => {
      // a family every kernel has: our CTRL_CMD_GETFAMILY is well formed and its answer read
      expect(resolveFamilyIn(native as ReturnType<typeof addon>, namespaces.path(ns), "nlctrl")).toBe(GENL_ID_CTRL)
      if (!askingLoadsNothing()) {
        expect(features.ipvs.ok).toBe(false)
        console.log(`ipvs: not asked (modules can be loaded and ip_vs is not): ${features.ipvs.detail}`)
        return
      }
      const ipvs = resolveFamilyIn(native as ReturnType<typeof addon>, namespaces.path(ns), IPVS_GENL_NAME)
      expect(features.ipvs.ok).toBe(ipvs !== undefined)
      if (ipvs === undefined) {
        // the operations say why, and change nothing (no sysctl written: net.ipv4.vs does not exist here)
        let said: unknown
        try {
          new IpvsServices(native as ReturnType<typeof addon>, namespaces).add(ns, { fwmark: 256, destinations: [{ address: "192.0.2.2", port: 0 }] })
        } catch (error) {
          said = error
        }
        const refused = toKernelError(said)
        expect([refused.reason, refused.errno, refused.detail]).toEqual(["NotSupported", "EOPNOTSUPP", "ipvs in " + ns + ": EOPNOTSUPP (the kernel has no IPVS generic netlink family)"])
      }
      console.log(`ipvs: nlctrl = ${GENL_ID_CTRL}, IPVS = ${ipvs ?? "none (ENOENT)"}; capability: ${features.ipvs.ok} (${features.ipvs.detail})`)
    })
  })

  it("the IPVS form's nftables half is taken by this kernel; services are made before the commit, deleted after it and with the table (StrictIpvs for ip_vs)", async () => {
    const strict = new StrictIpvs()
    await withScratchNamespace(native as ReturnType<typeof addon>, "ipvs", async (namespaces, ns) => {
      const firewall = new Firewall(native as ReturnType<typeof addon>, namespaces, strict)
      try {
        await firewall.set(ns, BALANCER)
        // nftables holds the mark rule in mangle prerouting and an accept where the balancing rule was
        expect(chainRules(ns, "cnm-lb", IPVS_MARK_CHAIN)).toMatch(/type filter hook prerouting priority mangle; policy accept; fib daddr type local tcp dport 7070 meta mark set 0x00000100 \}/)
        expect(chainRules(ns, "cnm-lb", "pre")).toMatch(/fib daddr type local tcp dport 7070 accept \}/)
        expect(chainRules(ns, "cnm-lb", "pre")).not.toMatch(/numgen/)
        expect(strict.read(ns)).toEqual([
          {
            fwmark: 256,
            scheduler: "rr",
            destinations: ["10.31.0.2", "10.31.0.3", "10.32.0.2"].map((address) => ({ address, port: 80, forward: "nat", weight: 1 })),
          },
        ])
        // read back: the table the caller asked for, and the services as the dump gives them (NsState.ipvs)
        expect(await firewall.read(ns)).toEqual([BALANCER])
        expect(firewall.ipvsServices(ns)).toEqual(strict.read(ns))

        // set again, unchanged: a new service under a new mark (its turn starts over), the old one gone
        await firewall.set(ns, BALANCER)
        expect(strict.read(ns).map((s) => s.fwmark)).toEqual([257])
        expect(chainRules(ns, "cnm-lb", IPVS_MARK_CHAIN)).toMatch(/meta mark set 0x00000101/)
        expect(await firewall.read(ns)).toEqual([BALANCER])

        // a refused commit leaves the old form working: the new service is taken back
        const refused: FwTable = { ...BALANCER, chains: [...BALANCER.chains, { name: "x", hook: "input", type: "filter", rules: [{ match: {}, verdict: { kind: "jump", chain: "missing" } }] }] }
        await expect(firewall.set(ns, refused)).rejects.toThrow()
        expect(strict.read(ns).map((s) => s.fwmark)).toEqual([257])
        expect(await firewall.read(ns)).toEqual([BALANCER])

        // a service changed behind the backend's back: read shows the kernel's nftables form, not the asked table
        strict.deleteQuietly(ns, 257)
        strict.add(ns, { fwmark: 257, destinations: [{ address: "10.31.0.2", port: 80 }] })
        const shown = await firewall.read(ns)
        expect(shown).not.toEqual([BALANCER])
        expect(shown[0]?.chains.map((c) => c.name).sort()).toEqual([IPVS_MARK_CHAIN, "pre"])

        // deleting the table deletes its services
        await firewall.delete(ns, "lb")
        expect(strict.read(ns)).toEqual([])
        expect(await firewall.read(ns)).toEqual([])
        expect(firewall.ipvsServices(ns)).toBeUndefined()
        console.log("ipvs: form set, set again, refused, changed behind, deleted; nftables on this kernel, IPVS by StrictIpvs")
      } finally {
        firewall.close()
      }
    })
  })
})
