import fc from "fast-check"
import * as model from "../../../../model/index.ts"
import { type Pick, pickOf } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { aliasesFor, anyNetwork, attachableOn, freeContainerNames, ghostHost, hostNames, pickFrom, containersOf } from "../picks.ts"

export interface MhAttachPick {
  readonly network: Pick
  readonly aliases: number
}

export const mhAttachPick = (fit: number): fc.Arbitrary<MhAttachPick> => fc.record({ network: pickOf(fit), aliases: fc.nat({ max: 4 }) })

export interface MhContainerSpec {
  readonly name: Pick
  readonly host: Pick
  /** empty: Docker's default network */
  readonly attachments: ReadonlyArray<MhAttachPick>
}

export const mhContainerSpec = (fit: number): fc.Arbitrary<MhContainerSpec> =>
  fc.record({
    name: pickOf(fit),
    host: pickOf(fit),
    attachments: fc.oneof({ weight: 12, arbitrary: fc.array(mhAttachPick(fit), { minLength: 1, maxLength: 2 }) }, { weight: 1, arbitrary: fc.constant([]) }),
  })

/** the request a spec stands for: a free name, one of the lab's hosts, networks there (most picks) */
export const resolveContainer = (lab: model.LabState, spec: MhContainerSpec): model.LabContainerRequest => {
  const name = pickFrom(spec.name, freeContainerNames(lab), [...containersOf(lab), "x"])
  const hosts = hostNames(lab)
  const host = pickFrom(spec.host, hosts, [...hosts, ghostHost])
  const index = hosts.indexOf(host)
  const networks: model.AttachRequest[] = []
  for (const attachment of spec.attachments) {
    const fitting = (index < 0 ? [] : attachableOn(lab, index)).filter((n) => !networks.some((chosen) => chosen.network === n))
    const network = pickFrom(attachment.network, fitting, anyNetwork(lab))
    const aliases = aliasesFor(name, attachment.aliases)
    networks.push({ network, ...(aliases.length > 0 && network !== "bridge" ? { aliases } : {}) })
  }
  return { name, host, networks }
}

export class CreateContainerCommand implements MhCommand {
  private request: model.LabContainerRequest | undefined

  constructor(readonly spec: MhContainerSpec) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const request = (this.request = resolveContainer(m.lab, this.spec))
    runOnBoth(m, r, {
      kind: "createContainer",
      onModel: (lab) => model.createLabContainer(lab, request),
      onLab: (lab) => lab.createContainer(request),
    })
  }

  toString = () => `createContainer(${this.request === undefined ? "?" : JSON.stringify(this.request)})`
}
