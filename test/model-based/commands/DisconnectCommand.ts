import * as model from "../../../model/index.ts"
import { containerAt, type LabCommand, type LabModel, type LabReal, networkAt, runBoth } from "../LabModel.ts"

export class DisconnectCommand implements LabCommand {
  private resolved = "?"

  constructor(
    readonly containerPosition: number,
    readonly networkPosition: number,
  ) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const container = containerAt(m, this.containerPosition)
    // the container's own networks first, so most disconnects find an endpoint
    const own = model.endpointsOf(m.state, container).map((e) => e.network)
    const network = own.length > 0 && this.networkPosition % 4 !== 3 ? (own[this.networkPosition % own.length] as string) : networkAt(m, this.networkPosition)
    this.resolved = `${container}, ${network}`
    runBoth(m, r, (s) => model.disconnect(s, container, network), (lab) => lab.disconnect(container, network))
  }

  toString = () => `disconnect(${this.resolved})`
}
