import { Effect, type Result } from "effect"
import type { KernelShape } from "../../backends/Kernel.ts"
import type { Capabilities, DnsQueryResult } from "../../backends/kernel-types.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import type { CnmError } from "../../model/errors.ts"
import * as model from "../../model/index.ts"
import { buildTopology } from "../../model/lab-topology.ts"
import type { KernelKinds } from "../model-based/multihost/commands/CreateNetworkCommand.ts"
import { mhQuestions } from "../model-based/multihost/questions.ts"
import { diffLists } from "./ns-view.ts"

/**
 * A multi-host lab twice, on the simulator (with the linux kernel's capabilities) and on the real
 * kernel, under one run id, so that every namespace is named alike. Every comparison returns its
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
  const options = { hosts: spec.hosts, runId, swarm: spec.swarm }
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
}

/**
 * Reach (container to container on any host, and to every host) and DNS (questions.ts from every
 * container), measured once on each backend, all at once on each: a measurement is mostly
 * waiting for what does not answer.
 */
export const compareMhMeasurements = async (twin: MultiHostTwin, options: { readonly concurrency: number }): Promise<MhCompared> => {
  const { probes, races } = probesOf(twin.sim)
  const state = twin.sim.state
  const questions = twin.sim.containers().flatMap((from) => mhQuestions(state, from).map((name) => ({ from, name })))
  const all = (lab: Lab) =>
    Effect.all(
      [
        Effect.forEach(probes, (p) => lab.probe(p.from, p.address).pipe(Effect.map((r) => r.reachable)), options),
        Effect.forEach(questions, (q) => lab.resolve(q.from, q.name).pipe(Effect.map(answerText)), options),
      ],
      { concurrency: "unbounded" },
    )
  const [simReach, simAnswers] = Effect.runSync(all(twin.sim))
  const [linuxReach, linuxAnswers] = await Effect.runPromise(all(twin.linux))
  const lines: string[] = []
  probes.forEach((p, i) => {
    if (simReach[i] !== linuxReach[i]) lines.push(`reach ${p.from} → ${p.what} ${p.address}: sim ${simReach[i]} / linux ${linuxReach[i]}`)
  })
  questions.forEach((q, i) => {
    if (simAnswers[i] !== linuxAnswers[i]) lines.push(`dns ${q.from} asks "${q.name}": sim ${simAnswers[i]} / linux ${linuxAnswers[i]}`)
  })
  const hostProbes = probes.filter((p) => p.what.startsWith("host ")).length
  return { lines, probes: probes.length - hostProbes, hostProbes, questions: questions.length, races }
}
