import { Effect, type Result } from "effect"
import type fc from "fast-check"
import { expect } from "vitest"
import type { Lab } from "../../controller/Lab.ts"
import { measureReach, type ReachEntry } from "../../controller/measure.ts"
import type { CnmError } from "../../model/errors.ts"
import * as model from "../../model/index.ts"

/** the oracle: the formal model's state, advanced by the model's own operations */
export interface LabModel {
  state: model.CnmState
}

/** the system under test: a lab (controller + drivers) on a backend */
export interface LabReal {
  readonly lab: Lab
  /**
   * Set by runners for backends that work asynchronously (linux, see async-commands.ts): runBoth
   * then hands the operation over instead of running it, and the runner carries it out.
   */
  readonly handOver?: (operation: LabOperation) => void
}

/** what a command asks of the oracle and of the lab, once it has resolved its positions */
export interface LabOperation {
  readonly onModel: (s: model.CnmState) => model.Outcome<unknown>
  readonly onLab: (lab: Lab) => Effect.Effect<unknown, CnmError>
}

export type LabCommand = fc.Command<LabModel, LabReal>

/** names new objects are created with; a small pool, so name conflicts come up too */
export const networkNames = ["bridge", "host", "none", "n0", "n1", "n2", "n3"] as const
export const containerNames = ["c0", "c1", "c2", "c3", "c4"] as const

/**
 * Commands name existing objects by position (k-th network, k-th container of the current state),
 * so every generated command stays meaningful in any state; past the end of the list a position
 * names an object from the pool that may not exist, to exercise NotFound paths as well.
 */
export const networkAt = (m: LabModel, position: number): string => {
  const existing = model.networks(m.state).map((n) => n.name)
  const slots = existing.length + 1
  const k = position % slots
  return k < existing.length ? (existing[k] as string) : (networkNames[position % networkNames.length] as string)
}

export const containerAt = (m: LabModel, position: number): string => {
  const existing = model.containers(m.state).map((c) => c.name)
  const k = position % (existing.length + 1)
  return k < existing.length ? (existing[k] as string) : (containerNames[position % containerNames.length] as string)
}

/**
 * Run one operation on the oracle and on the lab; both must agree on success or on the error code.
 * On success the oracle moves on, then everything observable is compared.
 */
export const runBoth = <A>(
  m: LabModel,
  r: LabReal,
  onModel: (s: model.CnmState) => model.Outcome<A>,
  onLab: (lab: Lab) => Effect.Effect<unknown, CnmError>,
): void => {
  if (r.handOver) return r.handOver({ onModel, onLab })
  const expected = onModel(m.state)
  judgeOutcome(m, expected, Effect.runSync(Effect.result(onLab(r.lab))))
  checkAgreement(m, r)
}

/**
 * The oracle and the lab agree on success or on the error code; the oracle then moves on (after a
 * refusal too, when Docker keeps a trace of it, as the controller does).
 */
export const judgeOutcome = (m: LabModel, expected: model.Outcome<unknown>, actual: Result.Result<unknown, CnmError>): void => {
  if (expected.ok) {
    if (actual._tag === "Failure") throw new Error(`model allowed it, lab refused: ${actual.failure.code}: ${actual.failure.message}`)
    m.state = expected.state
  } else {
    expect(actual._tag === "Failure" ? actual.failure.code : "success").toBe(expected.error.code)
    if (expected.state !== undefined) m.state = expected.state
  }
}

/**
 * After every command: the lab's state satisfies every invariant, its endpoints are the oracle's,
 * the reach matrix the backend measures with probes is the one the model predicts, and the
 * embedded DNS answers what the model predicts. (check-async.ts: the same, for the linux backend.)
 */
export const checkAgreement = (m: LabModel, r: LabReal): void => {
  checkState(m, r)
  const measured = Effect.runSync(measureReach(r.lab))
  const answers = askingPairs(m).map(([from, to]) => Effect.runSync(r.lab.resolve(from, to)).addresses)
  checkMeasurements(m, measured, answers)
}

export const checkState = (m: LabModel, r: LabReal): void => {
  const controller = r.lab.controllers[0]
  if (!controller) throw new Error("a lab without hosts")
  expect(model.checkInvariants(controller.state)).toEqual([])
  expect(model.checkInvariants(m.state)).toEqual([])
  expect(r.lab.endpoints().map(endpointView)).toEqual(model.endpoints(m.state).map(endpointView))
}

/** the DNS questions: every ordered pair of containers (a container asking for itself included) */
export const askingPairs = (m: LabModel): ReadonlyArray<readonly [string, string]> => {
  const names = model.containers(m.state).map((c) => c.name)
  return names.flatMap((from) => names.map((to) => [from, to] as const))
}

/** `answers` holds the DNS answers in askingPairs order */
export const checkMeasurements = (m: LabModel, measured: ReadonlyArray<ReachEntry>, answers: ReadonlyArray<ReadonlyArray<string>>): void => {
  const disagreements = measured
    .filter((entry) => entry.reachable !== model.predictReach(m.state, entry.from, entry.to, entry.address))
    .map((entry) => `${entry.from} → ${entry.to} ${entry.address} (${entry.network}): measured ${entry.reachable} (${entry.reason})`)
  expect(disagreements).toEqual([])
  askingPairs(m).forEach(([from, to], i) => {
    expect([...(answers[i] ?? [])].sort(), `${from} asks for ${to}`).toEqual([...model.predictResolve(m.state, from, to)].sort())
  })
}

const endpointView = (e: model.Endpoint) => ({
  container: e.container,
  network: e.network,
  address: e.address,
  mac: e.mac,
  ifname: e.ifname,
})
