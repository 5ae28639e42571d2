import { Effect } from "effect"
import { measureReach } from "../../controller/measure.ts"
import { askingPairs, checkMeasurements, checkState, type LabModel, type LabReal } from "./LabModel.ts"

/**
 * checkAgreement for a backend that works asynchronously (linux): probes and DNS queries run
 * concurrently, each measured once; a disagreement with the model is a failure. The checks
 * themselves are LabModel's.
 */
export const checkAgreementAsync = async (m: LabModel, r: LabReal, options: { readonly concurrency: number }): Promise<void> => {
  checkState(m, r)
  const measured = await Effect.runPromise(measureReach(r.lab, options))
  const ask = ([from, to]: readonly [string, string]) => r.lab.resolve(from, to).pipe(Effect.map((answer) => answer.addresses))
  const answers = await Effect.runPromise(Effect.forEach(askingPairs(m), ask, options))
  checkMeasurements(m, measured, answers)
}
