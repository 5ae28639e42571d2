import { Effect, type Result } from "effect"
import type fc from "fast-check"
import { expect } from "vitest"
import type { Lab } from "../../controller/Lab.ts"
import { measureReach, type ReachEntry } from "../../controller/measure.ts"
import type { CnmError } from "../../model/errors.ts"
import * as model from "../../model/index.ts"
import type { CommandKind, Coverage } from "./coverage.ts"

/**
 * The oracle: the lab model of one host, advanced by the model's own operations. `lab` holds what
 * only a lab knows (published ports, servers); `state` is its one host's state, kept with it.
 */
export interface LabModel {
  lab: model.LabState
  state: model.CnmState
  /** checks made so far in this sequence (a check may take turns among the containers by it) */
  checks?: number
}

/** the system under test: a lab (controller + drivers) on a backend */
export interface LabReal {
  readonly lab: Lab
  /**
   * Set by runners for backends that work asynchronously (linux, see async-commands.ts): runBoth
   * then hands the operation over instead of running it, and the runner carries it out.
   */
  readonly handOver?: (operation: LabOperation) => void
  /** counts what the run covered */
  readonly coverage?: Coverage
  /**
   * The check after every command (default: checkAgreement); `changed` says whether the
   * command moved the oracle's state (a refusal usually does not).
   */
  readonly check?: (m: LabModel, r: LabReal, changed: boolean) => void
}

/** what a command asks of the oracle and of the lab, once it has resolved its positions */
export interface LabOperation {
  readonly kind: CommandKind
  readonly onModel: (lab: model.LabState) => model.LabOutcome<unknown>
  readonly onLab: (lab: Lab) => Effect.Effect<unknown, CnmError>
}

export type LabCommand = fc.Command<LabModel, LabReal>

/** the oracle of a fresh lab of one host, named as the lab under test names it */
export const initialModel = (host: string): LabModel => {
  const made = model.createLab({ hosts: [{ name: host }] })
  if (!made.ok) throw new Error(`the model refused a lab of one host: ${made.error.message}`)
  return { lab: made.value, state: made.value.hostStates[0] as model.CnmState }
}

const moveTo = (m: LabModel, lab: model.LabState): void => {
  m.lab = lab
  m.state = lab.hostStates[0] as model.CnmState
}

/**
 * Run one operation on the oracle and on the lab; both must agree on success or on the error code.
 * On success the oracle moves on, then everything observable is compared.
 */
export const runBoth = <A>(
  m: LabModel,
  r: LabReal,
  kind: CommandKind,
  onModel: (lab: model.LabState) => model.LabOutcome<A>,
  onLab: (lab: Lab) => Effect.Effect<unknown, CnmError>,
): void => {
  if (r.handOver) return r.handOver({ kind, onModel, onLab })
  const before = m.lab
  const expected = onModel(m.lab)
  const actual = Effect.runSync(Effect.result(onLab(r.lab)))
  r.coverage?.command(kind, actual._tag === "Failure" ? actual.failure.code : undefined)
  judgeOutcome(m, expected, actual)
  ;(r.check ?? checkAgreement)(m, r, m.lab !== before)
}

/**
 * The oracle and the lab agree on success or on the error code; the oracle then moves on (after a
 * refusal too, when Docker keeps a trace of it, as the controller does).
 */
export const judgeOutcome = (m: LabModel, expected: model.LabOutcome<unknown>, actual: Result.Result<unknown, CnmError>): void => {
  if (expected.ok) {
    if (actual._tag === "Failure") throw new Error(`model allowed it, lab refused: ${actual.failure.code}: ${actual.failure.message}`)
    moveTo(m, expected.lab)
  } else {
    const code = actual._tag === "Failure" ? actual.failure.code : "success"
    // an assertion only when it fails: this runs after every refused command
    if (code !== expected.error.code) expect(code, "the lab's answer against the model's refusal").toBe(expected.error.code)
    if (expected.lab !== undefined) moveTo(m, expected.lab)
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

/** what the lab and the oracle must agree on about an endpoint */
export const endpointView = (e: model.Endpoint) => ({
  container: e.container,
  network: e.network,
  address: e.address,
  mac: e.mac,
  ifname: e.ifname,
  aliases: e.aliases,
  staticAddress: e.staticAddress,
})
