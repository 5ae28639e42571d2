import * as model from "../../../../model/index.ts"
import type { Pick } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { anyNetwork, ghostHost, hostNames, pickFrom } from "../picks.ts"

/**
 * `docker network rm`, with `host` now and then: a fitting pick removes a user network nobody
 * listed is on (on one host holding it, or everywhere); the others name any network, one in use
 * on another host (ActiveEndpoints), a swarm network with a host (InvalidOption), a host the lab
 * does not have.
 */
export class RemoveNetworkCommand implements MhCommand {
  private resolved = "?"

  constructor(
    readonly network: Pick,
    /** with a host: the k-th of the hosts holding it (a fitting pick), or any name (otherwise) */
    readonly host: Pick | undefined,
  ) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const rows = model.labNetworks(m.lab).filter((row) => !row.network.predefined && row.network.name !== "docker_gwbridge")
    const used = new Set(model.labEndpoints(m.lab).map((e) => `${e.network}@${e.host}`))
    const emptyEverywhere = rows.filter((row) => !model.labEndpoints(m.lab).some((e) => e.network === row.network.name))
    const wanted = this.host === undefined ? emptyEverywhere : rows.filter((row) => row.scope === "local" && !used.has(`${row.network.name}@${row.host}`))
    const name = pickFrom(this.network, [...new Set(wanted.map((row) => row.network.name))], anyNetwork(m.lab))
    let host: string | undefined
    if (this.host !== undefined) {
      const holders = rows.filter((row) => row.network.name === name && row.host !== undefined).map((row) => row.host as string)
      host = pickFrom(this.host, holders, [...hostNames(m.lab), ghostHost])
    }
    this.resolved = host === undefined ? name : `${name}, ${host}`
    runOnBoth(m, r, {
      kind: "removeNetwork",
      onModel: (lab) => {
        const outcome = model.removeLabNetwork(lab, name, host)
        // refused for a service alone: no endpoint on it anywhere
        if (!outcome.ok && outcome.error.code === "ActiveEndpoints" && !model.labEndpoints(lab).some((e) => e.network === name)) r.coverage?.inUseByService()
        return outcome
      },
      onLab: (lab) => lab.removeNetwork(name, host),
    })
  }

  toString = () => `removeNetwork(${this.resolved})`
}
