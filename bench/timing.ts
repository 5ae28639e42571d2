import { Effect } from "effect"

/** an effect run to a promise, its failure an Error carrying the error's code and message */
export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.mapError((e) => new Error(`${(e as { code?: string }).code ?? "error"}: ${(e as { message?: string }).message ?? String(e)}`))))

/** wall-clock ms of `body` */
export const timed = async (body: () => Promise<unknown>): Promise<number> => {
  const started = performance.now()
  await body()
  return performance.now() - started
}
