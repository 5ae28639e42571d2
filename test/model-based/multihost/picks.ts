import fc from "fast-check"
import * as model from "../../../model/index.ts"
import { hostState } from "../../../model/lab-store.ts"
import { networkRecord } from "../../../model/representation.ts"
import { choose, type Pick } from "../targets.ts"

/**
 * What the multi-host commands name, and how a pick (../targets.ts) resolves against a LabState:
 * a fitting pick among what can succeed, any other among every name of the pools, existing or
 * not, so that the refusals of several hosts keep coming up (a network on another host only,
 * `ingress`, a host that does not exist).
 */
export const networkPool = ["n0", "n1", "n2", "n3", "n4", "n5"] as const
export const containerPool = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"] as const
export const hostPool = ["host1", "host2", "host3"] as const
/** service names: none a container's or an alias's */
export const servicePool = ["api", "db", "web"] as const
/** a host no lab has */
export const ghostHost = "ghost"
/** aliases several containers share, across hosts */
export const sharedAlias = "svc"
export const ownAlias = (container: string): string => `${container}-a`

export const hostNames = (lab: model.LabState): string[] => lab.hosts.map((host) => host.name)

/** every service's replicas: swarm's tasks, which the container commands leave alone (`docker rm` of a task is swarm's to undo) */
export const tasksOf = (lab: model.LabState): Set<string> => new Set(model.labServices(lab).flatMap((service) => service.replicas))

/** the lab's containers the container commands name: not the services' tasks */
export const containersOf = (lab: model.LabState): string[] => {
  const tasks = tasksOf(lab)
  return model
    .labContainers(lab)
    .map((row) => row.container.name)
    .filter((name) => !tasks.has(name))
}

/** every network name on any host (each once) */
export const networkNames = (lab: model.LabState): string[] => [...new Set(model.labNetworks(lab).map((row) => row.network.name))]

export const freeNetworkNames = (lab: model.LabState): string[] => {
  const taken = new Set(networkNames(lab))
  return networkPool.filter((name) => !taken.has(name))
}

export const freeContainerNames = (lab: model.LabState): string[] => {
  const taken = new Set(containersOf(lab))
  return containerPool.filter((name) => !taken.has(name))
}

export const anyNetwork = (lab: model.LabState): string[] => [...new Set([...networkPool, "bridge", "ingress", "docker_gwbridge", ...networkNames(lab)])]

export const anyContainer = (lab: model.LabState): string[] => [...new Set([...containerPool, ...containersOf(lab)])]

export const hostIndexOf = (lab: model.LabState, container: string): number | undefined => {
  const host = model.hostOf(lab, container)
  return host === undefined ? undefined : lab.hosts.findIndex((candidate) => candidate.name === host)
}

/** the networks a container on host `index` can be attached to: user and default bridges, swarm and vlan networks there; not ingress, not the gateway bridge */
export const attachableOn = (lab: model.LabState, index: number): string[] => {
  const state = hostState(lab, index)
  return model
    .labNetworks(lab)
    .filter((row) => (row.scope === "swarm" || row.host === lab.hosts[index]?.name) && networkRecord(state, row.network.name) !== undefined)
    .map((row) => row.network)
    .filter((network) => network.name !== "ingress" && network.name !== "docker_gwbridge" && network.driver !== "host" && network.driver !== "null")
    .map((network) => network.name)
}

/** the networks a container lists (no gateway leg) */
export const listedNetworksOf = (lab: model.LabState, container: string): string[] => model.labEndpointsOf(lab, container).map((e) => e.network)

/** the aliases an attachment asks for: none, the shared one, its own, both */
export const aliasesFor = (container: string, k: number): ReadonlyArray<string> =>
  ([[], [], [sharedAlias], [ownAlias(container)], [sharedAlias, ownAlias(container)]] as const)[k % 5] as ReadonlyArray<string>

export const pickFrom = <T>(pick: Pick, fitting: ReadonlyArray<T>, all: ReadonlyArray<T>): T => choose(pick, fitting, all)

export const servicesOf = (lab: model.LabState): string[] => model.labServices(lab).map((service) => service.name)

export const freeServiceNames = (lab: model.LabState): string[] => {
  const taken = new Set(servicesOf(lab))
  return servicePool.filter((name) => !taken.has(name))
}

export const anyService = (lab: model.LabState): string[] => [...new Set([...servicePool, ...servicesOf(lab)])]

/** the networks a service can be on: the swarm's own (overlay), not ingress */
export const serviceNetworks = (lab: model.LabState): string[] =>
  [...new Set(model.labNetworks(lab).filter((row) => row.scope === "swarm" && row.network.name !== "ingress").map((row) => row.network.name))]

/** one of the values, each as often as its weight (a weight of 0 leaves it out) */
export const weighted = <T>(...choices: ReadonlyArray<readonly [number, T]>): fc.Arbitrary<T> =>
  fc.oneof(...choices.filter(([weight]) => weight > 0).map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })))
