import { Effect } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { dropLab, namespacesNamed, runIdSource } from "../differential/linux-labs.ts"
import { needsRoot, root } from "../linux/support.ts"
import { asyncCommands } from "./async-commands.ts"
import { checkAgreementAsync } from "./check-async.ts"
import { labCommands, labTopology } from "./commands.ts"
import { initialModel, judgeOutcome, type LabModel, type LabOperation, type LabReal } from "./LabModel.ts"

/**
 * Model-based, on the real kernel: the same generated commands as lab.sim.test.ts, on a lab over
 * the linux backend, checked after every command against the model (invariants, endpoints, the
 * probe-measured reach matrix, DNS answers over real UDP). Fewer and shorter sequences than on
 * the simulator: every check costs real probes, and an unanswered one its whole timeout.
 * Each sequence starts with a generated topology (commands.ts, labTopology), so that short
 * sequences still probe containers. CNMLAB_LINUX_RUNS and CNMLAB_LINUX_COMMANDS size the run;
 * CNMLAB_SEED, CNMLAB_PATH and CNMLAB_REPLAY (for the part after the topology) replay a failure.
 */
const runs = Number(process.env.CNMLAB_LINUX_RUNS ?? 30)
const maxCommands = Number(process.env.CNMLAB_LINUX_COMMANDS ?? 6)
const seed = process.env.CNMLAB_SEED === undefined ? undefined : Number(process.env.CNMLAB_SEED)
const path = process.env.CNMLAB_PATH

/** long enough for an answer across a bridge on a busy 2-core machine, short enough to wait for often */
const PROBE_TIMEOUT_MS = 200
const PROBE_CONCURRENCY = 64
const RUN_TAG = "mbl"
/**
 * About 60 s on a quiet 2-core machine, and 20 of the 30 sequences in 300 s at load 16-20: the
 * bound guards against a hang; the rest of the test's timeout is for shrinking a counterexample
 */
const TIME_LIMIT_MS = 1_200_000

const carryOut = async (m: LabModel, real: LabReal, operation: LabOperation): Promise<void> => {
  judgeOutcome(m, operation.onModel(m.lab), await Effect.runPromise(Effect.result(operation.onLab(real.lab))))
  await checkAgreementAsync(m, real, { concurrency: PROBE_CONCURRENCY })
}

describe.skipIf(!root)(`model-based: lab on the linux backend agrees with the model (${needsRoot})`, () => {
  let kernel: KernelShape | undefined
  const nextRunId = runIdSource(RUN_TAG)

  beforeAll(async () => {
    kernel = await makeLinuxKernel({ timeoutMs: PROBE_TIMEOUT_MS })
  })

  afterAll(async () => {
    if (kernel) await Effect.runPromise(kernel.close())
  })

  it(`${runs} generated command sequences of at most ${maxCommands} commands`, { timeout: TIME_LIMIT_MS + 60_000 }, async () => {
    const linux = kernel
    if (linux === undefined) throw new Error("the linux kernel did not open")
    await fc.assert(
      fc.asyncProperty(labTopology(), labCommands(process.env.CNMLAB_REPLAY, { maxCommands }), async (topology, commands) => {
        const runId = nextRunId()
        const setup = async (): Promise<{ model: LabModel; real: LabReal }> => {
          const lab = await Effect.runPromise(Lab.make(linux, { hosts: ["host1"], runId }))
          return { model: initialModel("host1"), real: { lab } }
        }
        try {
          await fc.asyncModelRun(setup, asyncCommands([...topology, ...commands], (real: LabReal) => real.lab, carryOut))
        } finally {
          await dropLab(linux, runId)
        }
      }),
      {
        numRuns: runs,
        // a failure found late still gets reported (with the counterexample shrunk so far); a run
        // that is merely slow fails too, rather than pass with fewer sequences than asked
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: true,
        ...(seed === undefined ? {} : { seed }),
        ...(path === undefined ? {} : { path }),
      },
    )
    expect(namespacesNamed(`cnm-${RUN_TAG}${process.pid.toString(36)}`)).toEqual([])
  })
})
