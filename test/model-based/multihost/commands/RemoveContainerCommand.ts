import * as model from "../../../../model/index.ts"
import type { Pick } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { anyContainer, containersOf, pickFrom } from "../picks.ts"

export class RemoveContainerCommand implements MhCommand {
  private name = "?"

  constructor(readonly pick: Pick) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const name = (this.name = pickFrom(this.pick, containersOf(m.lab), anyContainer(m.lab)))
    runOnBoth(m, r, { kind: "removeContainer", onModel: (lab) => model.removeLabContainer(lab, name), onLab: (lab) => lab.removeContainer(name) })
  }

  toString = () => `removeContainer(${this.name})`
}
