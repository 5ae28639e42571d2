import { Effect } from "effect"
import type { ProbeReason } from "../backends/kernel-types.ts"
import type { CnmError } from "../model/errors.ts"
import type { Lab } from "./Lab.ts"

export interface ReachEntry {
  readonly from: string
  readonly to: string
  readonly network: string
  readonly address: string
  readonly reachable: boolean
  readonly reason: ProbeReason
}

/**
 * The reach matrix measured with the backend's probe: every ordered pair of distinct containers,
 * every address of the second. Never derived from the model. Probes run concurrently, since on
 * the real kernel an unanswered echo costs its whole timeout.
 */
export const measureReach = (lab: Lab, options: { readonly concurrency?: number } = {}): Effect.Effect<ReadonlyArray<ReachEntry>, CnmError> => {
  const endpoints = lab.endpoints().filter((e) => e.address !== undefined)
  const pairs = lab
    .containers()
    .flatMap((from) =>
      endpoints
        .filter((e) => e.container !== from)
        .map((e) => ({ from, to: e.container, network: e.network, address: (e.address as string).split("/")[0] as string })),
    )
  return Effect.forEach(
    pairs,
    (pair) => lab.probe(pair.from, pair.address).pipe(Effect.map((r) => ({ ...pair, reachable: r.reachable, reason: r.reason }))),
    { concurrency: options.concurrency ?? 1 },
  )
}
