import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"
import { anyContainer, anyNetwork, bridgeNetworksOf, choose, existingContainers, type Pick } from "../targets.ts"

export class DisconnectCommand implements LabCommand {
  private resolved = "?"

  constructor(
    readonly container: Pick,
    readonly network: Pick,
  ) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    // fitting: a container on two bridge networks or more (it stays on one), else on one
    const connected = existingContainers(m.state).filter((c) => bridgeNetworksOf(m.state, c).length > 0)
    const multi = connected.filter((c) => bridgeNetworksOf(m.state, c).length > 1)
    const container = choose(this.container, multi.length > 0 ? multi : connected, anyContainer(m.state))
    const network = choose(this.network, bridgeNetworksOf(m.state, container), anyNetwork(m.state))
    this.resolved = `${container}, ${network}`
    runBoth(m, r, "disconnect", (l) => model.disconnectLab(l, container, network), (lab) => lab.disconnect(container, network))
  }

  toString = () => `disconnect(${this.resolved})`
}
