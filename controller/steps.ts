import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import { KernelError } from "../backends/KernelError.ts"
import type { Step } from "../drivers/Driver.ts"

/** a kernel refusal, with the name of the step it stopped */
export interface StepFailure {
  readonly step: string
  readonly error: KernelError
}

/**
 * Run steps in order. When one is refused, undo the steps that completed, newest first, and fail
 * with the refused step's name. Undo is best effort: an undo that is itself refused is skipped,
 * since the state it would restore may already be gone (a deleted namespace takes its links along).
 */
export const runSteps = (kernel: KernelShape, steps: ReadonlyArray<Step>): Effect.Effect<void, StepFailure> =>
  Effect.suspend(() => {
    let index = 0
    const next: Effect.Effect<void, StepFailure> = Effect.suspend(() => {
      const current = steps[index]
      if (current === undefined) return Effect.void
      return kernel.apply(current.do).pipe(
        Effect.matchEffect({
          onFailure: (error) =>
            undo(kernel, steps.slice(0, index)).pipe(Effect.andThen(Effect.fail({ step: current.name, error }))),
          onSuccess: () => {
            index++
            return next
          },
        }),
      )
    })
    return next
  })

export const undo = (kernel: KernelShape, done: ReadonlyArray<Step>): Effect.Effect<void> =>
  Effect.forEach(
    [...done].reverse().filter((s) => s.undo.length > 0),
    (s) => Effect.ignore(kernel.apply(s.undo)),
    { discard: true },
  )

/**
 * runSteps for a kernel that applies synchronously (the simulator): the same order, the same
 * rollback, without an effect per step. Returns the failure instead of failing.
 */
export const runStepsSync = (
  applySync: NonNullable<KernelShape["applySync"]>,
  steps: ReadonlyArray<Step>,
): StepFailure | undefined => {
  for (let index = 0; index < steps.length; index++) {
    const current = steps[index] as Step
    try {
      applySync(current.do)
    } catch (error) {
      if (!(error instanceof KernelError)) throw error
      for (let done = index - 1; done >= 0; done--) {
        const undoOps = (steps[done] as Step).undo
        if (undoOps.length === 0) continue
        try {
          applySync(undoOps)
        } catch {
          // best effort, as in undo()
        }
      }
      return { step: current.name, error }
    }
  }
  return undefined
}
