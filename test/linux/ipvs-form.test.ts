import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { FwChain, FwRule, FwTable } from "../../backends/kernel-types.ts"
import { FIRST_FWMARK, IPVS_MARK_CHAIN, ipvsForm } from "../../backends/ipvs-form.ts"
import { renderTable } from "../../backends/linux/nft/render.ts"
import { balancerOn7070 } from "../conformance/topologies.ts"

/**
 * Pure tier: a table's balancing rules in IPVS form (backends/ipvs-form.ts), the way
 * libnetwork makes a VIP: a mangle mark rule, a fwmark service with NAT destinations, and an
 * accept where the rule was. Whether nftables takes the form's table is checked on the kernel in
 * test/linux/ipvs.test.ts; whether IPVS balances with it, nowhere here (no ip_vs on this kernel).
 */

/** the conformance suite's balancer with a VIP's rule before it and a plain DNAT after it, and a postrouting chain */
const conformance = balancerOn7070(["10.31.0.2", "10.32.0.2"]).chains[0] as FwChain
const BALANCED: FwTable = {
  name: "lb",
  chains: [
    {
      ...conformance,
      rules: [
        { match: { dst: "10.99.0.1/32" }, verdict: { kind: "dnatBalance", to: ["10.31.0.2", "10.31.0.3"] }, comment: "web on front" },
        ...conformance.rules,
        { match: { dstLocal: true }, verdict: { kind: "dnat", to: "10.31.0.9" } },
      ],
    },
    { name: "post", hook: "postrouting", type: "nat", priority: 100, rules: [{ match: { dst: "10.31.0.0/24" }, verdict: { kind: "snat", to: "10.31.0.1" } }] },
  ],
}

describe("the IPVS form of a table's balancing rules", () => {
  it("each balancing rule becomes a mangle mark, a fwmark service over its addresses, and an accept where it was", () => {
    const form = ipvsForm(BALANCED, new Set())
    expect(form?.services).toEqual([
      { fwmark: 256, destinations: [{ address: "10.31.0.2", port: 0 }, { address: "10.31.0.3", port: 0 }] },
      { fwmark: 257, destinations: [{ address: "10.31.0.2", port: 80 }, { address: "10.32.0.2", port: 80 }] },
    ])
    expect(form?.table).toEqual({
      name: "lb",
      chains: [
        {
          ...BALANCED.chains[0],
          rules: [
            { match: { dst: "10.99.0.1/32" }, verdict: { kind: "accept" }, comment: "web on front" },
            { match: { dstLocal: true, proto: "tcp", dport: 7070 }, verdict: { kind: "accept" } },
            // what follows the balancing rules is untouched, and still never sees what they took
            { match: { dstLocal: true }, verdict: { kind: "dnat", to: "10.31.0.9" } },
          ],
        },
        BALANCED.chains[1],
        {
          name: IPVS_MARK_CHAIN,
          hook: "prerouting",
          type: "filter",
          priority: -150,
          policy: "accept",
          rules: [
            { match: { dst: "10.99.0.1/32" }, verdict: { kind: "mark", value: 256 }, comment: "web on front" },
            { match: { dstLocal: true, proto: "tcp", dport: 7070 }, verdict: { kind: "mark", value: 257 } },
          ],
        },
      ],
    })
    // nftables' side: a filter chain on prerouting at mangle's priority, setting the mark
    const rendered = JSON.stringify(renderTable(form?.table as FwTable, new Map()))
    expect(rendered).toContain(`{"add":{"chain":{"family":"ip","table":"cnm-lb","name":"ipvs-mark","type":"filter","hook":"prerouting","prio":-150,"policy":"accept"}}}`)
    expect(rendered).toContain(`{"mangle":{"key":{"meta":{"key":"mark"}},"value":257}}`)
    expect(rendered).not.toContain("numgen")
  })

  it("marks in use in the namespace, and marks the table sets itself, are never given", () => {
    const own: FwTable = {
      ...BALANCED,
      chains: [...BALANCED.chains, { name: "out", hook: "output", type: "route", rules: [{ match: { proto: "udp" }, verdict: { kind: "mark", value: 257 } }] }],
    }
    expect(ipvsForm(own, new Set([256, 258]))?.services.map((s) => s.fwmark)).toEqual([259, 260])
  })

  it("rules IPVS cannot carry out keep the nftables form: in a regular chain, with repeated addresses; a table with a chain named ipvs-mark keeps all", () => {
    const regular: FwTable = {
      name: "r",
      chains: [
        { name: "pre", hook: "prerouting", type: "nat", rules: [{ match: { dstLocal: true }, verdict: { kind: "jump", chain: "DOCKER" } }] },
        { name: "DOCKER", rules: [{ match: { proto: "tcp", dport: 80 }, verdict: { kind: "dnatBalance", to: ["10.0.0.2", "10.0.0.3"] } }] },
      ],
    }
    expect(ipvsForm(regular, new Set())).toBeUndefined()
    const repeated: FwTable = {
      name: "d",
      chains: [{ name: "pre", hook: "prerouting", type: "nat", rules: [{ match: { dst: "10.9.0.1/32" }, verdict: { kind: "dnatBalance", to: ["10.0.0.2", "10.0.0.2"] } }] }],
    }
    expect(ipvsForm(repeated, new Set())).toBeUndefined()
    const named: FwTable = { ...BALANCED, chains: [...BALANCED.chains, { name: IPVS_MARK_CHAIN, rules: [] }] }
    expect(ipvsForm(named, new Set())).toBeUndefined()
    // a table mixing both: the one IPVS can carry out is converted, the other stays numgen
    const mixed: FwTable = { name: "m", chains: [...regular.chains, ...(BALANCED.chains[0] ? [{ ...BALANCED.chains[0], name: "pre2" }] : [])] }
    const form = ipvsForm(mixed, new Set())
    expect(form?.services.length).toBe(2)
    expect(form?.table.chains.find((c) => c.name === "DOCKER")).toEqual(regular.chains[1])
  })

  it("for any table: every balancing rule in a prerouting nat chain is converted, in order, with distinct free marks", () => {
    const address = fc.ipV4()
    const balancing = fc.record({
      to: fc.uniqueArray(address, { minLength: 1, maxLength: 4 }),
      port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      dport: fc.integer({ min: 1, max: 65535 }),
    })
    const rule: fc.Arbitrary<FwRule> = fc.oneof(
      balancing.map((b) => ({ match: { proto: "tcp" as const, dport: b.dport }, verdict: { kind: "dnatBalance" as const, to: b.to, ...(b.port === undefined ? {} : { port: b.port }) } })),
      address.map((to) => ({ match: { dstLocal: true }, verdict: { kind: "dnat" as const, to } })),
      fc.integer({ min: 1, max: 600 }).map((value) => ({ match: { proto: "udp" as const }, verdict: { kind: "mark" as const, value } })),
    )
    const chain: fc.Arbitrary<FwChain> = fc.record({
      hook: fc.constantFrom("prerouting" as const, "output" as const),
      type: fc.constantFrom("nat" as const, "filter" as const),
      rules: fc.array(rule, { maxLength: 5 }),
    }).map((c) => ({ name: "named-by-position", ...c }))
    let converted = 0
    fc.assert(
      fc.property(fc.array(chain, { maxLength: 4 }), fc.uniqueArray(fc.integer({ min: 256, max: 270 }), { maxLength: 6 }), (chains, taken) => {
        const table: FwTable = { name: "t", chains: chains.map((c, i) => ({ ...c, name: `c${i}` })) }
        const eligible = table.chains.flatMap((c) => (c.hook === "prerouting" && c.type === "nat" ? c.rules.filter((r) => r.verdict.kind === "dnatBalance") : []))
        const form = ipvsForm(table, new Set(taken))
        if (eligible.length === 0) {
          expect(form).toBeUndefined()
          return
        }
        const marks = form?.services.map((s) => s.fwmark) ?? []
        const ownMarks = table.chains.flatMap((c) => c.rules.flatMap((r) => (r.verdict.kind === "mark" ? [r.verdict.value] : [])))
        expect(new Set(marks).size).toBe(eligible.length)
        for (const mark of marks) expect(mark >= FIRST_FWMARK && !taken.includes(mark) && !ownMarks.includes(mark)).toBe(true)
        expect(form?.services.map((s) => s.destinations.map((d) => d.address))).toEqual(eligible.map((r) => (r.verdict.kind === "dnatBalance" ? r.verdict.to : [])))
        // nothing IPVS carries out is left to numgen; the rest of the table is as it was
        const held = form?.table as FwTable
        const left = held.chains.flatMap((c) => (c.hook === "prerouting" && c.type === "nat" ? c.rules.filter((r) => r.verdict.kind === "dnatBalance") : []))
        expect(left).toEqual([])
        expect(held.chains.filter((c) => !(c.hook === "prerouting" && c.type === "nat") && c.name !== IPVS_MARK_CHAIN)).toEqual(
          table.chains.filter((c) => !(c.hook === "prerouting" && c.type === "nat")),
        )
        expect(held.chains.find((c) => c.name === IPVS_MARK_CHAIN)?.rules.map((r) => r.verdict)).toEqual(marks.map((value) => ({ kind: "mark", value })))
        converted += eligible.length
      }),
      { numRuns: 200 },
    )
    console.log(`ipvs-form: ${converted} balancing rules converted over 200 tables`)
  })
})
