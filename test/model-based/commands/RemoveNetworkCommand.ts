import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"
import { anyNetwork, choose, type Pick } from "../targets.ts"

export class RemoveNetworkCommand implements LabCommand {
  private name = "?"

  constructor(readonly pick: Pick) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    // a user network without endpoints fits; with none left, any user network (ActiveEndpoints)
    const user = model.networks(m.state).filter((n) => !n.predefined)
    const empty = user.filter((n) => model.endpointsOn(m.state, n.name).length === 0)
    const name = (this.name = choose(this.pick, (empty.length > 0 ? empty : user).map((n) => n.name), anyNetwork(m.state)))
    runBoth(m, r, "removeNetwork", (l) => model.removeLabNetwork(l, name), (lab) => lab.removeNetwork(name))
  }

  toString = () => `removeNetwork(${this.name})`
}
