import { describe, expect, it } from "vitest"
import type { FwTable } from "../../backends/kernel-types.ts"
import { movePort, portSetDelta } from "../../backends/linux/nft/port-sets.ts"
import { renderTable } from "../../backends/linux/nft/render.ts"

type Json = Record<string, unknown>

/** Pure tier: a port joining or leaving a watched bridge is sent as set elements, anything else as a replacement. */
const isolated = (policy: "accept" | "drop" = "accept"): FwTable => ({
  name: "l2",
  chains: [
    {
      name: "forward",
      hook: "bridge-forward",
      policy,
      rules: [{ match: { bridge: "gw0" }, verdict: { kind: "drop" } }],
    },
  ],
})

const commands = (table: FwTable, ports: ReadonlyArray<string>): Json[] => renderTable(table, new Map([["gw0", [...ports]]])).nftables as Json[]

describe("nft port set deltas", () => {
  it("a port that joined and one that left are one add element and one delete element on the bridge's set", () => {
    const delta = portSetDelta(commands(isolated(), ["veth1", "veth2"]), commands(isolated(), ["veth1", "veth3"]))
    expect(delta).toEqual([
      { delete: { element: { family: "bridge", table: "cnm-l2", name: "ports-gw0", elem: ["veth2"] } } },
      { add: { element: { family: "bridge", table: "cnm-l2", name: "ports-gw0", elem: ["veth3"] } } },
    ])
  })

  it("the first port of an empty set is an add element; the same ports are nothing to send", () => {
    expect(portSetDelta(commands(isolated(), []), commands(isolated(), ["veth1"]))).toEqual([
      { add: { element: { family: "bridge", table: "cnm-l2", name: "ports-gw0", elem: ["veth1"] } } },
    ])
    expect(portSetDelta(commands(isolated(), ["veth1"]), commands(isolated(), ["veth1"]))).toEqual([])
  })

  it("a change beyond the elements (a policy) is no delta: the table is replaced", () => {
    expect(portSetDelta(commands(isolated(), ["veth1"]), commands(isolated("drop"), ["veth2"]))).toBeUndefined()
  })

  it("a port moved by an op is one element sent, and the commands after it render as the ports would", () => {
    const joined = movePort(commands(isolated(), ["veth1"]), "veth0", "gw0")
    expect(joined.delta).toEqual([{ add: { element: { family: "bridge", table: "cnm-l2", name: "ports-gw0", elem: ["veth0"] } } }])
    expect(joined.commands).toEqual(commands(isolated(), ["veth1", "veth0"]))
    const left = movePort(joined.commands, "veth1", null)
    expect(left.delta).toEqual([{ delete: { element: { family: "bridge", table: "cnm-l2", name: "ports-gw0", elem: ["veth1"] } } }])
    expect(left.commands).toEqual(commands(isolated(), ["veth0"]))
    expect(movePort(left.commands, "veth0", "gw0").delta).toEqual([])
    expect(movePort(commands(isolated(), ["veth1"]), "veth1", null).commands).toEqual(commands(isolated(), []))
  })
})
