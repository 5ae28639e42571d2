import { describe, expect, it } from "vitest"
import * as model from "../../model/index.ts"
import { build, ctr, net } from "../model/support.ts"
import { Coverage, type Floors } from "./coverage.ts"

const floors: Floors = {
  sequences: 1,
  richChecks: 0.5,
  successes: { connect: 0.5 },
  codes: ["NotConnected", "PoolExhausted"],
  timesEach: 1,
  probesPerCheck: 1,
  reachableShare: 0.5,
  gatewayProbes: 1,
  questions: { alias: 1 },
  answeredShare: 0.5,
}

const rich = build(net({ name: "n1" }), ctr("c1", "n1"), ctr("c2", "n1"), ctr("c3", "bridge"))

describe("Coverage", () => {
  it("holds a run that covered enough to its floors without a word", () => {
    const coverage = new Coverage()
    coverage.sequences = 1
    coverage.check(rich)
    coverage.command("connect", undefined)
    coverage.command("disconnect", "NotConnected")
    coverage.command("connect", "PoolExhausted")
    coverage.probe(true, true)
    coverage.question("alias", true)
    expect(coverage.shortfalls(floors)).toEqual([])
    expect(coverage.report(floors)).toContain("checks seeing 3+ containers on 2+ networks: 100.0% (floor 50.0%)")
  })

  it("names every floor a thin run falls below", () => {
    const coverage = new Coverage()
    coverage.check(model.initialState())
    coverage.command("connect", "ContainerNotFound")
    coverage.probe(false)
    expect(coverage.shortfalls(floors)).toEqual([
      "sequences: 0 < floor 1",
      "checks seeing 3+ containers on 2+ networks: 0.0% < floor 50.0%",
      "successes of connect: 0.0% < floor 50.0%",
      "error code NotConnected reached: 0 < floor 1",
      "error code PoolExhausted reached: 0 < floor 1",
      "share of probes answered: 0.0% < floor 50.0%",
      "gateway probes: 0 < floor 1",
      "DNS questions of kind alias: 0 < floor 1",
      "share of container and alias questions answered: 0.0% < floor 50.0%",
    ])
  })
})
