import * as model from "../../../model/index.ts"
import { containerPool, ownAlias, servicePool, sharedAlias } from "./picks.ts"

/**
 * The names a container asks its resolver in a multi-host lab: every container's name (on any
 * host: a swarm network knows them all, a local one only its own host's), one in capitals, the
 * shared alias and every container's own alias, `name.network` for every listed endpoint (on the
 * asker's networks and elsewhere), a pool name nobody holds, and the services' names
 * (mhServiceQuestions). What each should answer is predictServiceResolve's (predictLabResolve's
 * for any name that is no service's).
 */
export const mhQuestions = (lab: model.LabState, asker: string): string[] => {
  const containers = model.labContainers(lab).map((row) => row.container.name)
  const names = new Set<string>()
  containers.forEach((name, i) => names.add(i === 0 ? name.toUpperCase() : name))
  names.add(sharedAlias)
  for (const name of containers) names.add(ownAlias(name))
  for (const endpoint of model.labEndpoints(lab)) if (endpoint.container !== asker) names.add(`${endpoint.container}.${endpoint.network}`)
  const missing = containerPool.find((name) => !containers.includes(name))
  if (missing !== undefined) names.add(missing)
  for (const name of mhServiceQuestions(lab)) names.add(name)
  return [...names]
}

/**
 * Every service's `svc` (its VIP, or every task's address in dnsrr mode), `tasks.svc` (every
 * task's address) and `svc.network` for each network it is on (libnetwork's resolver takes the
 * network's name off and asks that network's records), a pool service nobody runs.
 */
export const mhServiceQuestions = (lab: model.LabState): string[] => {
  const services = model.labServices(lab)
  const names: string[] = []
  for (const service of services) {
    names.push(service.name, `tasks.${service.name}`)
    for (const network of service.networks) names.push(`${service.name}.${network}`)
  }
  const missing = servicePool.find((name) => !services.some((service) => service.name === name))
  if (missing !== undefined && services.length > 0) names.push(missing, `tasks.${missing}`)
  return names
}
