import * as model from "../../../model/index.ts"
import { containerAt, type LabCommand, type LabModel, type LabReal, networkAt, runBoth } from "../LabModel.ts"
import { staticAddress } from "./CreateContainerCommand.ts"

export class ConnectCommand implements LabCommand {
  private resolved = "?"

  constructor(
    readonly containerPosition: number,
    readonly networkPosition: number,
    readonly staticHost: number | undefined,
    readonly alias: boolean,
  ) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const container = containerAt(m, this.containerPosition)
    const network = networkAt(m, this.networkPosition)
    const subnet = model.network(m.state, network)?.subnet
    const ip = this.staticHost !== undefined && subnet ? staticAddress(subnet, this.staticHost) : undefined
    // one alias shared by every container that takes one: several answers for one name
    const attach: model.AttachRequest = { network, ...(ip ? { ip } : {}), aliases: this.alias ? ["shared", `${container}-alias`] : [] }
    this.resolved = `${container}, ${JSON.stringify(attach)}`
    runBoth(m, r, (s) => model.connect(s, container, attach), (lab) => lab.connect(container, attach))
  }

  toString = () => `connect(${this.resolved})`
}
