import { Effect } from "effect"
import { makeSimKernel } from "../backends/sim/layer.ts"
import { Lab } from "../controller/Lab.ts"
import { measureReach } from "../controller/measure.ts"
import * as model from "../model/index.ts"

/**
 * Simulator benchmarks. Each measurement runs next to its baseline in the same process:
 * - controller ops (container create + connect + disconnect + remove, each counted as one op) on a
 *   lab with 100 networks, against the same operations on the pure model alone (what the
 *   controller, drivers and simulated kernel add on top of the decisions);
 * - the reach matrix as the model predicts it (bitsets; the tests' oracle) for 1,000 and 10,000
 *   containers over 100 networks, next to the same matrix probed through the simulated kernel for
 *   the size where walking every pair is still affordable. The two are different measurements
 *   (a prediction and probes), not a result and its baseline.
 */

const NETWORKS = 100

const labWithNetworks = (): Lab => {
  const lab = Effect.runSync(Lab.make(makeSimKernel(), { hosts: ["host1"], runId: "bench" }))
  for (let i = 0; i < NETWORKS; i++) Effect.runSync(lab.createNetwork({ name: `net${i}`, subnet: subnetOf(i) }))
  return lab
}

const subnetOf = (i: number): string => `10.${Math.floor(i / 250)}.${i % 250}.0/24`

/** how long a measured loop runs before its clock starts (see controllerOps) */
const WARM_UP_MS = 500

const timeFor = (durationMs: number, body: (i: number) => number): { ops: number; ms: number } => {
  const started = performance.now()
  let ops = 0
  let i = 0
  while (performance.now() - started < durationMs) {
    for (let k = 0; k < 100; k++) ops += body(i++)
  }
  return { ops, ms: performance.now() - started }
}

/**
 * Controller operations per second, the wall-clock rate of the measured loop.
 *
 * What one op includes: the whole path a user's request takes, run by `Effect.runSync` as a
 * caller would run it: Lab (placement of the container on its host) → Controller → the model's
 * decision (validation, IPAM, the next persistent state) → the bridge driver's kernel steps →
 * the simulated kernel applying them with every check Linux makes (namespace, veth pair on the
 * bridge, address, link up, default route; deletions take their links, routes and ports along)
 * → the controller's bookkeeping (DNS records, the embedded DNS server of each new container).
 * Four ops per round: create (on net i), connect (to net i+1), disconnect, remove, against a lab
 * of 100 networks and 1,000 standing containers, in one process that runs nothing else.
 *
 * What it does not include: building the lab and its standing containers, and a warm-up of
 * WARM_UP_MS running the same rounds on the same lab (before the clock starts: the rate is the
 * steady state of a running controller, not the time V8 takes to compile the loop, about 7% of
 * a 2 s run); refusals (every op succeeds). The bench runs compiled by esbuild (bench/compiled.mjs).
 */
export const controllerOps = (durationMs = 2000) => {
  const lab = labWithNetworks()
  // a standing population, so the ops run against a non-trivial state
  for (let i = 0; i < 1000; i++) Effect.runSync(lab.createContainer({ name: `resident${i}`, networks: [{ network: `net${i % NETWORKS}` }] }))
  const round = (i: number): number => {
    const name = `c${i}`
    Effect.runSync(lab.createContainer({ name, networks: [{ network: `net${i % NETWORKS}` }] }))
    Effect.runSync(lab.connect(name, { network: `net${(i + 1) % NETWORKS}` }))
    Effect.runSync(lab.disconnect(name, `net${(i + 1) % NETWORKS}`))
    Effect.runSync(lab.removeContainer(name))
    return 4
  }
  timeFor(WARM_UP_MS, round)
  const run = timeFor(durationMs, round)

  let state = model.initialState()
  for (let i = 0; i < NETWORKS; i++) state = ok(model.createNetwork(state, { name: `net${i}`, subnet: subnetOf(i) }))
  for (let i = 0; i < 1000; i++) state = ok(model.createContainer(state, { name: `resident${i}`, networks: [{ network: `net${i % NETWORKS}` }] }))
  const modelRound = (i: number): number => {
    const name = `c${i}`
    state = ok(model.createContainer(state, { name, networks: [{ network: `net${i % NETWORKS}` }] }))
    state = ok(model.connect(state, name, { network: `net${(i + 1) % NETWORKS}` }))
    state = ok(model.disconnect(state, name, `net${(i + 1) % NETWORKS}`))
    state = ok(model.removeContainer(state, name))
    return 4
  }
  timeFor(WARM_UP_MS, modelRound)
  const baseline = timeFor(durationMs, modelRound)
  return {
    opsPerSec: Math.round((run.ops / run.ms) * 1000),
    modelOnlyOpsPerSec: Math.round((baseline.ops / baseline.ms) * 1000),
  }
}

const ok = <A>(outcome: model.Outcome<A>): model.CnmState => {
  if (!outcome.ok) throw new Error(`${outcome.error.code}: ${outcome.error.message}`)
  return outcome.state
}

const populatedState = (containers: number): model.CnmState => {
  let state = model.initialState()
  for (let i = 0; i < NETWORKS; i++) state = ok(model.createNetwork(state, { name: `net${i}`, subnet: `10.${i}.0.0/16` }))
  for (let i = 0; i < containers; i++) state = ok(model.createContainer(state, { name: `c${i}`, networks: [{ network: `net${i % NETWORKS}` }] }))
  return state
}

/** the oracle's full matrix: build it and visit every entry */
export const predictedMatrixMs = (containers: number): { ms: number; entries: number; reachable: number } => {
  const state = populatedState(containers)
  const started = performance.now()
  const matrix = model.predictReachMatrix(state)
  let entries = 0
  let reachable = 0
  matrix.forEach((_from, _target, r) => {
    entries++
    if (r) reachable++
  })
  return { ms: performance.now() - started, entries, reachable }
}

/** the same matrix measured by walking every probe through the simulated kernel */
export const probedMatrixMs = (containers: number): { ms: number; entries: number; reachable: number } => {
  const lab = Effect.runSync(Lab.make(makeSimKernel(), { hosts: ["host1"], runId: "bench" }))
  for (let i = 0; i < NETWORKS; i++) Effect.runSync(lab.createNetwork({ name: `net${i}`, subnet: `10.${i}.0.0/16` }))
  for (let i = 0; i < containers; i++) Effect.runSync(lab.createContainer({ name: `c${i}`, networks: [{ network: `net${i % NETWORKS}` }] }))
  const started = performance.now()
  const matrix = Effect.runSync(measureReach(lab))
  const ms = performance.now() - started
  return { ms, entries: matrix.length, reachable: matrix.filter((entry) => entry.reachable).length }
}

/**
 * The model's cost per operation on hosts of 1,000 and of 10,000 containers over 100 networks:
 * operations share structure instead of copying, so the cost must not grow with the number of
 * containers. µs per call, the best of five rounds of 20,000 calls, each call on the same base
 * state (connect, createContainer, removeContainer) or on the state where every container has a
 * second network (disconnect).
 */
export const modelScaling = (): Record<string, Record<string, number>> => {
  const ok = <A>(outcome: model.Outcome<A>): { state: model.CnmState; value: A } => {
    if (!outcome.ok) throw new Error(outcome.error.message)
    return outcome
  }
  const hostWith = (containers: number): model.CnmState => {
    let state = model.initialState()
    for (let i = 0; i < NETWORKS; i++) state = ok(model.createNetwork(state, { name: `net${i}`, subnet: `10.${i}.0.0/16` })).state
    for (let i = 0; i < containers; i++)
      state = ok(model.createContainer(state, { name: `c${i}`, networks: [{ network: `net${i % NETWORKS}` }] })).state
    return state
  }
  const microseconds = (calls: number, run: (call: number) => void): number => {
    let best = Number.POSITIVE_INFINITY
    for (let round = 0; round < 5; round++) {
      const started = performance.now()
      for (let call = 0; call < calls; call++) run(call)
      best = Math.min(best, ((performance.now() - started) * 1000) / calls)
    }
    return Math.round(best * 100) / 100
  }
  const scaling: Record<string, Record<string, number>> = {}
  for (const containers of [1_000, 10_000]) {
    const base = hostWith(containers)
    const names = Array.from({ length: containers }, (_, i) => `c${i}`)
    const next = Array.from({ length: NETWORKS }, (_, i) => ({ network: `net${(i + 1) % NETWORKS}` }))
    let connected = base
    for (let i = 0; i < containers; i++) connected = ok(model.connect(connected, names[i] as string, next[i % NETWORKS] as model.AttachRequest)).state
    const calls = 20_000
    scaling[containers] = {
      connect: microseconds(calls, (call) => ok(model.connect(base, names[call % containers] as string, next[call % NETWORKS] as model.AttachRequest))),
      disconnect: microseconds(calls, (call) =>
        ok(model.disconnect(connected, names[call % containers] as string, (next[call % NETWORKS] as model.AttachRequest).network)),
      ),
      createContainer: microseconds(calls, (call) =>
        ok(model.createContainer(base, { name: `new${call}`, networks: [{ network: `net${call % NETWORKS}` }] })),
      ),
      removeContainer: microseconds(calls, (call) => ok(model.removeContainer(base, names[call % containers] as string))),
    }
  }
  return scaling
}
