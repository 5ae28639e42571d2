/**
 * The routing mesh's part on each host (libnetwork 20.10 service_linux.go programIngress;
 * cnm-libnetwork.md §8.3): every port a service publishes in ingress mode is DNATed from every
 * address of every host to the host's ingress sandbox on `docker_gwbridge`, and forwarded there.
 * Docker writes that as its DOCKER-INGRESS chains; here it is the bridge driver's own rules for a
 * port published on `docker_gwbridge` towards the ingress sandbox's address, with the port
 * unchanged (the DNAT, the FORWARD accept into the bridge), which is what DOCKER-INGRESS does for
 * connections arriving from beyond the bridge. No docker-proxy: libnetwork only holds the port
 * open (plumbProxy) and never answers on it. The ingress sandbox spreads the connections over the
 * tasks (service-lb.ts).
 */
import type { KernelOp } from "../backends/kernel-types.ts"
import type { PublishedPort, Step } from "../drivers/Driver.ts"
import { bridgeFirewall } from "../drivers/bridge/firewall.ts"
import { stripPrefix } from "../model/cidr.ts"
import * as model from "../model/index.ts"
import { gatewayBridgeNetwork, hostState, ingressSandbox } from "../model/lab-store.ts"
import type { LabState } from "../model/lab-types.ts"
import { containerRecord } from "../model/representation.ts"
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
      ports.push({ network: gatewayBridgeNetwork, hostIp: "", hostPort: binding.hostPort, proto: binding.proto, containerAddress: stripPrefix(sandbox), containerPort: binding.hostPort })
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

const firewallOps = (lab: LabState, host: number, ns: string): Array<KernelOp> =>
  bridgeFirewall(model.networks(hostState(lab, host)), firewallPublishedOn(lab, host)).map((table) => ({ op: "firewallSet", ns, table }) as const)

/** the bridge rules rewritten on each host whose mesh ports the change alters (a service's ports come and go without any endpoint joining) */
export const meshSteps = (hosts: ReadonlyArray<{ readonly index: number; readonly ns: string }>, before: LabState, after: LabState): Array<Step> => {
  if (before.services === after.services) return []
  const steps: Array<Step> = []
  for (const host of hosts) {
    if (samePorts(meshPublishedOn(before, host.index), meshPublishedOn(after, host.index))) continue
    steps.push({ name: "service.mesh", do: firewallOps(after, host.index, host.ns), undo: firewallOps(before, host.index, host.ns) })
  }
  return steps
}
