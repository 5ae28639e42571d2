import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, networkAt, runBoth } from "../LabModel.ts"

export class RemoveNetworkCommand implements LabCommand {
  private name = "?"

  constructor(readonly position: number) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const name = (this.name = networkAt(m, this.position))
    runBoth(m, r, (s) => model.removeNetwork(s, name), (lab) => lab.removeNetwork(name))
  }

  toString = () => `removeNetwork(${this.name})`
}
