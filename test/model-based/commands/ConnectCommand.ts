import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"
import { anyContainer, anyNetwork, type AttachPick, canJoin, choose, existingContainers, joinable, type Pick, resolveAttach } from "../targets.ts"

export class ConnectCommand implements LabCommand {
  private resolved = "?"

  constructor(
    readonly container: Pick,
    readonly attachment: AttachPick,
  ) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    // fitting: a container with a bridge network left to join, and one of those networks
    const fitting = existingContainers(m.state).filter((c) => canJoin(m.state, c) && joinable(m.state, c).length > 0)
    const container = choose(this.container, fitting, anyContainer(m.state))
    const network = choose(this.attachment.network, joinable(m.state, container), anyNetwork(m.state))
    const attach = resolveAttach(m.state, container, network, this.attachment)
    this.resolved = `${container}, ${JSON.stringify(attach)}`
    runBoth(m, r, "connect", (l) => model.connectLab(l, container, attach), (lab) => lab.connect(container, attach))
  }

  toString = () => `connect(${this.resolved})`
}
