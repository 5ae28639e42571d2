import { Effect } from "effect"
import { expect } from "vitest"
import type { KernelShape } from "../../../backends/Kernel.ts"
import type { Lab } from "../../../controller/Lab.ts"
import * as model from "../../../model/index.ts"
import { buildTopology } from "../../../model/lab-topology.ts"
import type { MhModel, MhReal } from "./MhModel.ts"
import { mhExpectedKernel, mhKernelFacts } from "./expected-kernel.ts"
import { connectionDisagreement } from "../connections.ts"
import { addressOf, mhConnectionQuestions } from "./connections.ts"
import { mhQuestions, mhServiceQuestions } from "./questions.ts"

const holds = (lines: ReadonlyArray<string>, what: string): void => {
  if (lines.length > 0) expect(lines, what).toEqual([])
}

/** what the lab lists must be what the oracle lists: networks with scope and host, endpoints with host, cursors and counters */
export const sameListings = (m: MhModel, lab: Lab): string[] => {
  const lines: string[] = []
  const mine = JSON.stringify(model.labEndpoints(m.lab))
  if (JSON.stringify(lab.endpoints()) !== mine) lines.push(`endpoints: lab ${JSON.stringify(lab.endpoints())} / model ${mine}`)
  const rows = (state: model.LabState) => JSON.stringify(model.labNetworks(state).map((row) => [row.network.name, row.network.id, row.network.subnet, row.scope, row.host]))
  if (rows(lab.state) !== rows(m.lab)) lines.push(`networks: lab ${rows(lab.state)} / model ${rows(m.lab)}`)
  const cursors = (state: model.LabState) => JSON.stringify([state.hostStates.map((s) => s.poolCursor), state.swarm?.poolCursor, state.swarm?.vniCursor])
  if (cursors(lab.state) !== cursors(m.lab)) lines.push(`pool and VNI cursors: lab ${cursors(lab.state)} / model ${cursors(m.lab)}`)
  return lines
}

export const invariantLines = (state: model.LabState, whose: string): string[] =>
  model.checkLabInvariants(state).map((v) => `${whose}: ${v.invariant}: ${v.detail}`)

/** the probes of one check: the asker to every listed address of the others and back, every container to every host */
export interface MhProbe {
  readonly from: string
  readonly to: string
  readonly address: string
  readonly network: string
  readonly crossHost: boolean
  readonly predicted: boolean
}

export interface MhHostProbe {
  readonly from: string
  readonly host: string
  readonly predicted: boolean
}

export const plannedProbes = (
  lab: model.LabState,
  asker: string,
  onRace: () => void,
): { readonly probes: ReadonlyArray<MhProbe>; readonly hostProbes: ReadonlyArray<MhHostProbe> } => {
  const topology = buildTopology(lab)
  const containers = model.labContainers(lab)
  const hostOf = new Map(containers.map((row) => [row.container.name, row.host]))
  const probes: MhProbe[] = []
  for (const endpoint of model.labEndpoints(lab)) {
    if (endpoint.address === undefined) continue
    const address = model.stripPrefix(endpoint.address)
    const target = model.parseIPv4(address) as number
    for (const { container } of containers) {
      const from = container.name
      if (from === endpoint.container || (from !== asker && endpoint.container !== asker)) continue
      const predicted = model.reachFrom(topology, from, target)
      if (predicted === undefined) {
        onRace()
        continue
      }
      probes.push({ from, to: endpoint.container, address, network: endpoint.network, crossHost: hostOf.get(from) !== endpoint.host, predicted })
    }
  }
  const hostProbes: MhHostProbe[] = []
  for (const { container } of containers) {
    for (const host of lab.hosts) {
      const predicted = model.reachFrom(topology, container.name, model.parseIPv4(host.address) as number)
      if (predicted === undefined) onRace()
      else hostProbes.push({ from: container.name, host: host.name, predicted })
    }
  }
  return { probes, hostProbes }
}

/**
 * The check after every command on the simulator:
 * - the lab lists what the oracle lists (networks, endpoints, cursors);
 * - the kernel as read back: the lab's namespaces are exactly those the model implies, and each
 *   overlay namespace holds its vxlan (VNI, MTU) with a neighbour and an FDB entry towards its
 *   host for every remote peer the model names, every namespace the routes and firewall rules
 *   the model's lab implies, and nothing else (expected-kernel.ts);
 * and after a command that changed the state, from one container's view (the asker, taking turns):
 * - reach, with the simulator's probes, against predictLabReach: the asker to every listed
 *   address of every other container on any host and back, every container to every host's
 *   underlay address (toHost);
 * - DNS (questions.ts), against predictServiceResolve (predictLabResolve for what no service is);
 * - connections to the services (connections.ts): from the asker by name, `tasks.` name and VIP,
 *   from outside and from a host to the routing mesh's ports on every host, against predictConnect:
 *   the outcome, an answerer among those the model allows, the source the server saw.
 */
export const checkOnSimHosts = (runId: string, outside?: string) => (m: MhModel, r: MhReal, changed: boolean): void => {
  const coverage = r.coverage
  holds(sameListings(m, r.lab), "the lab's listings against the model's")
  coverage?.check(m.lab)
  const facts = Effect.runSync(mhKernelFacts(r.lab.kernel as KernelShape, runId, m.lab))
  holds(kernelDiff(mhExpectedKernel(runId, m.lab, outside), facts.facts), "the kernel as read back, against what the model's lab implies")
  if (coverage) {
    coverage.kernelReads++
    coverage.overlayPeersRead += facts.peers
    coverage.routesRead += facts.routes
    coverage.rulesRead += facts.rules
    coverage.vipsRead += facts.vips
    coverage.balancerRulesRead += facts.balancerRules
  }
  const containers = model.labContainers(m.lab).map((row) => row.container.name)
  if (!changed || containers.length === 0) return
  m.checks = (m.checks ?? 0) + 1
  const asker = containers[m.checks % containers.length] as string
  const planned = plannedProbes(m.lab, asker, () => {
    if (coverage) coverage.races++
  })
  const wrong: string[] = []
  for (const probe of planned.probes) {
    const result = Effect.runSync(r.lab.probe(probe.from, probe.address))
    coverage?.probe(result.reachable, probe.crossHost)
    if (result.reachable !== probe.predicted) {
      wrong.push(`${probe.from} → ${probe.to} ${probe.address} (${probe.network}): measured ${result.reachable} (${result.reason}${result.detail ? `: ${result.detail}` : ""}), model ${probe.predicted}`)
    }
  }
  for (const probe of planned.hostProbes) {
    const result = Effect.runSync(r.lab.probeHost(probe.from, probe.host))
    coverage?.hostProbe(result.reachable)
    if (result.reachable !== probe.predicted) wrong.push(`${probe.from} → host ${probe.host}: measured ${result.reachable} (${result.reason}), model ${probe.predicted}`)
  }
  holds(wrong, "probes whose outcome is not the model's prediction")
  const answers: string[] = []
  const aboutServices = new Set(mhServiceQuestions(m.lab))
  for (const name of mhQuestions(m.lab, asker)) {
    const answer = Effect.runSync(r.lab.resolve(asker, name))
    const got = [...answer.addresses].sort()
    const expected = [...model.predictServiceResolve(m.lab, asker, name)].sort()
    coverage?.question(got.length > 0)
    if (aboutServices.has(name)) coverage?.serviceQuestion(got.length > 0)
    if (got.join() !== expected.join()) answers.push(`${asker} asks "${name}": ${answer.rcode} [${got.join(", ")}], model [${expected.join(", ")}]`)
  }
  holds(answers, "DNS answers that are not the model's")
  if (outside === undefined) return
  const connections: string[] = []
  for (const { kind, question } of mhConnectionQuestions(m.lab, asker, m.checks)) {
    const predicted = model.predictConnect(m.lab, outside, question)
    const address = addressOf(question, predicted, m.lab)
    if (address === undefined) continue
    const measured = Effect.runSync(r.lab.connectFrom(question.from, address, question.port, question.proto))
    coverage?.connection(kind, predicted.outcome, measured.outcome)
    const line = connectionDisagreement(question, predicted, measured)
    if (line !== undefined) connections.push(line)
  }
  holds(connections, "connections whose outcome, answerer or seen source is not the model's prediction")
}

/** facts on one side only, per namespace */
export const kernelDiff = (expected: ReadonlyMap<string, ReadonlyArray<string>>, actual: ReadonlyMap<string, ReadonlyArray<string>>): string[] => {
  const lines: string[] = []
  for (const ns of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(ns)
    const got = actual.get(ns)
    if (want === undefined) {
      lines.push(`namespace ${ns}: left behind`)
      continue
    }
    if (got === undefined) {
      lines.push(`namespace ${ns}: missing`)
      continue
    }
    const gotSet = new Set(got)
    const wantSet = new Set(want)
    for (const fact of want) if (!gotSet.has(fact)) lines.push(`${ns}: missing ${fact}`)
    for (const fact of got) if (!wantSet.has(fact)) lines.push(`${ns}: unexpected ${fact}`)
  }
  return lines
}
