import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { FwChain, FwHook, FwMatch, FwRule, FwTable, FwVerdict } from "../../backends/kernel-types.ts"
import { parseRuleset, sameTable } from "../../backends/linux/nft/parse.ts"
import { appendedRules } from "../../backends/linux/nft/append.ts"
import { chainFamilies, renderTable } from "../../backends/linux/nft/render.ts"

type Json = Record<string, any>

/**
 * What `nft -j list ruleset` would print after running the rendered commands: replays the
 * add/delete commands on a small model of tables and lists the result in nft's output shape.
 */
const listAfter = (commands: Json): Json => {
  const tables = new Map<string, { family: string; name: string; items: Json[] }>()
  for (const command of commands.nftables as Json[]) {
    const [verb, body] = Object.entries(command)[0] as [string, Json]
    const [kind, object] = Object.entries(body)[0] as [string, Json]
    if (kind === "table") {
      const key = `${object.family}/${object.name}`
      if (verb === "add" && !tables.has(key)) tables.set(key, { family: object.family, name: object.name, items: [] })
      if (verb === "delete") tables.delete(key)
      continue
    }
    tables.get(`${object.family}/${object.table}`)?.items.push({ [kind]: object })
  }
  return { nftables: [...tables.values()].flatMap((t) => [{ table: { family: t.family, name: t.name } }, ...t.items]) }
}

const ifname = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/)
const cidr = fc.tuple(fc.ipV4(), fc.integer({ min: 8, max: 32 })).map(([ip, len]) => {
  const value = ip.split(".").reduce((a, o) => a * 256 + Number(o), 0)
  const network = len === 32 ? value : Math.floor(value / 2 ** (32 - len)) * 2 ** (32 - len)
  return `${[24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join(".")}/${len}`
})

const matchArb = (bridgeFamily: boolean): fc.Arbitrary<FwMatch> =>
  fc
    .record(
      {
        bridge: bridgeFamily ? ifname : fc.constant(undefined),
        iif: ifname,
        iifNot: ifname,
        oif: ifname,
        oifNot: ifname,
        src: cidr,
        dstNot: cidr,
        proto: fc.constantFrom("tcp" as const, "udp" as const, "icmp" as const),
        dport: fc.integer({ min: 1, max: 65535 }),
        sport: fc.integer({ min: 1, max: 65535 }),
        dstLocal: fc.boolean(),
        srcLocal: fc.boolean(),
        ctState: fc.subarray(["new", "established", "related"] as const, { minLength: 1 }),
        vni: fc.integer({ min: 0, max: 0xffffff }),
        ipsec: fc.boolean(),
      },
      { requiredKeys: [] },
    )
    .map((m) => {
      const out: Record<string, unknown> = { ...m }
      for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key]
      if (out.proto === "icmp") {
        delete out.dport
        delete out.sport
      }
      return out as FwMatch
    })

const verdictArb = (chains: ReadonlyArray<string>): fc.Arbitrary<FwVerdict> =>
  fc.oneof(
    fc.constant({ kind: "accept" } as const),
    fc.constant({ kind: "drop" } as const),
    fc.constant({ kind: "return" } as const),
    fc.integer({ min: 0, max: 0xffffffff }).map((value) => ({ kind: "mark", value }) as const),
    ...(chains.length > 0 ? [fc.constantFrom(...chains).map((chain) => ({ kind: "jump", chain }) as const)] : []),
    fc.constant({ kind: "masquerade" } as const),
    fc.record({ kind: fc.constantFrom("dnat" as const, "snat" as const), to: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }, { requiredKeys: ["kind", "to"] }),
    fc.record({ kind: fc.constant("dnatBalance" as const), to: fc.array(fc.ipV4(), { minLength: 1, maxLength: 4 }), port: fc.integer({ min: 1, max: 65535 }) }, { requiredKeys: ["kind", "to"] }),
  )

const HOOKS: ReadonlyArray<FwHook> = ["prerouting", "input", "forward", "output", "postrouting", "bridge-forward"]

const tableArb: fc.Arbitrary<FwTable> = fc
  .record({
    name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    base: fc.uniqueArray(fc.constantFrom(...HOOKS), { minLength: 0, maxLength: 3 }),
    regular: fc.uniqueArray(fc.stringMatching(/^sub[a-z0-9]{0,4}$/), { maxLength: 2 }),
  })
  .chain(({ name, base, regular }) => {
    const chainArb = (chainName: string, hook: FwHook | undefined): fc.Arbitrary<FwChain> =>
      fc
        .record({
          rules: fc.array(
            fc.record({
              match: matchArb(hook === "bridge-forward"),
              verdict: verdictArb(regular.filter((r) => r !== chainName)),
              comment: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
            }),
            { maxLength: 4 },
          ),
          priority: fc.option(fc.integer({ min: -300, max: 300 }), { nil: undefined }),
          policy: fc.option(fc.constantFrom("accept" as const, "drop" as const), { nil: undefined }),
        })
        .map(({ rules, priority, policy }) => ({
          name: chainName,
          ...(hook ? { hook, type: "filter" as const } : {}),
          ...(hook && priority !== undefined ? { priority } : {}),
          ...(hook && policy !== undefined ? { policy } : {}),
          rules: rules.map((r): FwRule => ({ match: r.match, verdict: r.verdict, ...(r.comment !== undefined ? { comment: r.comment } : {}) })),
        }))
    // regular chains reached from a bridge-forward chain must not match on a bridge in ip family
    return fc
      .tuple(...base.map((hook, i) => chainArb(`base${i}`, hook)), ...regular.map((r) => chainArb(r, undefined)))
      .map((chains) => ({ name, chains }))
  })
  .filter((table) => {
    // a bridge match is only valid where the chain ends up in the bridge family
    const families = chainFamilies(table)
    return table.chains.every((c) => c.rules.every((r) => r.match.bridge === undefined || !families.get(c.name)?.has("ip")))
  })

/** Pure tier: FwTable -> nft JSON -> (nft's listing shape) -> FwTable is the identity. */
describe("nftables codec", () => {
  it("reads back every table it renders", () => {
    fc.assert(
      fc.property(tableArb, (table) => {
        const parsed = parseRuleset(listAfter(renderTable(table, new Map())))
        expect(parsed).toHaveLength(1)
        expect(sameTable(parsed[0] as FwTable, table)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it("sends only the rules added at the ends of chains, and exactly what makes the new table; anything else is a replacement", () => {
    const rendered = (table: FwTable): Json[] => renderTable(table, new Map()).nftables as Json[]
    /** the table as the kernel holds it after `before`'s commands, then `batch` */
    const after = (before: Json[], batch: Json[]): FwTable => parseRuleset(listAfter({ nftables: [...before, ...batch] }))[0] as FwTable
    let appended = 0
    let refusedRemoval = 0
    fc.assert(
      fc.property(tableArb, fc.array(fc.nat(), { maxLength: 4 }), fc.nat(), (table, grow, cut) => {
        // the same table with rules copied onto the ends of some chains
        const grown: FwTable = {
          ...table,
          chains: table.chains.map((chain, i) => {
            // not jumps: a jump can bring a chain into another family, which is no longer only rules added
            const donor = table.chains.flatMap((c) => c.rules).filter((r) => r.verdict.kind !== "jump" && (r.match.bridge === undefined || chain.hook === "bridge-forward"))
            const extra = grow.filter((g) => g % Math.max(table.chains.length, 1) === i).flatMap((g) => (donor.length > 0 ? [donor[g % donor.length] as FwRule] : []))
            return { ...chain, rules: [...chain.rules, ...extra] }
          }),
        }
        const batch = appendedRules(rendered(table), rendered(grown))
        expect(batch).toBeDefined()
        expect(batch?.every((c) => (c as Json).add?.rule !== undefined)).toBe(true)
        expect(sameTable(after(rendered(table), batch ?? []), grown)).toBe(true)
        appended += batch?.length ?? 0
        // the other way, a rule gone: never an append
        const withRules = table.chains.filter((c) => c.rules.length > 0)
        if (withRules.length > 0) {
          const victim = withRules[cut % withRules.length] as FwChain
          const shrunk = { ...table, chains: table.chains.map((c) => (c === victim ? { ...c, rules: c.rules.slice(1) } : c)) }
          expect(appendedRules(rendered(table), rendered(shrunk))).toBeUndefined()
          refusedRemoval++
        }
      }),
      { numRuns: 200 },
    )
    // a changed policy or a set's elements are replacements too
    const chain: FwChain = { name: "f", hook: "forward", policy: "accept", rules: [{ match: { iif: "a" }, verdict: { kind: "drop" } }] }
    const base: FwTable = { name: "t", chains: [chain] }
    expect(appendedRules(rendered(base), rendered({ name: "t", chains: [{ ...chain, policy: "drop" }] }))).toBeUndefined()
    const l2: FwTable = { name: "t", chains: [{ name: "l2", hook: "bridge-forward", rules: [{ match: { bridge: "br0" }, verdict: { kind: "drop" } }] }] }
    const ports = (names: string[]) => renderTable(l2, new Map([["br0", names]])).nftables as Json[]
    expect(appendedRules(ports(["v1"]), ports(["v1", "v2"]))).toBeUndefined()
    expect(appendedRules(ports(["v1"]), ports(["v1"]))).toEqual([])
    console.log(`[nft-codec] appends checked: ${appended} rules sent alone over 200 tables, ${refusedRemoval} removals replaced`)
  })

  it("detects a difference: another verdict, another address, a missing rule", () => {
    const table: FwTable = {
      name: "t",
      chains: [{ name: "fwd", hook: "forward", rules: [{ match: { src: "10.0.0.0/24", iif: "br0" }, verdict: { kind: "accept" } }] }],
    }
    const chain = table.chains[0] as FwChain
    const rule = chain.rules[0] as FwRule
    expect(sameTable(table, { ...table, chains: [{ ...chain, rules: [{ ...rule, verdict: { kind: "drop" } }] }] })).toBe(false)
    expect(sameTable(table, { ...table, chains: [{ ...chain, rules: [{ ...rule, match: { ...rule.match, src: "10.0.1.0/24" } }] }] })).toBe(false)
    expect(sameTable(table, { ...table, chains: [{ ...chain, rules: [] }] })).toBe(false)
    // defaults and spelling are not differences
    expect(sameTable(table, { ...table, chains: [{ ...chain, type: "filter", priority: 0, policy: "accept" }] })).toBe(true)
    expect(sameTable(table, { ...table, chains: [{ ...chain, rules: [{ ...rule, match: { iif: "br0", src: "10.0.0.0/24" } }] }] })).toBe(true)
  })

  it("puts bridge-forward chains and what they jump to in the bridge family, the rest in ip", () => {
    const table: FwTable = {
      name: "mix",
      chains: [
        { name: "l2", hook: "bridge-forward", rules: [{ match: { bridge: "br0" }, verdict: { kind: "jump", chain: "both" } }] },
        { name: "l3", hook: "forward", rules: [{ match: {}, verdict: { kind: "jump", chain: "both" } }] },
        { name: "both", rules: [{ match: { iif: "x" }, verdict: { kind: "drop" } }] },
        { name: "orphan", rules: [] },
      ],
    }
    const families = chainFamilies(table)
    expect([...(families.get("l2") ?? [])]).toEqual(["bridge"])
    expect([...(families.get("both") ?? [])].sort()).toEqual(["bridge", "ip"])
    expect([...(families.get("orphan") ?? [])]).toEqual(["ip"])
    const commands = renderTable(table, new Map([["br0", ["v1", "v2"]]]))
    const set = (commands.nftables as Json[]).find((c) => c.add?.set)
    expect(set?.add.set).toMatchObject({ family: "bridge", name: "ports-br0", type: "ifname", elem: ["v1", "v2"] })
    const parsed = parseRuleset(listAfter(commands))[0] as FwTable
    expect(parsed.chains.filter((c) => c.name === "both")).toHaveLength(1)
    expect(sameTable(parsed, table)).toBe(true)
  })

  it("refuses a bridge match outside a bridge-forward chain, and a port on icmp", () => {
    expect(() => renderTable({ name: "x", chains: [{ name: "f", hook: "forward", rules: [{ match: { bridge: "br0" }, verdict: { kind: "drop" } }] }] }, new Map())).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    )
    expect(() =>
      renderTable({ name: "x", chains: [{ name: "f", hook: "input", rules: [{ match: { proto: "icmp", dport: 1 }, verdict: { kind: "drop" } }] }] }, new Map()),
    ).toThrow(expect.objectContaining({ code: "EINVAL" }))
  })
})
