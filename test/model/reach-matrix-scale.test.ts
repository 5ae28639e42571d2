/**
 * The model's reach matrix on a host with 100 networks and 10,000 containers. How long it takes,
 * and how the model's operations scale from 1,000 to 10,000 containers, is measured by the
 * benchmarks (bench/sim.ts), not asserted here.
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

describe("the reach matrix at scale", () => {
  // how fast: bench/sim.ts (predictedMatrixMs); here, that the bitset matrix is right at this size
  it("predicts the whole reach matrix for 10,000 containers on two networks each, agreeing with the plain predictor", () => {
    const state = hostWith(10_000)
    // every container on a second network too: 20,000 targets, 200 million ordered entries
    let wide = state
    for (let index = 0; index < 10_000; index++)
      wide = must(Model.connect(wide, `c${index}`, { network: `net${(index + 37) % networkCount}` })).state
    const matrix = Model.predictReachMatrix(wide)
    const count = matrix.reachableCount()
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
