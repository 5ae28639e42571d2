/**
 * The embedded DNS's names for swarm services, as libnetwork registers them when a task's endpoint
 * joins the cluster (service_common.go addServiceInfoToCluster → addServiceBinding, v20.10):
 * `<service>` answers the service's VIP on each of its networks (vip mode) or every task's address
 * there (dnsrr: the binding is made with the task's own IP when the service has no VIP), and
 * `tasks.<service>` answers every task's address. The `ingress` network gets no records. Every host's
 * resolver holds them (swarm tasks' records travel through NetworkDB to every node).
 */
import type { DnsEntry } from "../backends/kernel-types.ts"
import { DnsPlan } from "./dns-plan.ts"
import type { ResolverPlan } from "./transaction.ts"
import { ingressNetwork } from "../model/lab-store.ts"
import type { LabState } from "../model/lab-types.ts"
import { replicaAddresses } from "../model/services.ts"
import * as StringMap from "../model/string-map.ts"

export const tasksName = (service: string): string => `tasks.${service}`

/** every service name record of a lab state */
export const serviceDnsEntries = (lab: LabState): Array<DnsEntry> => {
  const entries: Array<DnsEntry> = []
  for (const service of StringMap.values(lab.services)) {
    for (const network of service.networks) {
      if (network === ingressNetwork) continue
      const vip = service.endpointMode === "vip" ? service.vips[network] : undefined
      if (vip !== undefined) entries.push({ network, names: [service.name], address: vip })
      const names = vip === undefined ? [service.name, tasksName(service.name)] : [tasksName(service.name)]
      for (const { address } of replicaAddresses(lab, service, network)) entries.push({ network, names, address })
    }
  }
  return entries
}

const keyOf = (entry: DnsEntry): string => `${entry.network}\u0000${entry.names.join(",")}\u0000${entry.address}`

/** the service records a change from `before` to `after` removes and adds (undefined: none) */
export const serviceDnsChange = (before: LabState, after: LabState): { readonly add: Array<DnsEntry>; readonly remove: Array<DnsEntry> } | undefined => {
  if (before.services === after.services) return undefined
  const was = serviceDnsEntries(before)
  const is = serviceDnsEntries(after)
  const wasKeys = new Set(was.map(keyOf))
  const isKeys = new Set(is.map(keyOf))
  const remove = was.filter((entry) => !isKeys.has(keyOf(entry)))
  const add = is.filter((entry) => !wasKeys.has(keyOf(entry)))
  return remove.length === 0 && add.length === 0 ? undefined : { add, remove }
}

/**
 * The resolvers' plans with the service records merged in: every host's resolver gets the same
 * change (a host whose plan had nothing gets one of its own).
 */
export const withServiceDns = (resolvers: ReadonlyArray<string>, plans: ReadonlyArray<ResolverPlan>, before: LabState, after: LabState): ReadonlyArray<ResolverPlan> => {
  const change = serviceDnsChange(before, after)
  if (change === undefined) return plans
  const names = new DnsPlan(undefined, undefined, undefined, change.add, change.remove)
  return resolvers.map((resolver) => {
    const own = plans.find((plan) => plan.resolver === resolver)
    return { resolver, plan: own === undefined ? names : DnsPlan.merge([own.plan, names]) }
  })
}
