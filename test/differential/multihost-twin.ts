import { Effect, type Result } from "effect"
import type { KernelShape } from "../../backends/Kernel.ts"
import type { Capabilities, ConnectResult, DnsQueryResult } from "../../backends/kernel-types.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import type { CnmError } from "../../model/errors.ts"
import * as model from "../../model/index.ts"
import { buildTopology } from "../../model/lab-topology.ts"
import type { KernelKinds } from "../model-based/multihost/commands/CreateNetworkCommand.ts"
import { addressOf, mhConnectionQuestions, mhOutside } from "../model-based/multihost/connections.ts"
import { mhQuestions } from "../model-based/multihost/questions.ts"
import { checkTurnOrder, counterOf, outsideTheModelsSet } from "./balanced-turns.ts"
import { diffLists } from "./ns-view.ts"

/**
 * A multi-host lab twice, on the simulator (with the linux kernel's capabilities) and on the real
 * kernel, under one run id, so that every namespace is named alike, each with the outside machine
 * (the routing mesh's ports are asked from there). Every comparison returns its
 * divergences as readable lines ([] = the two agree).
 */
export interface MultiHostTwin {
  readonly runId: string
  readonly sim: Lab
  readonly linux: Lab
}

export const makeMultiHostTwin = async (
  linuxKernel: KernelShape,
  runId: string,
  spec: { readonly hosts: ReadonlyArray<string>; readonly swarm: boolean },
): Promise<MultiHostTwin> => {
  const options = { hosts: spec.hosts, runId, swarm: spec.swarm, outside: mhOutside }
  const sim = Effect.runSync(Lab.make(makeSimKernel({ capabilities: linuxKernel.capabilities }), options))
  const linux = await Effect.runPromise(Lab.make(linuxKernel, options))
  return { runId, sim, linux }
}

/** the kinds of network a kernel with these capabilities can carry, and the ones left out with why */
export const kindsOf = (capabilities: Capabilities): { readonly kinds: KernelKinds; readonly leftOut: ReadonlyArray<readonly [string, string]> } => {
  const kinds = { ipvlan: capabilities.ipvlan, dummy: capabilities.dummy, vlan: capabilities.vlan, esp: capabilities.esp }
  const leftOut: Array<readonly [string, string]> = []
  if (!kinds.ipvlan) leftOut.push(["ipvlan l2 and l3", "capability ipvlan: this kernel refuses ipvlan links"])
  if (!kinds.dummy) leftOut.push(["macvlan and ipvlan without a parent", "capability dummy: this kernel refuses dummy links"])
  if (!kinds.vlan) leftOut.push(["macvlan on eth0.N", "capability vlan: this kernel refuses 802.1Q links"])
  if (!kinds.esp) leftOut.push(["encrypted overlay", "capability esp: this kernel refuses ESP states"])
  return { kinds, leftOut }
}

type Outcome = Result.Result<unknown, CnmError>
const outcomeText = (outcome: Outcome): string => (outcome._tag === "Success" ? "ok" : `${outcome.failure.code} (${outcome.failure.message})`)

export const compareMhOutcomes = (sim: Outcome, linux: Outcome): string[] => {
  const same = sim._tag === linux._tag && (sim._tag === "Success" || (linux._tag === "Failure" && sim.failure.code === linux.failure.code))
  return same ? [] : [`outcome: sim ${outcomeText(sim)} / linux ${outcomeText(linux)}`]
}

const rowText = (row: model.LabNetworkRow): string =>
  `${row.network.name} ${row.scope}${row.host === undefined ? "" : `@${row.host}`} ${row.network.driver} ${row.network.subnet ?? "-"} gw ${row.network.gateway ?? "-"} id ${row.network.id.slice(0, 12)}`
const endpointText = (e: model.LabEndpoint): string => `${e.container}@${e.host} on ${e.network}: ${e.address ?? "-"} ${e.mac ?? "-"} ${e.ifname ?? "-"} aliases ${e.aliases.join(",")}`

/** what the two controllers decided: networks with scope and host, endpoints with host */
export const compareMhLabs = (twin: MultiHostTwin): string[] => [
  ...diffLists("network", twin.sim.networkRows().map(rowText), twin.linux.networkRows().map(rowText)),
  ...diffLists("endpoint", twin.sim.endpoints().map(endpointText), twin.linux.endpoints().map(endpointText)),
]

interface Probe {
  readonly from: string
  readonly what: string
  readonly address: string
}

/**
 * Every container to every listed address of every other container, and to every host's underlay
 * address; `races`: the probes left out because the model says their outcome is a race (an
 * address held twice on one segment: which holder answers is the order of ARP replies, which
 * two kernels need not share).
 */
const probesOf = (lab: Lab): { readonly probes: Probe[]; readonly races: number } => {
  const topology = buildTopology(lab.state)
  const targets = lab.endpoints().flatMap((e) => (e.address === undefined ? [] : [{ to: e.container, what: `${e.container}@${e.host} (${e.network})`, address: model.stripPrefix(e.address) }]))
  const hosts = lab.hostAddresses().map((host) => ({ to: "", what: `host ${host.name}`, address: host.address }))
  const all = lab.containers().flatMap((from) => [...targets.filter((t) => t.to !== from), ...hosts].map((t) => ({ from, what: t.what, address: t.address })))
  const probes = all.filter((p) => model.reachFrom(topology, p.from, model.parseIPv4(p.address) as number) !== undefined)
  return { probes, races: all.length - probes.length }
}

const answerText = (answer: DnsQueryResult): string => `${answer.rcode} [${[...answer.addresses].sort().join(", ")}]`

export interface MhCompared {
  readonly lines: ReadonlyArray<string>
  readonly probes: number
  readonly hostProbes: number
  readonly questions: number
  /** probes left out as races */
  readonly races: number
  readonly connections: number
  /** connections balanced round robin, asked one at a time in the same order on both backends */
  readonly balanced: number
  /** of those, the ones the model spreads over two tasks or more: where the order could differ */
  readonly balancedOverSeveral: number
  /** connections in a row through one rule whose turn order was checked against the model's */
  readonly turnPairs: number
}

/** how many measurements asked connections so far: the asker takes turns, as in the model-based test */
let connectionTurn = 0

interface Connection {
  readonly from: string
  readonly address: string
  readonly port: number
  readonly proto: "tcp" | "udp"
  /** who may answer, as the model says */
  readonly answerers: ReadonlyArray<string>
  readonly balance: model.Balance
  /** round robin: the rule whose counter it advances (balanced-turns.ts), and whether every task listens there */
  readonly turn?: { readonly counter: string; readonly everyTaskListens: boolean }
}

const describe = (c: Connection): string => `${c.from} → ${c.address}:${c.port}/${c.proto}`

/**
 * The model-based test's connections to the services (../model-based/multihost/connections.ts),
 * from one container taking turns, from outside and from a host, at the address the model picks.
 * UDP the model says is refused is compared too: cnmlab's namespaces do not rate-limit ICMP errors
 * (backends/linux/README.md, "Namespaces and sockets"), so a burst of port unreachables is refused
 * on linux as on the simulator.
 */
const connectionsOf = (lab: Lab): Array<Connection> => {
  const state = lab.state
  const containers = lab.containers()
  const turn = connectionTurn++
  const asker = containers[turn % Math.max(1, containers.length)]
  const hostOf = new Map(lab.endpoints().map((e) => [e.container, e.host]))
  return mhConnectionQuestions(state, asker, turn).flatMap(({ question }) => {
    const predicted = model.predictConnect(state, mhOutside, question)
    const address = addressOf(question, predicted, state)
    if (address === undefined) return []
    const turn =
      predicted.balance === "roundRobin"
        ? { counter: counterOf(predicted, question, hostOf.get(question.from), address), everyTaskListens: predicted.outcome === "answer" }
        : undefined
    return [{ from: question.from, address, port: question.port, proto: question.proto, answerers: predicted.answeredBy, balance: predicted.balance, ...(turn === undefined ? {} : { turn }) }]
  })
}

/**
 * What a connection showed, in words both backends must share, the answerer itself included: a
 * connection the DNS shuffle spreads goes to the one address the model picked, and the balanced
 * ones are asked in the same order on both (compareMhMeasurements), so each has one answerer.
 */
const connectionText = (result: ConnectResult): string =>
  `${result.outcome}${result.answeredBy === undefined ? "" : ` by ${result.answeredBy}`}${result.seenFrom === undefined ? "" : ` seen from ${result.seenFrom}`}`

/**
 * Reach (container to container on any host, and to every host), DNS (questions.ts from every
 * container, the services' names among them) and the connections to the services, measured once
 * on each backend, all at once on each: a measurement is mostly waiting for what does not answer.
 * All but the round-robin connections: those take turns from their balancer's counter, so they
 * go one at a time, in the order connectionsOf lists them, beside the rest; nothing else any
 * measurement asks matches a balancing rule (probes and DNS go to the containers' own addresses
 * and to the resolver, never to a VIP or a published port), so both counters see the same
 * connections in the same order and each connection's answerer is compared exactly.
 */
export const compareMhMeasurements = async (twin: MultiHostTwin, options: { readonly concurrency: number }): Promise<MhCompared> => {
  const { probes, races } = probesOf(twin.sim)
  const state = twin.sim.state
  const questions = twin.sim.containers().flatMap((from) => mhQuestions(state, from).map((name) => ({ from, name })))
  const connections = connectionsOf(twin.sim)
  const balanced = connections.filter((c) => c.turn !== undefined)
  const others = connections.filter((c) => c.turn === undefined)
  const connect = (lab: Lab) => (c: Connection) => lab.connectFrom(c.from, c.address, c.port, c.proto)
  const all = (lab: Lab) =>
    Effect.all(
      [
        Effect.forEach(probes, (p) => lab.probe(p.from, p.address).pipe(Effect.map((r) => r.reachable)), options),
        Effect.forEach(questions, (q) => lab.resolve(q.from, q.name).pipe(Effect.map(answerText)), options),
        Effect.forEach(others, connect(lab), options),
        Effect.forEach(balanced, connect(lab), { concurrency: 1 }),
      ],
      { concurrency: "unbounded" },
    )
  const [simReach, simAnswers, simOthers, simBalanced] = Effect.runSync(all(twin.sim))
  const [linuxReach, linuxAnswers, linuxOthers, linuxBalanced] = await Effect.runPromise(all(twin.linux))
  const lines: string[] = []
  probes.forEach((p, i) => {
    if (simReach[i] !== linuxReach[i]) lines.push(`reach ${p.from} → ${p.what} ${p.address}: sim ${simReach[i]} / linux ${linuxReach[i]}`)
  })
  questions.forEach((q, i) => {
    if (simAnswers[i] !== linuxAnswers[i]) lines.push(`dns ${q.from} asks "${q.name}": sim ${simAnswers[i]} / linux ${linuxAnswers[i]}`)
  })
  const compareConnections = (asked: ReadonlyArray<Connection>, sim: ReadonlyArray<ConnectResult>, linux: ReadonlyArray<ConnectResult>) =>
    asked.forEach((c, i) => {
      const [simText, linuxText] = [connectionText(sim[i] as ConnectResult), connectionText(linux[i] as ConnectResult)]
      if (simText !== linuxText) lines.push(`connect ${describe(c)}${c.turn === undefined ? "" : ` (turn ${i + 1} of the balanced)`}: sim ${simText} / linux ${linuxText}`)
      if (c.balance !== "one") {
        lines.push(...outsideTheModelsSet(`connect ${describe(c)}`, c.answerers, sim[i] as ConnectResult, "sim"))
        lines.push(...outsideTheModelsSet(`connect ${describe(c)}`, c.answerers, linux[i] as ConnectResult, "linux"))
      }
    })
  compareConnections(others, simOthers, linuxOthers)
  compareConnections(balanced, simBalanced, linuxBalanced)
  const turns = balanced.map((c) => ({ describe: describe(c), answerers: c.answerers, ...(c.turn as NonNullable<Connection["turn"]>) }))
  // linux is the truth; the sim's order is held to linux's above
  const order = checkTurnOrder(turns, linuxBalanced)
  lines.push(...order.lines)
  const hostProbes = probes.filter((p) => p.what.startsWith("host ")).length
  return {
    lines,
    probes: probes.length - hostProbes,
    hostProbes,
    questions: questions.length,
    races,
    connections: connections.length,
    balanced: balanced.length,
    balancedOverSeveral: balanced.filter((c) => c.answerers.length > 1).length,
    turnPairs: order.pairs,
  }
}
