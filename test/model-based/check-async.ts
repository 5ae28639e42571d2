import { Effect } from "effect"
import { measureReach } from "../../controller/measure.ts"
import * as model from "../../model/index.ts"
import { confirmNegatives } from "./confirm.ts"
import { askingPairs, checkMeasurements, checkState, type LabModel, type LabReal } from "./LabModel.ts"

/**
 * checkAgreement for a backend that works asynchronously (linux): probes and DNS queries run
 * concurrently, and a negative measurement the model disputes is confirmed before it counts
 * (confirm.ts). The checks themselves are LabModel's.
 */
export const checkAgreementAsync = async (m: LabModel, r: LabReal, options: { readonly concurrency: number }): Promise<void> => {
  checkState(m, r)
  const reprobe = (entry: { readonly from: string; readonly address: string }) => r.lab.probe(entry.from, entry.address)
  const measured = await confirmNegatives(
    await Effect.runPromise(measureReach(r.lab, options)),
    (entry) => !entry.reachable && model.predictReach(m.state, entry.from, entry.to, entry.address),
    (entry) => Effect.runPromise(reprobe(entry).pipe(Effect.map((p) => ({ ...entry, reachable: p.reachable, reason: p.reason })))),
  )
  const ask = ([from, to]: readonly [string, string]) =>
    r.lab.resolve(from, to).pipe(Effect.map((answer) => ({ from, to, addresses: answer.addresses })))
  const answers = await confirmNegatives(
    await Effect.runPromise(Effect.forEach(askingPairs(m), ask, options)),
    (answer) => answer.addresses.length === 0 && model.predictResolve(m.state, answer.from, answer.to).length > 0,
    (answer) => Effect.runPromise(ask([answer.from, answer.to])),
  )
  checkMeasurements(m, measured, answers.map((answer) => answer.addresses))
}
