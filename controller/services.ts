/**
 * What a service change touches on each host: the tasks it starts, moves or stops, each on the
 * host it runs on (before the change for a task that goes, after it for one that comes). The
 * controller builds and takes down tasks as containers (model/services.ts decides them); the
 * service's names and load balancing are service-dns.ts's and service-lb.ts's.
 */
import { removeLabContainer } from "../model/lab-container-ops.ts"
import { labWith } from "../model/lab-store.ts"
import type { LabState } from "../model/lab-types.ts"
import * as StringMap from "../model/string-map.ts"

export interface TouchedTask {
  readonly name: string
  /** the host's name */
  readonly host: string
}

const replicasOf = (lab: LabState): Map<string, string> => {
  const tasks = new Map<string, string>()
  for (const service of StringMap.values(lab.services)) {
    for (const replica of service.replicas) {
      const index = StringMap.get(lab.placement, replica)
      const host = index === undefined ? undefined : lab.hosts[index]?.name
      if (host !== undefined) tasks.set(replica, host)
    }
  }
  return tasks
}

/** the tasks whose host (or existence) differs between the two states, and those of services that changed */
export const tasksTouched = (before: LabState, after: LabState): ReadonlyArray<TouchedTask> => {
  if (before.services === after.services) return []
  const was = replicasOf(before)
  const is = replicasOf(after)
  const touched: Array<TouchedTask> = []
  for (const [name, host] of was) {
    const now = is.get(name)
    touched.push({ name, host })
    if (now !== undefined && now !== host) touched.push({ name, host: now })
  }
  for (const [name, host] of is) if (!was.has(name)) touched.push({ name, host })
  return touched
}

/**
 * A scale that moves a task to another host keeps its name (`api.1`), and with it the name of its
 * sandbox's namespace, which is unique across the lab: the new one cannot be made before the old
 * one goes. The lab state between the two, with the moved tasks gone (their addresses back in the
 * books), for a change made in two transitions; undefined when no task moves.
 */
export const withoutMovedTasks = (before: LabState, after: LabState): LabState | undefined => {
  if (before.services === after.services) return undefined
  const is = replicasOf(after)
  const moved = [...replicasOf(before)].filter(([name, host]) => is.has(name) && is.get(name) !== host).map(([name]) => name)
  if (moved.length === 0) return undefined
  let lab = before
  for (const name of moved) {
    const removed = removeLabContainer(lab, name)
    if (!removed.ok) return undefined
    lab = removed.lab
  }
  let services = lab.services
  for (const service of StringMap.values(lab.services)) {
    const left = service.replicas.filter((replica) => !moved.includes(replica))
    if (left.length !== service.replicas.length) services = StringMap.set(services, service.name, { ...service, replicas: left })
  }
  return labWith(lab, { services })
}
