import * as model from "../../../model/index.ts"
import { containerPool, ownAlias, sharedAlias } from "./picks.ts"

/**
 * The names a container asks its resolver in a multi-host lab: every container's name (on any
 * host: a swarm network knows them all, a local one only its own host's), one in capitals, the
 * shared alias and every container's own alias, `name.network` for every listed endpoint (on the
 * asker's networks and elsewhere), a pool name nobody holds. What each should answer is
 * predictLabResolve's.
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
  return [...names]
}
