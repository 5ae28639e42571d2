import { Effect } from "effect"
import fc from "fast-check"
import { describe, it } from "vitest"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { labCommands } from "./commands.ts"
import type { LabModel, LabReal } from "./LabModel.ts"

/**
 * Model-based: generated command sequences over a lab on the simulator; after every command the
 * invariants hold, the endpoints are the model's, and the probe-measured reach matrix and the DNS
 * answers are the model's predictions. Replay a failure with CNMLAB_SEED, CNMLAB_PATH and
 * CNMLAB_REPLAY (fast-check prints all three); CNMLAB_RUNS sets the number of sequences.
 */
const runs = Number(process.env.CNMLAB_RUNS ?? 1000)
const seed = process.env.CNMLAB_SEED === undefined ? undefined : Number(process.env.CNMLAB_SEED)
const path = process.env.CNMLAB_PATH

describe("model-based: lab on the simulator agrees with the model", () => {
  it(`${runs} generated command sequences`, () => {
    fc.assert(
      fc.property(labCommands(process.env.CNMLAB_REPLAY), (commands) => {
        const setup = (): { model: LabModel; real: LabReal } => {
          const lab = Effect.runSync(Lab.make(makeSimKernel(), { hosts: ["host1"], runId: "mbt" }))
          return { model: { state: model.initialState() }, real: { lab } }
        }
        fc.modelRun(setup, commands)
      }),
      { numRuns: runs, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) },
    )
  })
})
