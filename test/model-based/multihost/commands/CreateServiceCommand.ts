import fc from "fast-check"
import * as model from "../../../../model/index.ts"
import { type Pick, pickOf } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { anyNetwork, anyService, freeServiceNames, ghostHost, hostNames, pickFrom, weighted, serviceNetworks, servicesOf } from "../picks.ts"

/**
 * What a service's tasks serve, and the ports it publishes in ingress mode: one fixed host port
 * per protocol, so that two services meet (PortInUse); an unnumbered one takes swarm's dynamic range; the
 * refused ones are a spec Docker's CLI refuses and a host address (the routing mesh publishes on
 * every address). dnsrr with any published port is refused too (InvalidPort).
 */
export const serviceListen = ["80/tcp", "53/udp"] as const
export const servicePorts = {
  fixed: "8080:80/tcp",
  udp: "5353:53/udp",
  dynamic: "80/tcp",
  refused: (k: number) => (k % 2 === 0 ? "99999:80" : "127.0.0.1:8080:80"),
} as const

export type ServicePorts = "none" | "fixed" | "udp" | "dynamic" | "refused"

export interface MhServiceSpec {
  readonly name: Pick
  /** one or two of the swarm's networks (a pick that does not fit names any network: local, ingress, none at all) */
  readonly networks: ReadonlyArray<Pick>
  readonly endpointMode: model.EndpointMode
  /** the host of each replica, in order: none to three */
  readonly placement: ReadonlyArray<Pick>
  readonly ports: ServicePorts
  readonly portPick: number
  /** the tasks serve serviceListen (else nothing: the balancer meets refusals) */
  readonly listens: boolean
}

export const mhServiceSpec = (fit: number): fc.Arbitrary<MhServiceSpec> =>
  fc.record({
    name: pickOf(fit),
    networks: fc.array(pickOf(fit), { minLength: 1, maxLength: 2 }),
    endpointMode: weighted<model.EndpointMode>([3, "vip"], [1, "dnsrr"]),
    placement: fc.array(pickOf(fit), { minLength: 0, maxLength: 3 }),
    ports: weighted<ServicePorts>([6, "none"], [3, "fixed"], [1, "udp"], [1, "dynamic"], [1, "refused"]),
    portPick: fc.nat({ max: 7 }),
    listens: weighted([6, true], [1, false]),
  })

const portsOf = (spec: MhServiceSpec): ReadonlyArray<string> => {
  // dnsrr publishes nothing in ingress mode: asked one time in four (InvalidPort), so that most dnsrr services run
  if (spec.endpointMode === "dnsrr" && spec.portPick % 4 !== 0) return []
  switch (spec.ports) {
    case "none":
      return []
    case "fixed":
      return [servicePorts.fixed]
    case "udp":
      return [servicePorts.udp]
    case "dynamic":
      return [servicePorts.dynamic]
    case "refused":
      return [servicePorts.refused(spec.portPick)]
  }
}

/** the request a spec stands for: a free name, swarm networks, hosts of the lab (most picks) */
export const resolveService = (lab: model.LabState, spec: MhServiceSpec): model.ServiceRequest => {
  const name = pickFrom(spec.name, freeServiceNames(lab), [...servicesOf(lab), ...anyService(lab)])
  const networks: string[] = []
  for (const pick of spec.networks) {
    const fitting = serviceNetworks(lab).filter((network) => !networks.includes(network))
    // a second network where none is left to fit: one network (else most services with two would be refused)
    if (pick.fit && fitting.length === 0 && networks.length > 0) break
    const network = pickFrom(pick, fitting, anyNetwork(lab))
    if (!networks.includes(network)) networks.push(network)
  }
  const hosts = hostNames(lab)
  const placement = spec.placement.map((pick) => pickFrom(pick, hosts, [...hosts, ghostHost]))
  const ports = portsOf(spec)
  return {
    name,
    networks,
    placement,
    endpointMode: spec.endpointMode,
    ...(spec.listens ? { listen: [...serviceListen] } : {}),
    ...(ports.length > 0 ? { ports } : {}),
  }
}

/** `docker service create` with a placement per replica */
export class CreateServiceCommand implements MhCommand {
  private request: model.ServiceRequest | undefined

  constructor(readonly spec: MhServiceSpec) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const request = (this.request = resolveService(m.lab, this.spec))
    runOnBoth(m, r, {
      kind: "createService",
      onModel: (lab) => {
        const outcome = model.createLabService(lab, request)
        if (outcome.ok) r.coverage?.serviceMade(request)
        return outcome
      },
      onLab: (lab) => lab.createService(request),
    })
  }

  toString = () => `createService(${this.request === undefined ? "?" : JSON.stringify(this.request)})`
}
