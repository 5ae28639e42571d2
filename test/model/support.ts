/** Small helpers for the model tests: run operations that must succeed, or must be refused. */
import { expect } from "vitest"
import * as Model from "../../model/index.ts"

/** an outcome of one of the model's operations: on a one-host state (Outcome) or on a lab (LabOutcome) */
type AnyOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: Model.CnmError }

/** the outcome of an operation that must succeed */
export const succeeded = <O extends AnyOutcome>(outcome: O): Extract<O, { readonly ok: true }> => {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.error.code}: ${outcome.error.message}`)
  return outcome as Extract<O, { readonly ok: true }>
}

/** the new state and value of an operation that must succeed */
export const must = <A>(outcome: Model.Outcome<A>): { state: Model.CnmState; value: A } => {
  const { state, value } = succeeded(outcome)
  return { state, value }
}

/** the error code of an operation that must be refused, with a message */
export const refusal = (outcome: AnyOutcome): Model.ErrorCode => {
  if (outcome.ok) throw new Error(`expected a refusal, got success with ${JSON.stringify(outcome.value)}`)
  expect(outcome.error.message.length).toBeGreaterThan(0)
  return outcome.error.code
}

export type Step = (state: Model.CnmState) => Model.Outcome<unknown>

/** applies steps that must all succeed */
export const build = (...steps: ReadonlyArray<Step>): Model.CnmState =>
  steps.reduce((state, step) => must(step(state)).state, Model.initialState())

export const net = (request: Model.NetworkRequest) => (state: Model.CnmState) => Model.createNetwork(state, request)

export const ctr =
  (name: string, ...networks: ReadonlyArray<string | Model.AttachRequest>) =>
  (state: Model.CnmState) =>
    Model.createContainer(state, {
      name,
      networks: networks.map((entry) => (typeof entry === "string" ? { network: entry } : entry)),
    })

export const conn = (container: string, attach: string | Model.AttachRequest) => (state: Model.CnmState) =>
  Model.connect(state, container, typeof attach === "string" ? { network: attach } : attach)

export const disc = (container: string, network: string) => (state: Model.CnmState) => Model.disconnect(state, container, network)

/** the address (without prefix) of a container on a network */
export const addressOn = (state: Model.CnmState, container: string, network: string): string | undefined => {
  const endpoint = Model.endpointsOf(state, container).find((candidate) => candidate.network === network)
  return endpoint?.address === undefined ? undefined : Model.stripPrefix(endpoint.address)
}

/** everything a state shows through its queries, plus its counters: equal snapshots = same state */
export const snapshot = (state: Model.CnmState): string =>
  JSON.stringify({
    networks: Model.networks(state),
    containers: Model.containers(state),
    endpoints: Model.endpoints(state),
    byNetwork: Model.networks(state).map((network) => Model.endpointsOn(state, network.name)),
    counters: [state.nextNetworkSeq, state.nextContainerSeq, state.poolCursor],
  })
