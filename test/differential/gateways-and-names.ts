import { Effect } from "effect"
import type { DnsQueryResult } from "../../backends/kernel-types.ts"
import type { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { type Question, questionsFrom } from "../model-based/questions.ts"
import type { TwinLab } from "./twin-lab.ts"

/**
 * What the differential compares beyond compareMeasurements (twin-lab.ts): every container's
 * probe of every bridge network's gateway, and the DNS questions of the model-based tests
 * (../model-based/questions.ts: aliases in capitals, `name.network` and `alias.network`, names
 * that must not resolve) from every container. Each is measured once on each backend; the counts
 * say how much was compared.
 */
export interface Compared {
  readonly lines: ReadonlyArray<string>
  readonly probes: number
  readonly questions: number
}

const answerText = (answer: DnsQueryResult): string => `${answer.rcode} [${[...answer.addresses].sort().join(", ")}]`

interface GatewayProbe {
  readonly from: string
  readonly network: string
  readonly address: string
}

const gatewayProbes = (lab: Lab): GatewayProbe[] => {
  const gateways = lab.networks().flatMap((n) => (n.driver === "bridge" && n.gateway !== undefined ? [{ network: n.name, address: n.gateway }] : []))
  return lab.containers().flatMap((from) => gateways.map((g) => ({ from, ...g })))
}

/**
 * The questions not already asked by compareMeasurements: every kind but plain container names.
 * A container without a resolver (on no user network) asks one: every question it asks goes
 * unanswered, on linux only once the whole timeout is over.
 */
const extraQuestions = (lab: Lab): Question[] => {
  const state = (lab.controllers[0] as (typeof lab.controllers)[number]).state
  return lab.containers().flatMap((from) => {
    const questions = questionsFrom(state, from).filter((q) => q.kind !== "container" || q.name !== q.name.toLowerCase() || q.name.endsWith("."))
    const resolver = model.endpointsOf(state, from).some((e) => model.network(state, e.network)?.predefined === false)
    return resolver ? questions : questions.slice(0, 1)
  })
}

export const compareGatewaysAndNames = async (twin: TwinLab, options: { readonly concurrency: number }): Promise<Compared> => {
  const probes = gatewayProbes(twin.sim)
  const probe = (lab: Lab) => (p: GatewayProbe) => lab.probe(p.from, p.address).pipe(Effect.map((r) => r.reachable))
  const simReach = Effect.runSync(Effect.forEach(probes, probe(twin.sim)))
  const linuxReach = await Effect.runPromise(Effect.forEach(probes, probe(twin.linux), options))
  const lines: string[] = []
  probes.forEach((p, i) => {
    if (simReach[i] !== linuxReach[i]) lines.push(`gateway ${p.from} → ${p.address} (${p.network}): sim ${simReach[i]} / linux ${linuxReach[i]}`)
  })
  const questions = extraQuestions(twin.sim)
  const ask = (lab: Lab) => (q: Question) => lab.resolve(q.from, q.name).pipe(Effect.map(answerText))
  const simAnswers = Effect.runSync(Effect.forEach(questions, ask(twin.sim)))
  const linuxAnswers = await Effect.runPromise(Effect.forEach(questions, ask(twin.linux), options))
  questions.forEach((q, i) => {
    if (simAnswers[i] !== linuxAnswers[i]) lines.push(`dns ${q.from} asks "${q.name}" (${q.kind}): sim ${simAnswers[i]} / linux ${linuxAnswers[i]}`)
  })
  return { lines, probes: probes.length, questions: questions.length }
}
