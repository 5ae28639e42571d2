import fc from "fast-check"
import * as model from "../../../../model/index.ts"
import { type Pick, pickOf } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { aliasesFor, anyNetwork, attachableOn, freeContainerNames, ghostHost, hostNames, pickFrom, containersOf } from "../picks.ts"

export interface MhAttachPick {
  readonly network: Pick
  readonly aliases: number
  /**
   * a static address (`--ip`): the network subnet's .200 + 8 × the host's index + this; two alike on a host meet
   * (AddressInUse, on an overlay across hosts too), IPAM's own subnets refuse it. Per host, so that static addresses
   * make no macvlan MAC twins across hosts: the simulator does not learn the sender of an ARP request addressed to
   * it (Linux's neigh_event_ns) and asks again, which twins answer both (a finding left to the simulator's owner)
   */
  readonly ip: number | undefined
}

export const mhAttachPick = (fit: number): fc.Arbitrary<MhAttachPick> =>
  fc.record({
    network: pickOf(fit),
    aliases: fc.nat({ max: 4 }),
    ip: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat({ max: 5 }) }),
  })

/** the attach a pick stands for on `network`: its aliases and, when picked, a static address in the network's subnet on that host */
export const attachOf = (lab: model.LabState, host: string, container: string, network: string, pick: MhAttachPick): model.AttachRequest => {
  const aliases = network === "bridge" ? [] : aliasesFor(container, pick.aliases)
  const chosen = pick.ip === undefined ? undefined : model.labNetwork(lab, host, network)
  // on a network whose subnet IPAM chose, one pick in three asks anyway (StaticAddressNeedsSubnet)
  const subnet = chosen === undefined || (!chosen.userSubnet && (pick.ip ?? 0) % 3 !== 0) ? undefined : chosen.subnet
  const block = subnet === undefined ? undefined : model.parseCidr(subnet)
  // a /24 or wider: .200 and up is inside it, above the hosts' and IPAM's first addresses
  const offset = 200 + 8 * Math.max(0, lab.hosts.findIndex((h) => h.name === host)) + (pick.ip ?? 0)
  const ip = pick.ip === undefined || block === undefined || block.prefix > 24 ? undefined : model.formatIPv4(block.base + offset)
  return { network, ...(aliases.length > 0 ? { aliases } : {}), ...(ip === undefined ? {} : { ip }) }
}

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
    networks.push(attachOf(lab, host, name, network, attachment))
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
