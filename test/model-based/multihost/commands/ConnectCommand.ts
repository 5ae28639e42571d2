import * as model from "../../../../model/index.ts"
import type { Pick } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { attachOf, type MhAttachPick } from "./CreateContainerCommand.ts"
import { anyContainer, anyNetwork, attachableOn, containersOf, hostIndexOf, listedNetworksOf, pickFrom } from "../picks.ts"

/** `docker network connect`: mostly a container and a network on its host it is not on yet; else any names (another host's network, ingress) */
export class ConnectCommand implements MhCommand {
  private resolved = "?"

  constructor(
    readonly container: Pick,
    readonly attachment: MhAttachPick,
  ) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const joinable = (container: string): string[] => {
      const index = hostIndexOf(m.lab, container)
      const on = new Set(listedNetworksOf(m.lab, container))
      return index === undefined ? [] : attachableOn(m.lab, index).filter((n) => !on.has(n))
    }
    const fitting = containersOf(m.lab).filter((c) => joinable(c).length > 0)
    const container = pickFrom(this.container, fitting, anyContainer(m.lab))
    const network = pickFrom(this.attachment.network, joinable(container), anyNetwork(m.lab))
    const host = m.lab.hosts[hostIndexOf(m.lab, container) ?? 0]?.name ?? ""
    const attach: model.AttachRequest = attachOf(m.lab, host, container, network, this.attachment)
    this.resolved = `${container}, ${JSON.stringify(attach)}`
    runOnBoth(m, r, { kind: "connect", onModel: (lab) => model.connectLab(lab, container, attach), onLab: (lab) => lab.connect(container, attach) })
  }

  toString = () => `connect(${this.resolved})`
}
