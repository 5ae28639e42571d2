import * as model from "../../../../model/index.ts"
import type { Pick } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { anyContainer, anyNetwork, containersOf, listedNetworksOf, pickFrom } from "../picks.ts"

/** `docker network disconnect`: mostly from a container on two networks or more (it stays on one); else any names (docker_gwbridge, a network it is not on) */
export class DisconnectCommand implements MhCommand {
  private resolved = "?"

  constructor(
    readonly container: Pick,
    readonly network: Pick,
  ) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const connected = containersOf(m.lab).filter((c) => listedNetworksOf(m.lab, c).length > 0)
    const multi = connected.filter((c) => listedNetworksOf(m.lab, c).length > 1)
    const container = pickFrom(this.container, multi.length > 0 ? multi : connected, anyContainer(m.lab))
    const network = pickFrom(this.network, listedNetworksOf(m.lab, container), anyNetwork(m.lab))
    this.resolved = `${container}, ${network}`
    runOnBoth(m, r, { kind: "disconnect", onModel: (lab) => model.disconnectLab(lab, container, network), onLab: (lab) => lab.disconnect(container, network) })
  }

  toString = () => `disconnect(${this.resolved})`
}
