/**
 * The transaction every controller operation goes through: the model has decided and the drivers
 * have planned (a Prepared); the kernel steps run, then the embedded DNS's part, then the decision
 * is kept. A refused step rolls back what ran before it and nothing is kept.
 */
import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import type { KernelError } from "../backends/KernelError.ts"
import type { DnsUpdate } from "../backends/kernel-types.ts"
import type { Step } from "../drivers/Driver.ts"
import { type CnmError, cnmError } from "../model/errors.ts"
import { type DnsPlan, changeDns, dnsUpdateOf } from "./dns-plan.ts"
import { runSocketSteps, type SocketStep } from "./sockets.ts"
import { runSteps, runStepsSync, type StepFailure, undo } from "./steps.ts"

/** one resolver's (one host's) part of the embedded DNS work */
export interface ResolverPlan {
  readonly resolver: string
  readonly plan: DnsPlan
}

/** an operation decided by the model and planned by the drivers, not yet carried out */
export interface Prepared<A> {
  readonly steps: ReadonlyArray<Step>
  /** the embedded DNS's part, carried out once the steps are done */
  readonly dns?: ReadonlyArray<ResolverPlan>
  /** docker-proxies and servers started or stopped, once the steps and the DNS are done */
  readonly sockets?: ReadonlyArray<SocketStep>
  /** keep the decision (runtime bookkeeping and the model's next state); runs only after success */
  readonly commit: () => A
}

export const isRefusal = <T extends object>(prepared: T | CnmError): prepared is CnmError => "code" in prepared

export const kernelFailure = (failure: StepFailure): CnmError => cnmError("KernelError", `${failure.step}: ${failure.error.message}`)

export const dnsFailure = (error: KernelError): CnmError => kernelFailure({ step: "sandbox.dns", error })

const onlyNames = (plans: ReadonlyArray<ResolverPlan>): boolean => {
  for (const { plan } of plans) if (plan.serve.length > 0 || plan.stop.length > 0) return false
  return true
}

const changeAllDns = (kernel: KernelShape, plans: ReadonlyArray<ResolverPlan>): Effect.Effect<void, KernelError> =>
  plans.length === 1
    ? changeDns(kernel, (plans[0] as ResolverPlan).resolver, (plans[0] as ResolverPlan).plan)
    : Effect.forEach(plans, ({ resolver, plan }) => changeDns(kernel, resolver, plan), { discard: true })

/**
 * Take back the names a DNS plan added or removed (after refused sockets; the steps' undo has
 * taken new sandboxes and their servers already). Best effort, as every undo.
 */
const unnameDns = (kernel: KernelShape, plans: ReadonlyArray<ResolverPlan>): Effect.Effect<void> =>
  Effect.forEach(
    plans,
    ({ resolver, plan }) =>
      plan.add.length === 0 && plan.remove.length === 0
        ? Effect.void
        : Effect.ignore(kernel.updateDns({ resolver, ...(plan.add.length > 0 ? { remove: plan.add } : {}), ...(plan.remove.length > 0 ? { add: plan.remove } : {}) })),
    { discard: true },
  )

/**
 * Carry out a prepared operation: run its steps, then the embedded DNS's part (servers started
 * or stopped, names added or removed), then keep the decision. A kernel that can apply
 * synchronously (the simulator) runs the steps without an effect per step.
 */
export const execute = <A>(
  kernel: KernelShape,
  prepare: () => Prepared<A> | CnmError,
  refused: (failure: StepFailure) => Effect.Effect<never, CnmError> = (failure) => Effect.fail(kernelFailure(failure)),
): Effect.Effect<A, CnmError> =>
  Effect.suspend(() => {
    const prepared = prepare()
    if (isRefusal(prepared)) return Effect.fail(prepared)
    const { steps, dns } = prepared
    const sockets = prepared.sockets ?? []
    // the sockets last: a refused one takes back its own, then the steps are undone
    const finish = (): Effect.Effect<A, CnmError> =>
      sockets.length === 0
        ? Effect.succeed(prepared.commit())
        : runSocketSteps(sockets).pipe(
            Effect.matchEffect({
              onFailure: (failure) => undo(kernel, steps).pipe(Effect.andThen(unnameDns(kernel, dns ?? [])), Effect.andThen(refused(failure))),
              onSuccess: () => Effect.succeed(prepared.commit()),
            }),
          )
    const applySync = kernel.applySync
    if (applySync) {
      const failure = runStepsSync(applySync, steps)
      if (failure) return refused(failure)
      if (!dns || dns.length === 0) return finish()
      const updateDnsSync = kernel.updateDnsSync
      if (updateDnsSync && onlyNames(dns)) {
        try {
          for (const { resolver, plan } of dns) {
            const update = dnsUpdateOf(resolver, plan)
            if (update !== undefined) updateDnsSync(update as DnsUpdate)
          }
        } catch (error) {
          return undo(kernel, steps).pipe(Effect.andThen(refused({ step: "sandbox.dns", error: error as KernelError })))
        }
        return finish()
      }
      // the one effect left on the fast path (every new container on a user network starts its server)
      return changeAllDns(kernel, dns).pipe(
        Effect.matchEffect({
          onFailure: (error) => undo(kernel, steps).pipe(Effect.andThen(refused({ step: "sandbox.dns", error }))),
          onSuccess: finish,
        }),
      )
    }
    const dnsDone =
      dns && dns.length > 0
        ? changeAllDns(kernel, dns).pipe(
            Effect.mapError((error): StepFailure => ({ step: "sandbox.dns", error })),
            Effect.tapError(() => undo(kernel, steps)),
          )
        : Effect.void
    return runSteps(kernel, steps).pipe(
      Effect.andThen(dnsDone),
      Effect.matchEffect({ onFailure: refused, onSuccess: finish }),
    )
  })

/** the column-wise order of several operations' steps: every first step, then every second … */
export const interleave = (lists: ReadonlyArray<ReadonlyArray<Step>>): Array<Step> => {
  const steps: Step[] = []
  for (let column = 0; lists.some((list) => column < list.length); column++) {
    for (const list of lists) if (column < list.length) steps.push(list[column] as Step)
  }
  return steps
}
