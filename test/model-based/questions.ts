import * as model from "../../model/index.ts"
import type { QuestionKind } from "./coverage.ts"
import { containerPool, ownAlias, sharedAliases } from "./targets.ts"

export interface Question {
  readonly from: string
  readonly name: string
  readonly kind: QuestionKind
}

const userNetworks = (state: model.CnmState): string[] => model.networks(state).flatMap((n) => (n.predefined ? [] : [n.name]))

/**
 * The DNS questions container `from` asks: every container's name (one of them in capitals, one
 * with a trailing dot), every alias in use (several containers share some), `name.network` and
 * `alias.network` on each of the asker's user networks, and names that must not resolve, one of
 * each kind: a pool name of a container that does not exist, an alias nobody holds, the asker and
 * another container on a network they are not on, a network's name. What each should answer is the model's prediction (predictResolve); the kind
 * only says what the question is meant to exercise (a must-not-resolve question the model would
 * answer is a mistake of this list).
 */
export const questionsFrom = (state: model.CnmState, from: string): Question[] => {
  const containers = model.containers(state).map((c) => c.name)
  const endpoints = model.endpoints(state).filter((e) => e.address !== undefined && model.network(state, e.network)?.predefined === false)
  const aliases = [...new Set(endpoints.flatMap((e) => e.aliases))].sort()
  const questions: Question[] = []
  const ask = (kind: QuestionKind, name: string) => questions.push({ from, name, kind })
  containers.forEach((name, i) => ask("container", i === 0 ? name.toUpperCase() : i === 1 ? `${name}.` : name))
  aliases.forEach((alias, i) => ask("alias", i === 0 ? alias.toUpperCase() : alias))
  // on each of the asker's own networks (elsewhere they must not resolve: asked below), one
  // container of it by name.network (another one than the asker when there is one), and one alias
  for (const network of new Set(model.endpointsOf(state, from).map((e) => e.network))) {
    const on = endpoints.filter((e) => e.network === network)
    const named = on.find((e) => e.container !== from) ?? on[0]
    if (named !== undefined) ask("name.network", `${named.container}.${network}`)
    const aliased = on.find((e) => e.aliases.length > 0)
    if (aliased !== undefined) ask("name.network", `${aliased.aliases[aliased.aliases.length - 1]}.${network}`)
  }
  // one of each kind of name that must not resolve (a few of them: the list is asked after every command)
  const missing = containerPool.find((name) => !containers.includes(name))
  if (missing !== undefined) ask("must-not-resolve", missing)
  const unheld = [...sharedAliases, ...containers.map(ownAlias)].find((alias) => !aliases.includes(alias))
  if (unheld !== undefined) ask("must-not-resolve", unheld)
  const networks = userNetworks(state)
  for (const container of [from, ...containers.filter((c) => c !== from).slice(0, 1)]) {
    const on = new Set(model.endpointsOf(state, container).map((e) => e.network))
    const elsewhere = networks.find((n) => !on.has(n))
    if (elsewhere !== undefined) ask("must-not-resolve", `${container}.${elsewhere}`)
  }
  if (networks[0] !== undefined) ask("must-not-resolve", networks[0])
  return questions
}
