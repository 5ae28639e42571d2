import { Effect } from "effect"
import type { ConnectResult, DnsQueryResult } from "../../backends/kernel-types.ts"
import type { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { connectionQuestions, outsideServer } from "../model-based/connections.ts"
import { type Question, questionsFrom } from "../model-based/questions.ts"
import { type TwinLab, twinOutside } from "./twin-lab.ts"

/**
 * What the differential measures beyond compareMeasurements (twin-lab.ts): every container's
 * probe of every bridge network's gateway, and the DNS questions of the model-based tests
 * (../model-based/questions.ts: names in capitals and with a trailing dot, aliases,
 * `name.network` and `alias.network`, names that must not resolve) from every container. Each is
 * measured once on each backend; the counts say how much was compared.
 */
export interface Compared {
  readonly lines: ReadonlyArray<string>
  readonly probes: number
  readonly questions: number
  /** connections (published ports, hairpin, outside), compared by outcome, answerer and seen source */
  readonly connections: number
}

/** what a connection showed: the same on both backends, or a divergence */
const connectionText = (result: ConnectResult): string =>
  `${result.outcome}${result.answeredBy === undefined ? "" : ` by ${result.answeredBy}`}${result.seenFrom === undefined ? "" : ` seen from ${result.seenFrom}`}`

/**
 * How many measurements of a twin lab asked connections so far: the asker takes turns, as in the
 * model-based test. Counted per twin, not across the lanes, whose measurements interleave as the
 * machine lets them: a replayed sequence asks from the same containers.
 */
const connectionTurns = new WeakMap<TwinLab, number>()

/**
 * The model-based tests' connections (../model-based/connections.ts) from one container, taking
 * turns from measurement to measurement: to other containers, to the published ports (hairpin,
 * 127.0.0.1, the host's address, from outside), to outside. Asked of each lab, with the address
 * the model picks for each. One asker, not all: on linux a connection that must not be answered
 * waits out its whole timeout, and every container asking made the differential four times slower
 * (36 sequences: 37 s against 9 s).
 */
const connectionsOf = (twin: TwinLab): Array<{ readonly from: string; readonly address: string; readonly port: number; readonly proto: "tcp" | "udp" }> => {
  const lab = twin.sim
  const state = lab.state
  const containers = lab.containers()
  const turn = connectionTurns.get(twin) ?? 0
  connectionTurns.set(twin, turn + 1)
  const asker = containers[turn % Math.max(1, containers.length)]
  if (asker === undefined) return []
  return connectionQuestions(state, asker, turn, twinOutside).flatMap((question) => {
    const address = model.predictConnect(state, twinOutside, question).address ?? (question.to.kind === "address" ? question.to.address : undefined)
    return address === undefined ? [] : [{ from: question.from, address, port: question.port, proto: question.proto }]
  })
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

const questionsOf = (lab: Lab, keep: (q: Question) => boolean): Question[] => {
  const state = (lab.controllers[0] as (typeof lab.controllers)[number]).state
  return lab.containers().flatMap((from) => {
    const questions = questionsFrom(state, from).filter(keep)
    const resolver = model.endpointsOf(state, from).some((e) => model.network(state, e.network)?.predefined === false)
    return resolver ? questions : questions.slice(0, 1)
  })
}

const allQuestions = (lab: Lab): Question[] => questionsOf(lab, () => true)

/**
 * The questions not already asked by compareMeasurements: every kind but plain container names.
 * A container without a resolver (on no user network) asks one: every question it asks goes
 * unanswered, on linux only once the whole timeout is over.
 */
const extraQuestions = (lab: Lab): Question[] =>
  questionsOf(lab, (q) => q.kind !== "container" || q.name !== q.name.toLowerCase() || q.name.endsWith("."))

/** an address of another container to probe, as the reach matrix has it */
interface ReachProbe {
  readonly from: string
  readonly to: string
  readonly network: string
  readonly address: string
}

const reachProbes = (lab: Lab): ReachProbe[] => {
  const targets = lab.endpoints().flatMap((e) => (e.address === undefined ? [] : [{ to: e.container, network: e.network, address: model.stripPrefix(e.address) }]))
  return lab.containers().flatMap((from) => targets.filter((t) => t.to !== from).map((t) => ({ from, ...t })))
}

/**
 * Everything measured on both labs at once, probes and questions together: a measurement is
 * mostly waiting for what does not answer (the probe timeout), and this way it waits once.
 * `reach`: the reach matrix too (compareMeasurements measures it otherwise); `questions`: which.
 */
const measureBoth = async (
  twin: TwinLab,
  options: { readonly concurrency: number },
  what: { readonly reach: boolean; readonly questions: (lab: Lab) => Question[]; readonly connections: boolean },
): Promise<Compared & { readonly reach: number }> => {
  const reach = what.reach ? reachProbes(twin.sim) : []
  const connections = what.connections ? connectionsOf(twin) : []
  const gateways = gatewayProbes(twin.sim)
  const questions = what.questions(twin.sim)
  const probe = (lab: Lab) => (p: { readonly from: string; readonly address: string }) => lab.probe(p.from, p.address).pipe(Effect.map((r) => r.reachable))
  const ask = (lab: Lab) => (q: Question) => lab.resolve(q.from, q.name).pipe(Effect.map(answerText))
  const connect = (lab: Lab) => (c: (typeof connections)[number]) => lab.connectFrom(c.from, c.address, c.port, c.proto).pipe(Effect.map(connectionText))
  const outsideListens = (lab: Lab) => (connections.length === 0 ? Effect.void : lab.listenOutside(outsideServer.port, outsideServer.proto))
  const all = (lab: Lab) =>
    Effect.andThen(
      outsideListens(lab),
      Effect.all(
        [
          Effect.forEach(reach, probe(lab), options),
          Effect.forEach(gateways, probe(lab), options),
          Effect.forEach(questions, ask(lab), options),
          Effect.forEach(connections, connect(lab), options),
        ],
        { concurrency: "unbounded" },
      ),
    )
  const [simReach, simGateways, simAnswers, simConnections] = Effect.runSync(all(twin.sim))
  const [linuxReach, linuxGateways, linuxAnswers, linuxConnections] = await Effect.runPromise(all(twin.linux))
  const lines: string[] = []
  reach.forEach((p, i) => {
    if (simReach[i] !== linuxReach[i]) lines.push(`reach ${p.from} → ${p.to} ${p.address} (${p.network}): sim ${simReach[i]} / linux ${linuxReach[i]}`)
  })
  gateways.forEach((p, i) => {
    if (simGateways[i] !== linuxGateways[i]) lines.push(`gateway ${p.from} → ${p.address} (${p.network}): sim ${simGateways[i]} / linux ${linuxGateways[i]}`)
  })
  questions.forEach((q, i) => {
    if (simAnswers[i] !== linuxAnswers[i]) lines.push(`dns ${q.from} asks "${q.name}" (${q.kind}): sim ${simAnswers[i]} / linux ${linuxAnswers[i]}`)
  })
  connections.forEach((c, i) => {
    if (simConnections[i] !== linuxConnections[i]) lines.push(`connect ${c.from} → ${c.address}:${c.port}/${c.proto}: sim ${simConnections[i]} / linux ${linuxConnections[i]}`)
  })
  return { lines, reach: reach.length, probes: gateways.length, questions: questions.length, connections: connections.length }
}

/** at the end of a sequence, beside compareMeasurements: the gateways, the questions it does not ask, and the connections when asked */
export const compareGatewaysAndNames = (twin: TwinLab, options: { readonly concurrency: number }, connections: boolean): Promise<Compared> =>
  measureBoth(twin, options, { reach: false, questions: extraQuestions, connections })

/**
 * After every command of a measuring run: the reach matrix, the gateways, every question of
 * questions.ts from every container (plain container names among them), and the connections when asked, in one wait.
 */
export const compareEverything = (twin: TwinLab, options: { readonly concurrency: number }, connections: boolean): Promise<Compared & { readonly reach: number }> =>
  measureBoth(twin, options, { reach: true, questions: allQuestions, connections })
