import fc from "fast-check"
import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"
import { resolveServing, type ServingPick, servingPick } from "../serving.ts"
import { anyNetwork, type AttachPick, attachPick, bridgeNetworks, choose, freeContainerNames, type Pick, pickOf, refusedContainerNames, resolveAttach } from "../targets.ts"

/** where a new container goes: bridge networks (the usual), the host's namespace, none, or Docker's default */
export type ContainerMode = "networks" | "host" | "none" | "default"

export interface ContainerSpec {
  readonly name: Pick
  readonly mode: ContainerMode
  readonly attachments: ReadonlyArray<AttachPick>
  /** what it serves and publishes (serving.ts) */
  readonly serving: ServingPick
}

/** `refusals`: also `-p` and `listen` specs Docker refuses */
export const containerSpec = (fitWeight: number, refusals = true): fc.Arbitrary<ContainerSpec> =>
  fc.record({
    name: pickOf(fitWeight),
    mode: fc.oneof(
      { weight: 30, arbitrary: fc.constant("networks" as const) },
      { weight: 1, arbitrary: fc.constant("host" as const) },
      { weight: 1, arbitrary: fc.constant("none" as const) },
      { weight: 1, arbitrary: fc.constant("default" as const) },
    ),
    attachments: fc.array(attachPick(fitWeight), { minLength: 1, maxLength: 3 }),
    serving: servingPick(refusals),
  })

/** the request a spec stands for in this state (a lab of one host) */
export const resolveContainer = (lab: model.LabState, spec: ContainerSpec): model.LabContainerRequest => {
  const state = lab.hostStates[0] as model.CnmState
  const name = choose(spec.name, freeContainerNames(state), refusedContainerNames(state))
  const networks: model.AttachRequest[] = []
  if (spec.mode === "host" || spec.mode === "none") networks.push({ network: spec.mode })
  if (spec.mode === "networks") {
    for (const attachment of spec.attachments) {
      // fitting: a bridge network not chosen yet for this container
      const fitting = bridgeNetworks(state).filter((n) => !networks.some((chosen) => chosen.network === n))
      networks.push(resolveAttach(state, name, choose(attachment.network, fitting, anyNetwork(state)), attachment))
    }
  }
  return { name, networks, ...resolveServing(spec.serving) }
}

export class CreateContainerCommand implements LabCommand {
  private request: model.LabContainerRequest | undefined

  constructor(readonly spec: ContainerSpec) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const request = (this.request = resolveContainer(m.lab, this.spec))
    runBoth(m, r, "createContainer", (l) => model.createLabContainer(l, request), (lab) => lab.createContainer(request))
  }

  toString = () => `createContainer(${this.request === undefined ? "?" : JSON.stringify(this.request)})`
}
