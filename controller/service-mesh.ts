/**
 * The routing mesh's part on each host (libnetwork 20.10 service_linux.go programIngress;
 * cnm-libnetwork.md §8.3): every port a service publishes in ingress mode is DNATed from every
 * address of every host (127.0.0.1 and the bridges' gateways too) to the host's ingress sandbox
 * on `docker_gwbridge`, and forwarded there ahead of the bridges' isolation. Docker writes that as
 * its DOCKER-INGRESS chains, jumped to ahead of the bridge driver's; here the bridge driver's
 * firewall holds them (drivers/bridge/firewall.ts ingressRules), since nftables cannot let one
 * table's accept overrule another's drop, for the ports marked `ingress` towards the ingress
 * sandbox's address, the port unchanged. programIngress also turns route_localnet on for
 * docker_gwbridge, so that the host's own connection to 127.0.0.1 may leave there (masqueraded)
 * and its replies come back. No docker-proxy: libnetwork only holds the port open (plumbProxy) and
 * never answers on it. The ingress sandbox spreads the connections over the tasks (service-lb.ts).
 */
import type { KernelOp } from "../backends/kernel-types.ts"
import type { PublishedPort, Step } from "../drivers/Driver.ts"
import { bridgeFirewall } from "../drivers/bridge/firewall.ts"
import { bridgeName } from "../drivers/bridge/names.ts"
import { stripPrefix } from "../model/cidr.ts"
import * as model from "../model/index.ts"
import { gatewayBridgeNetwork, hostState, ingressSandbox } from "../model/lab-store.ts"
import type { LabState } from "../model/lab-types.ts"
import { containerRecord, networkRecord } from "../model/representation.ts"
import * as StringMap from "../model/string-map.ts"
import { publishedOn } from "./sockets.ts"

/** the routing mesh's ports on host `host` (its index), as the bridge driver publishes them on docker_gwbridge */
export const meshPublishedOn = (lab: LabState, host: number): Array<PublishedPort> => {
  if (lab.services.size === 0) return []
  const sandbox = containerRecord(hostState(lab, host), ingressSandbox)?.endpoints.find((endpoint) => endpoint.network === gatewayBridgeNetwork)?.address
  if (sandbox === undefined) return []
  const ports: Array<PublishedPort> = []
  for (const service of StringMap.values(lab.services)) {
    for (const binding of service.ports) {
      if (binding.host !== host || binding.proto === "sctp") continue
      ports.push({ network: gatewayBridgeNetwork, hostIp: "", hostPort: binding.hostPort, proto: binding.proto, containerAddress: stripPrefix(sandbox), containerPort: binding.hostPort, ingress: true })
    }
  }
  return ports
}

/** every port the bridge driver's rules publish on the host: the containers' and the routing mesh's */
export const firewallPublishedOn = (lab: LabState, host: number): Array<PublishedPort> => {
  const mesh = meshPublishedOn(lab, host)
  const own = publishedOn(lab, host)
  return mesh.length === 0 ? own : [...own, ...mesh]
}

const samePorts = (a: ReadonlyArray<PublishedPort>, b: ReadonlyArray<PublishedPort>): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * route_localnet on docker_gwbridge while the host has mesh ports (programIngress writes it with
 * its first port and never takes it back; here it goes with the last port, which no connection
 * can tell apart: without a mesh port nothing DNATs a loopback address there)
 */

const firewallOps = (lab: LabState, host: number, ns: string): Array<KernelOp> =>
  bridgeFirewall(model.networks(hostState(lab, host)), firewallPublishedOn(lab, host)).map((table) => ({ op: "firewallSet", ns, table }) as const)

const localnetOps = (lab: LabState, host: number, ns: string, on: boolean): Array<KernelOp> => {
  const gwbridge = networkRecord(hostState(lab, host), gatewayBridgeNetwork)?.network
  return gwbridge === undefined ? [] : [{ op: "sysctlSet", ns, key: `net.ipv4.conf.${bridgeName(gwbridge)}.route_localnet`, value: on ? "1" : "0" }]
}

/** the bridge rules rewritten on each host whose mesh ports the change alters (a service's ports come and go without any endpoint joining) */
export const meshSteps = (hosts: ReadonlyArray<{ readonly index: number; readonly ns: string }>, before: LabState, after: LabState): Array<Step> => {
  if (before.services === after.services) return []
  const steps: Array<Step> = []
  for (const host of hosts) {
    const was = meshPublishedOn(before, host.index)
    const is = meshPublishedOn(after, host.index)
    if (samePorts(was, is)) continue
    steps.push({ name: "service.mesh", do: firewallOps(after, host.index, host.ns), undo: firewallOps(before, host.index, host.ns) })
    if ((was.length > 0) !== (is.length > 0)) steps.push({ name: "service.mesh.localnet", do: localnetOps(is.length > 0 ? after : before, host.index, host.ns, is.length > 0), undo: localnetOps(is.length > 0 ? after : before, host.index, host.ns, was.length > 0) })
  }
  return steps
}
