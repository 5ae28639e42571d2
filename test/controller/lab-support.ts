/** Helpers for the lab tests that run the same cases on the simulator and (as root) on the real kernel. */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { rootSnapshot } from "../linux/root-snapshot.ts"
import { needsRoot, root } from "../linux/support.ts"

export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
export const refusal = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

/** a run id unique to this process and call, short enough for namespace names */
export const runId = (tag: string): string => `${tag}${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`

/**
 * The cases on the simulator, and on the linux kernel when root (skipped by name otherwise),
 * where the machine's own namespace must be the same after them as before.
 */
export const onBothBackends = (title: string, cases: (makeKernel: () => Promise<KernelShape>) => void): void => {
  describe(`${title}, on the simulator`, () => cases(async () => makeSimKernel()))
  describe.skipIf(!root)(`${title}, on the linux kernel (${needsRoot})`, () => {
    let before = ""
    beforeAll(() => {
      before = rootSnapshot()
    })
    afterAll(() => {
      expect(JSON.parse(rootSnapshot()), "the root namespace is as before").toEqual(JSON.parse(before))
    })
    cases(() => makeLinuxKernel())
  })
}
