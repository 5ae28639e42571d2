import { Effect, type Result } from "effect"
import type { KernelShape } from "../../backends/Kernel.ts"
import type { DnsQueryResult } from "../../backends/kernel-types.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import { measureReach, type ReachEntry } from "../../controller/measure.ts"
import type { CnmError } from "../../model/errors.ts"
import type { Endpoint, Network } from "../../model/types.ts"
import { labPrefix } from "./linux-labs.ts"
import { diffLists, diffNsViews, nsView } from "./ns-view.ts"

/**
 * The same lab twice: on the simulator and on the real kernel, under the same run id, so that
 * every namespace has the same name on both sides. Everything here returns divergences as
 * readable lines (empty: the two agree); the caller decides when to look.
 */
export interface TwinLab {
  readonly runId: string
  readonly sim: Lab
  readonly linux: Lab
}

/** the outside machine both labs have (the address the Docker recordings had): connections from and to it are compared */
export const twinOutside = "203.0.113.1/24"

export const makeTwinLab = async (linuxKernel: KernelShape, runId: string): Promise<TwinLab> => {
  const options = { hosts: ["host1"], runId, outside: twinOutside }
  const sim = Effect.runSync(Lab.make(makeSimKernel(), options))
  const linux = await Effect.runPromise(Lab.make(linuxKernel, options))
  return { runId, sim, linux }
}

type Outcome = Result.Result<unknown, CnmError>

const outcomeText = (outcome: Outcome): string =>
  outcome._tag === "Success" ? "ok" : `${outcome.failure.code} (${outcome.failure.message})`

/** the same operation succeeded on both, or was refused on both with the same code */
export const compareOutcomes = (sim: Outcome, linux: Outcome): string[] => {
  const same = sim._tag === linux._tag && (sim._tag === "Success" || (linux._tag === "Failure" && sim.failure.code === linux.failure.code))
  return same ? [] : [`outcome: sim ${outcomeText(sim)} / linux ${outcomeText(linux)}`]
}

const endpointText = (e: Endpoint): string =>
  `${e.container} on ${e.network}: ${e.address ?? "no address"} ${e.mac ?? "no mac"} ${e.ifname ?? "no interface"} aliases ${e.aliases.join(",")}`

const networkText = (n: Network): string =>
  `${n.name} ${n.driver} ${n.subnet ?? "-"} gw ${n.gateway ?? "-"}${n.internal ? " internal" : ""} id ${n.id.slice(0, 12)}`

/** what the two controllers decided: networks and endpoints */
export const compareLabs = (twin: TwinLab): string[] => [
  ...diffLists("network", twin.sim.networks().map(networkText), twin.linux.networks().map(networkText)),
  ...diffLists("endpoint", twin.sim.endpoints().map(endpointText), twin.linux.endpoints().map(endpointText)),
]

const readAll = (kernel: KernelShape, namespaces: ReadonlyArray<string>) =>
  Effect.runPromise(Effect.forEach(namespaces, (ns) => kernel.read(ns), { concurrency: "unbounded" }))

/** every namespace of the lab, read back from both kernels and compared item by item */
export const compareKernels = async (twin: TwinLab): Promise<string[]> => {
  const prefix = labPrefix(twin.runId)
  const ours = async (kernel: KernelShape) =>
    (await Effect.runPromise(kernel.namespaces())).filter((ns) => ns.startsWith(prefix)).sort()
  const simNamespaces = await ours(twin.sim.kernel)
  const linuxNamespaces = await ours(twin.linux.kernel)
  const lines = diffLists("namespace", simNamespaces, linuxNamespaces)
  const both = simNamespaces.filter((ns) => linuxNamespaces.includes(ns))
  const [simStates, linuxStates] = await Promise.all([readAll(twin.sim.kernel, both), readAll(twin.linux.kernel, both)])
  const assignedMacs = new Set(
    [...twin.sim.endpoints(), ...twin.linux.endpoints()].flatMap((e) => (e.mac === undefined ? [] : [e.mac])),
  )
  both.forEach((ns, i) => {
    const simState = simStates[i]
    const linuxState = linuxStates[i]
    if (simState && linuxState) lines.push(...diffNsViews(ns, nsView(simState, assignedMacs), nsView(linuxState, assignedMacs)))
  })
  return lines
}

const reachKey = (e: ReachEntry): string => `${e.from} → ${e.to} ${e.address} (${e.network})`

/**
 * The probe-measured reach matrix and the embedded DNS's answers, on both: for every container,
 * every container name, the shared alias, every container's own alias, and every name.network.
 * Each is measured once: a disagreement is a divergence, whatever the machine was doing.
 */
export const compareMeasurements = async (twin: TwinLab, options: { readonly concurrency: number }): Promise<string[]> => {
  const simReach = Effect.runSync(measureReach(twin.sim))
  const linuxReach = await Effect.runPromise(measureReach(twin.linux, options))
  const linuxByKey = new Map(linuxReach.map((e) => [reachKey(e), e]))
  const lines: string[] = diffLists("probe", simReach.map(reachKey), linuxReach.map(reachKey))
  for (const entry of simReach) {
    const other = linuxByKey.get(reachKey(entry))
    if (other !== undefined && other.reachable !== entry.reachable) {
      lines.push(`reach ${reachKey(entry)}: sim ${entry.reachable} (${entry.reason}) / linux ${other.reachable} (${other.reason})`)
    }
  }
  const questions = dnsQuestions(twin.sim)
  const ask = (lab: Lab) => (question: Question) => lab.resolve(question.from, question.name).pipe(Effect.map(answerText))
  const simAnswers = Effect.runSync(Effect.forEach(questions, ask(twin.sim)))
  const linuxAnswers = await Effect.runPromise(Effect.forEach(questions, ask(twin.linux), options))
  questions.forEach((question, i) => {
    if (simAnswers[i] !== linuxAnswers[i]) lines.push(`dns ${question.from} asks "${question.name}": sim ${simAnswers[i]} / linux ${linuxAnswers[i]}`)
  })
  return lines
}

const answerText = (answer: DnsQueryResult): string =>
  `${answer.rcode} [${[...answer.addresses].sort().join(", ")}]${answer.unsettled ? ` (asked before ${answer.unsettled.join(", ")} had settled)` : ""}`

interface Question {
  readonly from: string
  readonly name: string
}

export const dnsQuestions = (lab: Lab): ReadonlyArray<Question> => {
  const containers = lab.containers()
  const names = new Set([
    ...containers,
    "shared",
    ...containers.map((c) => `${c}-alias`),
    ...lab.endpoints().map((e) => `${e.container}.${e.network}`),
  ])
  return containers.flatMap((from) => [...names].map((name) => ({ from, name })))
}
