import * as model from "../../../model/index.ts"
import { resolverNetworks } from "../../../model/lab-resolve.ts"
import { buildTopology } from "../../../model/lab-topology.ts"
import type { ConnectionKind } from "./coverage.ts"

/** the machine beyond the hosts (controller/Lab.ts's outside), from which the routing mesh's ports are asked */
export const mhOutside = "203.0.113.1/24"

/** what a service's tasks serve (CreateServiceCommand's listen), in turn */
const servedPorts = [
  { port: 80, proto: "tcp" },
  { port: 53, proto: "udp" },
] as const

export interface MhConnection {
  readonly kind: ConnectionKind
  readonly question: model.ConnectQuestion
}

/**
 * The connections one check makes to the lab's services, from the asker's world and from beyond
 * the hosts, so that over a sequence each kind of path comes up (the asker and the port take turns
 * with the check's number):
 * - the asker to each service it shares a network with, by name (`svc`: the VIP, balanced over the
 *   tasks and seen from the asker's host's load-balancer address; in dnsrr mode a task's address),
 *   by `tasks.svc`, and to the VIP of one of the shared networks by address;
 * - the outside machine to every port the routing mesh publishes, at every host's address;
 * - one host, turning, to every such port at the next host's address (the port through another
 *   host's ingress sandbox) and at its own (DNAT in OUTPUT).
 * None while a container holds a host's address (underlayClash): every path between hosts crosses the underlay.
 */
export const mhConnectionQuestions = (lab: model.LabState, asker: string | undefined, turn: number): Array<MhConnection> => {
  const connections: Array<MhConnection> = []
  if (underlayClash(lab)) return connections
  const served = servedPorts[turn % servedPorts.length] as (typeof servedPorts)[number]
  const networks = asker === undefined ? [] : resolverNetworks(lab, asker)
  for (const service of model.labServices(lab)) {
    const shared = networks.filter((network) => service.networks.includes(network))
    if (asker !== undefined && shared.length > 0) {
      connections.push({ kind: "name", question: { from: asker, to: { kind: "name", name: service.name }, ...served } })
      connections.push({ kind: "tasks", question: { from: asker, to: { kind: "name", name: `tasks.${service.name}` }, ...served } })
      const vip = service.vips[shared[turn % shared.length] as string]
      if (vip !== undefined) connections.push({ kind: "vip", question: { from: asker, to: { kind: "address", address: vip }, ...served } })
    }
    const hosts = lab.hosts
    const from = hosts[turn % hosts.length] as model.LabHost
    for (const binding of service.ports) {
      if (binding.proto === "sctp") continue
      const host = hosts[binding.host] as model.LabHost
      const asked = { port: binding.hostPort, proto: binding.proto }
      connections.push({ kind: "mesh-outside", question: { from: model.outsideParty, to: { kind: "hostPort", host: host.name }, ...asked } })
      const next = hosts[(turn + 1) % hosts.length] as model.LabHost
      if (host.name === next.name || host.name === from.name) {
        connections.push({ kind: "mesh-host", question: { from: from.name, to: { kind: "address", address: host.address }, ...asked } })
      }
    }
  }
  return connections
}

/** where a question goes: the address the model resolves it to (a name the asker cannot resolve goes nowhere) */
export const addressOf = (question: model.ConnectQuestion, predicted: model.ConnectPrediction, lab: model.LabState): string | undefined =>
  predicted.address ??
  (question.to.kind === "address" ? question.to.address : question.to.kind === "hostPort" ? lab.hosts.find((h) => h.name === (question.to as { host: string }).host)?.address : undefined)

/**
 * A container of a macvlan or ipvlan network on the underlay that holds a host's address (IPAM
 * knows nothing of the hosts): which of the two answers ARP for it is a race, as for probes
 * (reachFrom's undefined): for a host's own ARP too (an ipvlan l2 child shares its parent's MAC
 * and takes the replies addressed to its IP), so the vxlan between hosts may go nowhere. And a
 * host whose eth0 a passthru macvlan child holds hears nothing from the underlay.
 */
export const underlayClash = (lab: model.LabState): boolean => {
  const hosts = new Set(lab.hosts.map((host) => host.address))
  if (model.labEndpoints(lab).some((endpoint) => endpoint.address !== undefined && hosts.has(model.stripPrefix(endpoint.address)))) return true
  // a passthru macvlan child on a host's eth0 takes all that arrives there (lab-topology's underlayTaken), which predictConnect does not know
  return buildTopology(lab).underlayTaken.some((taken) => taken)
}
