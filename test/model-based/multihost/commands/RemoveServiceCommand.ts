import * as model from "../../../../model/index.ts"
import type { Pick } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { anyService, pickFrom, servicesOf } from "../picks.ts"

/** `docker service rm`: a service of the lab (a pick that does not fit may name one there is not: ContainerNotFound) */
export class RemoveServiceCommand implements MhCommand {
  private name = "?"

  constructor(readonly pick: Pick) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const name = (this.name = pickFrom(this.pick, servicesOf(m.lab), anyService(m.lab)))
    runOnBoth(m, r, { kind: "removeService", onModel: (lab) => model.removeLabService(lab, name), onLab: (lab) => lab.removeService(name) })
  }

  toString = () => `removeService(${this.name})`
}
