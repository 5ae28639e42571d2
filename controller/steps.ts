import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import type { KernelError } from "../backends/KernelError.ts"
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
