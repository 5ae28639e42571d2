import { Effect } from "effect"
import { expect } from "vitest"
import * as model from "../../model/index.ts"
import { connectionDisagreement, connectionQuestions, outsideServer } from "./connections.ts"
import { expectedKernel, type KernelFacts, KernelReader, kernelDifferences, type LabLayout, publishedPorts } from "./expected-kernel.ts"
import { endpointView, type LabModel, type LabReal } from "./LabModel.ts"
import { questionsFrom } from "./questions.ts"
import { floodedUnicasts } from "./sim-trace.ts"

/**
 * The check after every command on the simulator. Everything the lab holds is compared with what
 * the model implies:
 * - the lab's endpoints, with their aliases (and, at the end of a sequence, checkInvariants);
 * - the kernel, read back namespace by namespace (expected-kernel.ts): nothing left behind,
 *   nothing missing;
 * and after every command that changed the state, from the point of view of one container, the
 * asker, taking turns (over a sequence, every pair of containers gets its turn):
 * - reach, with the simulator's probes: the asker to every address of every other container, and
 *   every other container to every address of the asker; the asker to every bridge network's
 *   gateway. The asker's walks are traced: a bridge floods no frame whose destination it knows
 *   (sim-trace.ts);
 * - DNS: the asker asks every name of questions.ts: containers, aliases, name.network, and names
 *   that must not resolve.
 */
export const checkOnSim = (layout: LabLayout) => {
  /** the expected kernel of a state, made once per state (a refusal leaves the state as it was) */
  const expectations = new WeakMap<model.LabState, KernelFacts>()
  const expectedOf = (lab: model.LabState): KernelFacts => {
    let expected = expectations.get(lab)
    if (expected === undefined) expectations.set(lab, (expected = expectedKernel(lab.hostStates[0] as model.CnmState, layout, publishedPorts(lab))))
    return expected
  }
  /** one reader per lab (a sequence's), remembering what it read last */
  const readers = new WeakMap<LabReal["lab"], KernelReader>()
  const readerOf = (r: LabReal): KernelReader => {
    let reader = readers.get(r.lab)
    if (reader === undefined) readers.set(r.lab, (reader = new KernelReader(r.lab.kernel, layout)))
    return reader
  }
  return (m: LabModel, r: LabReal, changed: boolean): void => {
    const coverage = r.coverage
    const state = m.state
    checkControllerState(m, r)
    coverage?.check(state)
    const kernel = kernelDifferences(expectedOf(m.lab), Effect.runSync(readerOf(r).read()))
    holds(kernel, "the kernel as read back, against what the model's state implies")
    if (coverage) coverage.kernelReads++

    // after a refusal the state is as it was, and the kernel was just shown to be too: reach and
    // DNS answers, which are the kernel's and the records', are as measured after the last change
    const containers = model.containers(state).map((c) => c.name)
    if (!changed || containers.length === 0) return
    m.checks = (m.checks ?? 0) + 1
    const asker = containers[m.checks % containers.length] as string
    const targets = model.endpoints(state).flatMap((e) => (e.address === undefined ? [] : [{ to: e.container, network: e.network, address: model.stripPrefix(e.address) }]))
    const wrong: string[] = []
    const flooded: string[] = []
    for (const from of containers) {
      const traced = from === asker
      for (const target of targets) {
        if (target.to === from || (!traced && target.to !== asker)) continue
        const predicted = model.predictReach(state, from, target.to, target.address)
        // a frame that crosses a bridge is one the model lets through: those walks are traced
        const result = Effect.runSync(r.lab.probe(from, target.address, traced && predicted))
        coverage?.probe(result.reachable)
        if (result.reachable !== predicted) {
          wrong.push(`${from} → ${target.to} ${target.address} (${target.network}): measured ${result.reachable} (${result.reason}${result.detail ? `: ${result.detail}` : ""})`)
        }
        if (traced) flooded.push(...floodedUnicasts(result.trace ?? []).map((line) => `${from} → ${target.address}: ${line}`))
      }
    }
    for (const network of model.networks(state)) {
      if (network.driver !== "bridge" || network.gateway === undefined) continue
      const result = Effect.runSync(r.lab.probe(asker, network.gateway))
      coverage?.probe(result.reachable, true)
      if (result.reachable !== model.predictGatewayReach(state, asker, network.name)) {
        wrong.push(`${asker} → gateway ${network.gateway} of ${network.name}: measured ${result.reachable} (${result.reason}${result.detail ? `: ${result.detail}` : ""})`)
      }
    }
    holds(wrong, "probes whose outcome is not the model's prediction")
    holds(flooded, "unicast frames a bridge flooded although it knew their destination")

    if (layout.outside !== undefined) {
      Effect.runSync(r.lab.listenOutside(outsideServer.port, outsideServer.proto))
      const connections: string[] = []
      for (const question of connectionQuestions(m.lab, asker, m.checks, layout.outside)) {
        const predicted = model.predictConnect(m.lab, layout.outside, question)
        const address = predicted.address ?? (question.to.kind === "address" ? question.to.address : "0.0.0.0")
        const measured = Effect.runSync(r.lab.connectFrom(question.from, address, question.port, question.proto))
        coverage?.connection(predicted, measured.outcome)
        const line = connectionDisagreement(question, predicted, measured)
        if (line !== undefined) connections.push(line)
      }
      holds(connections, "connections whose outcome, answerer or seen source is not the model's prediction")
    }

    const answers: string[] = []
    for (const q of questionsFrom(state, asker)) {
      const answer = Effect.runSync(r.lab.resolve(q.from, q.name))
      coverage?.question(q.kind, answer.addresses.length > 0)
      const expected = model.predictResolve(state, q.from, q.name)
      if (q.kind === "must-not-resolve" && expected.length > 0) throw new Error(`this test's mistake: "${q.name}", meant not to resolve, resolves for ${q.from}`)
      const got = [...answer.addresses].sort()
      if (got.join() !== [...expected].sort().join()) {
        answers.push(`${q.from} asks "${q.name}" (${q.kind}): ${answer.rcode} [${got.join(", ")}], model [${expected.join(", ")}]`)
      }
    }
    holds(answers, "DNS answers that are not the model's")
  }
}

/** fails with the lines (as an assertion, for its diff) when there are any; cheap when there are none */
const holds = (lines: ReadonlyArray<string>, what: string): void => {
  if (lines.length > 0) expect(lines, what).toEqual([])
}

/**
 * The lab's state satisfies every invariant. Checked at the end of each sequence rather than
 * after every command: the controller's states are made by the model's own operations, which
 * test/model/properties.test.ts holds to the invariants after every step, and a state, once
 * broken, stays broken (states are persistent; nothing repairs one).
 */
export const checkInvariants = (r: LabReal): void => {
  for (const controller of r.lab.controllers) {
    holds(model.checkInvariants(controller.state).map((v) => `${v.invariant}: ${v.detail}`), `invariants of ${controller.host}'s state`)
  }
}

const scalarFields = ["container", "network", "address", "mac", "ifname", "staticAddress"] as const

/** endpointView's fields, compared without building views (this runs after every command) */
const sameEndpoint = (a: model.Endpoint, b: model.Endpoint): boolean =>
  a === b || (scalarFields.every((field) => a[field] === b[field]) && a.aliases.join() === b.aliases.join())

/** the lab's endpoints are the oracle's */
const checkControllerState = (m: LabModel, r: LabReal): void => {
  const lab = r.lab.endpoints()
  const oracle = model.endpoints(m.state)
  if (lab.length !== oracle.length || lab.some((e, i) => !sameEndpoint(e, oracle[i] as model.Endpoint))) {
    expect(lab.map(endpointView), "the lab's endpoints against the oracle's").toEqual(oracle.map(endpointView))
  }
}

