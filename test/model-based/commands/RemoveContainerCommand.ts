import * as model from "../../../model/index.ts"
import { containerAt, type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"

export class RemoveContainerCommand implements LabCommand {
  private name = "?"

  constructor(readonly position: number) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const name = (this.name = containerAt(m, this.position))
    runBoth(m, r, (s) => model.removeContainer(s, name), (lab) => lab.removeContainer(name))
  }

  toString = () => `removeContainer(${this.name})`
}
