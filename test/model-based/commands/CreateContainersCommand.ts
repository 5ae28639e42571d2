import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"
import { type ContainerSpec, resolveContainer } from "./CreateContainerCommand.ts"

/**
 * Several containers made in one operation (Lab.createContainers), as a scenario's setup makes
 * them: all or nothing. The model decides them one after the other, each on the state the ones
 * before it left; the first refusal refuses them all.
 */
export const createAll = (lab: model.LabState, requests: ReadonlyArray<model.LabContainerRequest>): model.LabOutcome<ReadonlyArray<model.Container>> => {
  let current = lab
  const made: model.Container[] = []
  for (const request of requests) {
    const outcome = model.createLabContainer(current, request)
    if (!outcome.ok) return { ok: false, error: outcome.error }
    current = outcome.lab
    made.push(outcome.value.container)
  }
  return { ok: true, lab: current, value: made }
}

export class CreateContainersCommand implements LabCommand {
  private requests: ReadonlyArray<model.LabContainerRequest> | undefined

  constructor(readonly specs: ReadonlyArray<ContainerSpec>) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    // each request is picked on the state the ones before it would leave (so names stay free)
    let lab = m.lab
    const requests = this.specs.map((spec) => {
      const request = resolveContainer(lab, spec)
      const outcome = model.createLabContainer(lab, request)
      if (outcome.ok) lab = outcome.lab
      return request
    })
    this.requests = requests
    runBoth(m, r, "createContainers", (l) => createAll(l, requests), (lab) => lab.createContainers(requests))
  }

  toString = () => `createContainers(${this.requests === undefined ? "?" : JSON.stringify(this.requests)})`
}
