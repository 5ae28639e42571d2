import { expect, it } from "vitest"
import type { Capabilities, FwTable, KernelOp, XfrmPolicySpec, XfrmStateSpec } from "../../../backends/kernel-types.ts"
import type { Harness } from "../harness.ts"
import { vxlanPair } from "../topologies.ts"

/**
 * IPsec through xfrm, as Docker's encrypted overlay uses it (encryption.go): ESP states in
 * transport mode with rfc4106(gcm(aes)), an out policy for the VXLAN datagrams to one VTEP that
 * carry Docker's mark, and the firewall rule that marks the datagrams of one VNI. Measured on
 * 6.18 without CONFIG_INET_ESP: policies are taken, states refused (ENOSYS).
 */

const MARK = { value: 0xd0c4e3, mask: 0xffffffff }
const AEAD = { name: "rfc4106(gcm(aes))", key: "000102030405060708090a0b0c0d0e0f10111213", icvBits: 64 }

const esp = (src: string, dst: string, spi: number, key = AEAD.key): XfrmStateSpec => ({
  src,
  dst,
  proto: "esp",
  spi,
  mode: "transport",
  reqid: MARK.value,
  aead: { ...AEAD, key },
})

/** Docker's policy: VXLAN datagrams from this VTEP to that one, with the mark, through the state of that SPI */
const outPolicy = (src: string, dst: string, spi: number): XfrmPolicySpec => ({
  selector: { src: `${src}/32`, dst: `${dst}/32`, proto: "udp", dport: 4789 },
  dir: "out",
  mark: MARK,
  template: { src, dst, proto: "esp", mode: "transport", spi, reqid: MARK.value },
})

/** the mark rule for one VNI's datagrams, in a route chain so the kernel looks policies up again */
const markTable = (vni: number): FwTable => ({
  name: "ov-mark",
  chains: [
    {
      name: "output",
      hook: "output",
      type: "route",
      rules: [{ match: { proto: "udp", dport: 4789, vni }, verdict: { kind: "mark", value: MARK.value } }],
    },
  ],
})

const needs = (wanted: boolean, what: string): string => (wanted ? "" : ` (skipped: this kernel has no ${what})`)

export const xfrmCases = (h: () => Harness, caps: Capabilities): void => {
  it("an xfrm policy is added, read back, refused twice (AlreadyExists), deleted, and not found after", async () => {
    const harness = h()
    const ns = harness.ns("x")
    const policy = outPolicy("192.0.2.1", "192.0.2.2", 0x100)
    await harness.apply({ op: "nsAdd", ns }, { op: "xfrmPolicyAdd", ns, policy })
    expect((await harness.read(ns)).xfrmPolicies).toEqual([policy])
    await harness.expectRefused("AlreadyExists", { op: "xfrmPolicyAdd", ns, policy })
    // the mark is part of a policy's identity: without it, it is another policy
    await harness.apply({ op: "xfrmPolicyAdd", ns, policy: { ...policy, mark: { value: 1, mask: 0xffffffff } } })
    await harness.apply({ op: "xfrmPolicyDel", ns, selector: policy.selector, dir: "out", mark: MARK })
    expect((await harness.read(ns)).xfrmPolicies).toEqual([{ ...policy, mark: { value: 1, mask: 0xffffffff } }])
    await harness.expectRefused("NotFound", { op: "xfrmPolicyDel", ns, selector: policy.selector, dir: "out", mark: MARK })
  })

  it("policies read back newest first, the kernel's dump order, with the selector's network addresses", async () => {
    const harness = h()
    const ns = harness.ns("x")
    const first = outPolicy("192.0.2.1", "192.0.2.2", 0x100)
    const second: XfrmPolicySpec = { ...outPolicy("192.0.2.2", "192.0.2.1", 0x200), dir: "in", selector: { src: "192.0.2.77/24", dst: "192.0.2.1/32" } }
    await harness.apply({ op: "nsAdd", ns }, { op: "xfrmPolicyAdd", ns, policy: first }, { op: "xfrmPolicyAdd", ns, policy: second })
    expect((await harness.read(ns)).xfrmPolicies).toEqual([{ ...second, selector: { src: "192.0.2.0/24", dst: "192.0.2.1/32" } }, first])
  })

  it("deleting an ESP state that is not there is NotFound (ESRCH)", async () => {
    const harness = h()
    const ns = harness.ns("x")
    await harness.apply({ op: "nsAdd", ns })
    const refused = await harness.refusal({ op: "xfrmStateDel", ns, dst: "192.0.2.2", spi: 0x100 })
    expect([refused.reason, refused.errno]).toEqual(["NotFound", "ESRCH"])
  })

  it.skipIf(caps.esp)(`without ESP an ESP state is refused: NotSupported (ENOSYS, "Requested AEAD algorithm not found")${caps.esp ? " (skipped: this kernel has ESP)" : ""}`, async () => {
    const harness = h()
    const ns = harness.ns("x")
    await harness.apply({ op: "nsAdd", ns })
    const refused = await harness.refusal({ op: "xfrmStateAdd", ns, state: esp("192.0.2.1", "192.0.2.2", 0x100) })
    expect([refused.reason, refused.errno]).toEqual(["NotSupported", "ENOSYS"])
    expect((await harness.read(ns)).xfrmStates).toEqual([])
  })

  it.skipIf(!caps.esp)(`an ESP state is added, read back, refused twice (AlreadyExists) and deleted${needs(caps.esp, "ESP")}`, async () => {
    const harness = h()
    const ns = harness.ns("x")
    const state = esp("192.0.2.1", "192.0.2.2", 0x100)
    await harness.apply({ op: "nsAdd", ns }, { op: "xfrmStateAdd", ns, state })
    expect((await harness.read(ns)).xfrmStates).toEqual([state])
    await harness.expectRefused("AlreadyExists", { op: "xfrmStateAdd", ns, state })
    await harness.apply({ op: "xfrmStateDel", ns, dst: "192.0.2.2", spi: 0x100 })
    expect((await harness.read(ns)).xfrmStates).toEqual([])
  })

  it.skipIf(!caps.firewall)("the mark rule for one VNI reads back: a route chain on output, udp dport 4789, the VNI, mark set", async () => {
    const harness = h()
    const ns = harness.ns("x")
    const table: FwTable = {
      name: "ov-mark",
      chains: [
        ...markTable(4097).chains,
        // Docker's companion rule: VXLAN of that VNI that did not come through IPsec is dropped
        { name: "input", hook: "input", type: "filter", rules: [{ match: { proto: "udp", dport: 4789, vni: 4097, ipsec: false }, verdict: { kind: "drop" } }] },
      ],
    }
    await harness.apply({ op: "nsAdd", ns }, { op: "firewallSet", ns, table })
    expect((await harness.read(ns)).firewall).toEqual([table])
  })

  const vxlanWith = (harness: Harness, ops: (h1: string, h2: string) => ReadonlyArray<KernelOp>) => {
    const pair = vxlanPair(harness, true)
    return { ...pair, ops: [...pair.ops, ...ops(pair.h1, pair.h2)] }
  }

  it.skipIf(!caps.vxlan || !caps.firewall)(
    "an out policy selecting the marked VXLAN datagrams, with no state to carry them, stops the overlay; marking another VNI does not",
    async () => {
      const harness = h()
      const pair = vxlanWith(harness, (h1) => [
        { op: "firewallSet", ns: h1, table: markTable(4242) },
        { op: "xfrmPolicyAdd", ns: h1, policy: outPolicy("192.168.200.1", "192.168.200.2", 0x100) },
      ])
      await harness.apply(pair.ops)
      expect(await harness.reachable(pair.h1, "10.88.0.2")).toBe(false)
      await harness.apply({ op: "firewallSet", ns: pair.h1, table: markTable(4243) })
      expect(await harness.reachable(pair.h1, "10.88.0.2")).toBe(true)
    },
  )

  /** both hosts hold the states of both directions and an out policy each: Docker's layout */
  const encryptedPair = (harness: Harness, h2Inbound: XfrmStateSpec | undefined) =>
    vxlanWith(harness, (h1, h2) => {
      const oneToTwo = esp("192.168.200.1", "192.168.200.2", 0x1001)
      const twoToOne = esp("192.168.200.2", "192.168.200.1", 0x2002)
      return [
        { op: "firewallSet", ns: h1, table: markTable(4242) },
        { op: "firewallSet", ns: h2, table: markTable(4242) },
        { op: "xfrmStateAdd", ns: h1, state: oneToTwo },
        { op: "xfrmStateAdd", ns: h1, state: twoToOne },
        { op: "xfrmPolicyAdd", ns: h1, policy: outPolicy("192.168.200.1", "192.168.200.2", 0x1001) },
        ...(h2Inbound === undefined ? [] : [{ op: "xfrmStateAdd", ns: h2, state: h2Inbound } as const]),
        { op: "xfrmStateAdd", ns: h2, state: twoToOne },
        { op: "xfrmPolicyAdd", ns: h2, policy: outPolicy("192.168.200.2", "192.168.200.1", 0x2002) },
      ]
    })

  it.skipIf(!caps.esp || !caps.vxlan || !caps.firewall)(`ESP in transport mode carries the marked VXLAN datagrams both ways${needs(caps.esp, "ESP")}`, async () => {
    const harness = h()
    const pair = encryptedPair(harness, esp("192.168.200.1", "192.168.200.2", 0x1001))
    await harness.apply(pair.ops)
    expect(await harness.reachable(pair.h1, "10.88.0.2")).toBe(true)
    expect(await harness.reachable(pair.h2, "10.88.0.1")).toBe(true)
  })

  it.skipIf(!caps.esp || !caps.vxlan || !caps.firewall)(`ESP without the receiver's inbound state, or with another key there, carries nothing${needs(caps.esp, "ESP")}`, async () => {
    const harness = h()
    const missing = encryptedPair(harness, undefined)
    await harness.apply(missing.ops)
    expect(await harness.reachable(missing.h1, "10.88.0.2")).toBe(false)
    await harness.apply({ op: "xfrmStateAdd", ns: missing.h2, state: esp("192.168.200.1", "192.168.200.2", 0x1001, "ffeeddccbbaa99887766554433221100ffeeddcc") })
    expect(await harness.reachable(missing.h1, "10.88.0.2")).toBe(false)
  })
}
