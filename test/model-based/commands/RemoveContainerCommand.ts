import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"
import { anyContainer, choose, existingContainers, type Pick } from "../targets.ts"

export class RemoveContainerCommand implements LabCommand {
  private name = "?"

  constructor(readonly pick: Pick) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const name = (this.name = choose(this.pick, existingContainers(m.state), anyContainer(m.state)))
    runBoth(m, r, "removeContainer", (l) => model.removeLabContainer(l, name), (lab) => lab.removeContainer(name))
  }

  toString = () => `removeContainer(${this.name})`
}
