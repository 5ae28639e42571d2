import { Effect } from "effect"
import type fc from "fast-check"
import { expect } from "vitest"
import type { Lab } from "../../controller/Lab.ts"
import { measureReach } from "../../controller/measure.ts"
import type { CnmError } from "../../model/errors.ts"
import * as model from "../../model/index.ts"

/** the oracle: the formal model's state, advanced by the model's own operations */
export interface LabModel {
  state: model.CnmState
}

/** the system under test: a lab (controller + drivers) on a backend */
export interface LabReal {
  readonly lab: Lab
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
  const expected = onModel(m.state)
  const actual = Effect.runSync(Effect.result(onLab(r.lab)))
  if (expected.ok) {
    if (actual._tag === "Failure") throw new Error(`model allowed it, lab refused: ${actual.failure.code}: ${actual.failure.message}`)
    m.state = expected.state
  } else {
    expect(actual._tag === "Failure" ? actual.failure.code : "success").toBe(expected.error.code)
  }
  checkAgreement(m, r)
}

/**
 * After every command: the lab's state satisfies every invariant, its endpoints are the oracle's,
 * the reach matrix the backend measures with probes is the one the model predicts, and the
 * embedded DNS answers what the model predicts.
 */
export const checkAgreement = (m: LabModel, r: LabReal): void => {
  const controller = r.lab.controllers[0]
  if (!controller) throw new Error("a lab without hosts")
  expect(model.checkInvariants(controller.state)).toEqual([])
  expect(model.checkInvariants(m.state)).toEqual([])
  expect(r.lab.endpoints().map(endpointView)).toEqual(model.endpoints(m.state).map(endpointView))

  const measured = Effect.runSync(measureReach(r.lab))
  const disagreements = measured
    .filter((entry) => entry.reachable !== model.predictReach(m.state, entry.from, entry.to, entry.address))
    .map((entry) => `${entry.from} → ${entry.to} ${entry.address} (${entry.network}): measured ${entry.reachable} (${entry.reason})`)
  expect(disagreements).toEqual([])

  for (const from of model.containers(m.state)) {
    for (const to of model.containers(m.state)) {
      const answer = Effect.runSync(r.lab.resolve(from.name, to.name))
      expect([...answer.addresses].sort(), `${from.name} asks for ${to.name}`).toEqual(
        [...model.predictResolve(m.state, from.name, to.name)].sort(),
      )
    }
  }
}

const endpointView = (e: model.Endpoint) => ({
  container: e.container,
  network: e.network,
  address: e.address,
  mac: e.mac,
  ifname: e.ifname,
})
