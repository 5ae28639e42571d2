/**
 * The model must keep up with a controller doing 200,000 operations a second on a host with
 * 100 networks and 10,000 containers: operations share structure instead of copying, so their
 * cost must not grow with the number of containers. Timings are the best of several rounds, so
 * a busy machine slows them down without making them flaky; the bounds are far above the
 * measured values and only catch a change of complexity.
 */
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { must } from "./support.ts"

const networkCount = 100

const hostWith = (containers: number): Model.CnmState => {
  let state = Model.initialState()
  for (let index = 0; index < networkCount; index++) {
    state = must(Model.createNetwork(state, { name: `net${index}`, subnet: `10.${index}.0.0/16` })).state
  }
  for (let index = 0; index < containers; index++) {
    state = must(Model.createContainer(state, { name: `c${index}`, networks: [{ network: `net${index % networkCount}` }] })).state
  }
  return state
}

/** best µs per call over a few rounds */
const microseconds = (calls: number, run: (call: number) => void): number => {
  let best = Number.POSITIVE_INFINITY
  for (let round = 0; round < 5; round++) {
    const started = performance.now()
    for (let call = 0; call < calls; call++) run(call)
    best = Math.min(best, ((performance.now() - started) * 1000) / calls)
  }
  return best
}

const measure = (containers: number) => {
  const base = hostWith(containers)
  const names = Array.from({ length: containers }, (_, index) => `c${index}`)
  const nextNetwork = Array.from({ length: networkCount }, (_, index) => ({ network: `net${(index + 1) % networkCount}` }))
  let connected = base
  for (let index = 0; index < containers; index++)
    connected = must(Model.connect(connected, names[index]!, nextNetwork[index % networkCount]!)).state
  const calls = 20_000
  const expectOk = (outcome: Model.Outcome<unknown>) => {
    if (!outcome.ok) throw new Error(outcome.error.message)
  }
  return {
    connect: microseconds(calls, (call) =>
      expectOk(Model.connect(base, names[call % containers]!, nextNetwork[call % networkCount]!)),
    ),
    disconnect: microseconds(calls, (call) =>
      expectOk(Model.disconnect(connected, names[call % containers]!, nextNetwork[call % networkCount]!.network)),
    ),
    createContainer: microseconds(calls, (call) =>
      expectOk(Model.createContainer(base, { name: `new${call}`, networks: [{ network: `net${call % networkCount}` }] })),
    ),
    removeContainer: microseconds(calls, (call) => expectOk(Model.removeContainer(base, names[call % containers]!))),
    state: connected,
  }
}

describe("performance with 100 networks", () => {
  it("keeps connect, disconnect, createContainer and removeContainer cheap and flat from 1,000 to 10,000 containers", () => {
    const small = measure(1_000)
    const large = measure(10_000)
    const operations = ["connect", "disconnect", "createContainer", "removeContainer"] as const
    console.log(
      operations
        .map((operation) => `${operation}: ${small[operation].toFixed(2)} µs (1k) ${large[operation].toFixed(2)} µs (10k)`)
        .join("\n"),
    )
    for (const operation of operations) {
      expect(large[operation]).toBeLessThan(50)
      expect(large[operation]).toBeLessThan(small[operation] * 4 + 2)
    }
  })

  it("predicts the whole reach matrix for 10,000 containers well under 2 s", () => {
    const state = hostWith(10_000)
    // every container on a second network too: 20,000 targets, 200 million ordered entries
    let wide = state
    for (let index = 0; index < 10_000; index++)
      wide = must(Model.connect(wide, `c${index}`, { network: `net${(index + 37) % networkCount}` })).state
    const started = performance.now()
    const matrix = Model.predictReachMatrix(wide)
    const count = matrix.reachableCount()
    const elapsed = performance.now() - started
    console.log(
      `reach matrix: ${elapsed.toFixed(0)} ms for ${matrix.containers.length} containers, ${matrix.targets.length} addresses, ${count} reachable pairs`,
    )
    expect(elapsed).toBeLessThan(2000)
    expect(matrix.targets.length).toBe(20_000)
    // each network holds 200 containers: every address is reached by the 199 others on its network
    expect(count).toBe(20_000 * 199)
    // spot checks against the plain predictor, on pairs of distinct containers
    for (const [from, targetIndex] of [
      [1, 0],
      [100, 0],
      [100, 1],
      [37, 0],
      [5000, 9999],
      [9998, 19_999],
      [9999, 0],
    ] as const) {
      const target = matrix.targets[targetIndex]!
      expect(matrix.reachable(from, targetIndex)).toBe(
        Model.predictReach(wide, matrix.containers[from]!, target.container, target.address),
      )
    }
  })
})
