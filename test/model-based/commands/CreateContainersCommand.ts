import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"
import { type ContainerSpec, resolveContainer } from "./CreateContainerCommand.ts"

/**
 * Several containers made in one operation (Lab.createContainers), as a scenario's setup makes
 * them: all or nothing. The model decides them one after the other, each on the state the ones
 * before it left; the first refusal refuses them all.
 */
export const createAll = (state: model.CnmState, requests: ReadonlyArray<model.ContainerRequest>): model.Outcome<ReadonlyArray<model.Container>> => {
  let current = state
  const made: model.Container[] = []
  for (const request of requests) {
    const outcome = model.createContainer(current, request)
    if (!outcome.ok) return { ok: false, error: outcome.error }
    current = outcome.state
    made.push(outcome.value.container)
  }
  return { ok: true, state: current, value: made }
}

export class CreateContainersCommand implements LabCommand {
  private requests: ReadonlyArray<model.ContainerRequest> | undefined

  constructor(readonly specs: ReadonlyArray<ContainerSpec>) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    // each request is picked on the state the ones before it would leave (so names stay free)
    let state = m.state
    const requests = this.specs.map((spec) => {
      const request = resolveContainer(state, spec)
      const outcome = model.createContainer(state, request)
      if (outcome.ok) state = outcome.state
      return request
    })
    this.requests = requests
    runBoth(m, r, "createContainers", (s) => createAll(s, requests), (lab) => lab.createContainers(requests))
  }

  toString = () => `createContainers(${this.requests === undefined ? "?" : JSON.stringify(this.requests)})`
}
