import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { checkInvariants, checkOnSim } from "./check-sim.ts"
import { labCommands, labTopology } from "./commands.ts"
import { Coverage, type Floors, labErrorCodes } from "./coverage.ts"
import type { LabModel, LabReal } from "./LabModel.ts"

/**
 * Model-based: generated command sequences over a lab on the simulator, each a starting topology
 * and then every kind of command (commands.ts); after every command the lab is checked against
 * the model (check-sim.ts): state, the kernel read back, probes, DNS. The run prints what it
 * covered and fails below the floors. Replay a failure with CNMLAB_SEED, CNMLAB_PATH and
 * CNMLAB_REPLAY (fast-check prints all three); CNMLAB_RUNS sets the number of sequences.
 */
const runs = Number(process.env.CNMLAB_RUNS ?? 10_000)
const seed = process.env.CNMLAB_SEED === undefined ? undefined : Number(process.env.CNMLAB_SEED)
const path = process.env.CNMLAB_PATH
const layout = { runId: "mbt", host: "host1" } as const

/**
 * The least a run must cover; measured on 10,000 sequences (the numbers each floor sits under are
 * in the comments), a floor a bit below, so that a generator that drifts is caught.
 */
const floors: Floors = {
  sequences: Math.min(runs, 10_000),
  richChecks: 0.5,
  successes: { createNetwork: 0.6, createContainer: 0.6, connect: 0.6, disconnect: 0.6, removeContainer: 0.6, removeNetwork: 0.3 },
  codes: labErrorCodes,
  probesPerCheck: 10,
  reachableShare: 0.2,
  gatewayProbes: 10_000,
  questions: { container: 10_000, alias: 5_000, "name.network": 10_000, "must-not-resolve": 10_000 },
  answeredShare: 0.3,
}

describe("model-based: lab on the simulator agrees with the model", () => {
  it(`${runs} generated command sequences`, { timeout: 600_000 }, () => {
    const coverage = new Coverage()
    const check = checkOnSim(layout)
    const replaying = seed !== undefined || path !== undefined
    fc.assert(
      fc.property(labTopology(), labCommands(process.env.CNMLAB_REPLAY), (topology, commands) => {
        coverage.sequences++
        const setup = (): { model: LabModel; real: LabReal } => {
          const lab = Effect.runSync(Lab.make(makeSimKernel(), { hosts: [layout.host], runId: layout.runId }))
          return { model: { state: model.initialState() }, real: { lab, coverage, check } }
        }
        let real: LabReal | undefined
        fc.modelRun(() => {
          const made = setup()
          real = made.real
          return made
        }, [...topology, ...commands])
        if (real !== undefined) checkInvariants(real)
      }),
      { numRuns: runs, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) },
    )
    console.log(coverage.report(floors))
    if (!replaying && runs >= floors.sequences) expect(coverage.shortfalls(floors)).toEqual([])
  })
})
