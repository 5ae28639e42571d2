import { Effect } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { linuxCapabilities, makeLinuxKernel } from "../../backends/linux/index.ts"
import * as model from "../../model/index.ts"
import { needsRoot, root } from "../linux/support.ts"
import { mhCommands, type MhLabSpec, mhLabSpec, mhTopology } from "../model-based/multihost/commands.ts"
import { everyKind, type KernelKinds } from "../model-based/multihost/commands/CreateNetworkCommand.ts"
import { judgeLabOutcome, type MhCommand, type MhModel, type MhOperation } from "../model-based/multihost/MhModel.ts"
import { Divergence, replay } from "./divergence.ts"
import { dropLab, namespacesNamed, runIdSource } from "./linux-labs.ts"
import { compareMhLabs, compareMhMeasurements, compareMhOutcomes, kindsOf, makeMultiHostTwin, type MultiHostTwin } from "./multihost-twin.ts"
import { compareKernels } from "./twin-lab.ts"

/**
 * Differential over several hosts: the multi-host model-based generators (two or three hosts, a
 * swarm or not, bridge, overlay, macvlan and the ipvlan the kernel has) run the same sequences on
 * a lab over the simulator and a lab over the real kernel. After every command both must agree
 * on the outcome and on what the controllers decided (networks with scope and host, endpoints
 * with host); at the end of each sequence on every namespace as read back (the services' VIP
 * aliases and balancer tables, the routing mesh's rules among them), on reach between containers
 * across hosts and to every host's underlay address (toHost), on every DNS answer (the services'
 * names too), and on the connections to the services (by name, `tasks.`, VIP, the routing mesh's
 * ports from outside and from a host: outcome, seen source, answerer; the round-robin ones are
 * asked one at a time in the same order on both, so each is answered by the same task, and two in
 * a row through one balancer by tasks in a row of the model's order: balanced-turns.ts);
 * in every third run of the lanes, on reach and DNS after every command that succeeded too.
 * The generator uses only what both backends can build and prints what it left out and why (the
 * kernel's capability flags). Linux is the truth: a divergence is the simulator's bug until shown
 * otherwise.
 *
 * Lanes run sequences side by side (each its own linux kernel), since most of a sequence is
 * waiting (probe timeouts, links settling). CNMLAB_MH_RUNS × CNMLAB_MH_LANES sequences, at most
 * CNMLAB_MH_COMMANDS commands after the starting topology. Replay with CNMLAB_SEED and CNMLAB_PATH.
 */
const lanes = Number(process.env.CNMLAB_MH_LANES ?? 10)
const runs = Number(process.env.CNMLAB_MH_RUNS ?? 10)
const maxCommands = Number(process.env.CNMLAB_MH_COMMANDS ?? 4)
/** two networks and three or four containers over 2-3 hosts: enough to cross hosts, cheap enough to build 100 times */
const size = { maxNetworks: 3, maxContainers: 4, maxCommands } as const

const PROBE_TIMEOUT_MS = 250
/** a connection nobody answers waits this long on linux (the backend's own 4 s made every dropped one cost 4 s; sim-vs-linux.test.ts) */
const CONNECT_TIMEOUT_MS = 500
const PROBE_CONCURRENCY = 64
/** a guard against a hang on a starved machine, not a timing goal (the rest is for shrinking) */
const TIME_LIMIT_MS = 1_800_000
const RUN_TAG = "dmh"

interface Lane {
  readonly index: number
  readonly twin: MultiHostTwin
  readonly spec: MhLabSpec
  readonly ran: string[]
  /** reach and DNS after every command too, not only at the end */
  readonly measureEveryCommand: boolean
  /** a service ran in its lab at some point */
  servicesRan: boolean
}

const tally = {
  sequences: 0,
  measuredEveryCommand: 0,
  measurements: 0,
  hosts: new Map<number, number>(),
  swarm: 0,
  commands: 0,
  refused: 0,
  kernelComparisons: 0,
  probes: 0,
  hostProbes: 0,
  questions: 0,
  races: 0,
  connections: 0,
  balanced: 0,
  balancedOverSeveral: 0,
  turnPairs: 0,
  /** sequences whose lab ran a service at some point, and service commands by outcome */
  withServices: 0,
  serviceCommands: 0,
  serviceRefused: 0,
}

/** the first divergence is printed at once: shrinking it, lane set after lane set, takes long on a busy machine */
let reported = false

const fail = (lane: Lane, when: string, lines: ReadonlyArray<string>): never => {
  const divergence = new Divergence(
    `sim and linux diverge (lane ${lane.index}, ${lane.spec.hosts.length} hosts${lane.spec.swarm ? ", swarm" : ""}, namespaces cnm-${lane.twin.runId}-…) ${when}`,
    lines,
    lane.ran,
  )
  if (!reported) console.error(`first divergence, before shrinking:\n${divergence.message}`)
  reported = true
  throw divergence
}

/** the commands, handing their operation over to be carried out on both labs (as ../model-based/async-commands.ts does for one host) */
const onBothLabs = (commands: Iterable<MhCommand>): Array<fc.AsyncCommand<MhModel, Lane>> =>
  [...commands].map((command) => ({
    check: (m) => command.check(m),
    run: async (m, lane) => {
      let handed: MhOperation | undefined
      command.run(m, { lab: lane.twin.sim, handOver: (operation) => (handed = operation) })
      if (handed === undefined) throw new Error(`${command.toString()} handed over no operation`)
      await carryOut(m, lane, handed, command).catch((error: unknown) => {
        // not a divergence (those print themselves): the model's judgement, or an operation that threw
        if (!reported && !(error instanceof Divergence)) console.error(`first failure, before shrinking (lane ${lane.index}, after ${lane.ran.join("; ")}):`, error)
        reported = true
        throw error
      })
    },
    toString: () => command.toString(),
  }))

const carryOut = async (m: MhModel, lane: Lane, operation: MhOperation, command: MhCommand): Promise<void> => {
  const expected = operation.onModel(m.lab)
  const onSim = Effect.runSync(Effect.result(operation.onLab(lane.twin.sim)))
  const onLinux = await Effect.runPromise(Effect.result(operation.onLab(lane.twin.linux)))
  lane.ran.push(`${command.toString()} → ${onSim._tag === "Success" ? "ok" : onSim.failure.code}`)
  tally.commands++
  if (onSim._tag === "Failure") tally.refused++
  if (operation.kind.endsWith("Service")) {
    tally.serviceCommands++
    if (onSim._tag === "Failure") tally.serviceRefused++
    else lane.servicesRan = true
  }
  const when = `after command ${lane.ran.length}, ${command.toString()}`
  const lines = [...compareMhOutcomes(onSim, onLinux)]
  if (lines.length === 0) lines.push(...compareMhLabs(lane.twin))
  if (lines.length > 0) fail(lane, when, lines)
  // the model keeps choosing the commands' targets; its agreement with the sim is lab.sim.test.ts's job
  judgeLabOutcome(m, expected, onSim)
  if (lane.measureEveryCommand && onSim._tag === "Success") await measure(lane, when)
}

const measure = async (lane: Lane, when: string): Promise<void> => {
  const measured = await compareMhMeasurements(lane.twin, { concurrency: PROBE_CONCURRENCY })
  tally.measurements++
  tally.probes += measured.probes
  tally.hostProbes += measured.hostProbes
  tally.questions += measured.questions
  tally.races += measured.races
  tally.connections += measured.connections
  tally.balanced += measured.balanced
  tally.balancedOverSeveral += measured.balancedOverSeveral
  tally.turnPairs += measured.turnPairs
  if (measured.lines.length > 0) fail(lane, `${when} (reach and DNS)`, measured.lines)
}

/** runs 0, 3, 6, … measure after every command that succeeded: a third of the sequences */
let runIndex = 0

describe.skipIf(!root)(`differential over several hosts: the simulator agrees with the real kernel (${needsRoot})`, () => {
  const kernels: KernelShape[] = []
  const nextRunId = runIdSource(RUN_TAG)
  let kinds: KernelKinds = everyKind
  let leftOut: ReadonlyArray<readonly [string, string]> = []

  beforeAll(async () => {
    const found = kindsOf(await linuxCapabilities())
    kinds = found.kinds
    leftOut = found.leftOut
    for (let i = 0; i < lanes; i++) kernels.push(await makeLinuxKernel({ timeoutMs: PROBE_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS }))
  })

  afterAll(async () => {
    for (const kernel of kernels) await Effect.runPromise(kernel.close())
  })

  const runLane = async (index: number, spec: MhLabSpec, commands: ReadonlyArray<MhCommand>, measureEveryCommand: boolean): Promise<void> => {
    const kernel = kernels[index] as KernelShape
    const runId = nextRunId()
    try {
      const lane: Lane = { index, spec, twin: await makeMultiHostTwin(kernel, runId, spec), ran: [], measureEveryCommand, servicesRan: false }
      tally.sequences++
      if (measureEveryCommand) tally.measuredEveryCommand++
      tally.hosts.set(spec.hosts.length, (tally.hosts.get(spec.hosts.length) ?? 0) + 1)
      if (spec.swarm) tally.swarm++
      const created = model.createLab({ hosts: spec.hosts.map((name) => ({ name })), swarm: spec.swarm })
      if (!created.ok) throw new Error(created.error.message)
      const made = compareMhLabs(lane.twin)
      if (made.length > 0) fail(lane, "right after the labs were made", made)
      await fc.asyncModelRun(async () => ({ model: { lab: created.value }, real: lane }), onBothLabs(commands))
      const kernelLines = await compareKernels(lane.twin)
      tally.kernelComparisons++
      if (kernelLines.length > 0) fail(lane, "at the end of the sequence (kernels read back)", kernelLines)
      await measure(lane, "at the end of the sequence")
      if (lane.servicesRan) tally.withServices++
    } finally {
      await dropLab(kernel, runId)
    }
  }

  it(
    `${runs * lanes} generated multi-host sequences (${lanes} at a time), at most ${maxCommands} commands after a starting topology`,
    { timeout: TIME_LIMIT_MS + 60_000 },
    async () => {
      const started = Date.now()
      const sequence = fc.tuple(mhLabSpec, mhTopology(kinds, size), mhCommands(kinds, size))
      await fc.assert(
        fc.asyncProperty(fc.array(sequence, { minLength: lanes, maxLength: lanes }), async (sequences) => {
          const everyCommand = runIndex++ % 3 === 0
          const settled = await Promise.allSettled(sequences.map(([spec, topology, tail], i) => runLane(i, spec, [...topology, ...tail], everyCommand)))
          const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected")
          if (failed) throw failed.reason
        }),
        {
          numRuns: runs,
          interruptAfterTimeLimit: TIME_LIMIT_MS,
          markInterruptAsFailure: true,
          ...replay,
        },
      )
      const hosts = [...tally.hosts].sort(([a], [b]) => a - b).map(([n, count]) => `${n} hosts ${count}`).join(", ")
      console.log(
        [
          `sequences: ${tally.sequences} (${hosts}; swarm ${tally.swarm}) in ${((Date.now() - started) / 1000).toFixed(1)} s, ${tally.measuredEveryCommand} of them measured after every command; commands: ${tally.commands}, ${tally.refused} refused on both`,
          `left out (both backends must build it): ${leftOut.map(([kind, why]) => `${kind} (${why})`).join("; ")}`,
          `services: ${tally.withServices} sequences ran one; ${tally.serviceCommands} service commands, ${tally.serviceRefused} refused on both`,
          `compared: ${tally.kernelComparisons} kernels read back, ${tally.measurements} measurements of ${tally.probes} probes between containers, ${tally.hostProbes} toHost probes, ${tally.questions} DNS questions, ${tally.connections} connections to services (${tally.races} probes left out: the model calls them races); divergences: 0`,
          `balanced round robin: ${tally.balanced} connections asked one at a time and compared answerer by answerer, ${tally.balancedOverSeveral} of them over two tasks or more; ${tally.turnPairs} pairs in a row through one balancer in the model's turn order`,
        ].join("\n"),
      )
      expect(tally.sequences).toBeGreaterThanOrEqual(runs * lanes)
      expect(tally.measuredEveryCommand * 3).toBeGreaterThanOrEqual(tally.sequences)
      // a fair share of the sequences run a service (measured: 55 and 64 of 100 in two default runs)
      expect(tally.withServices * 3, "sequences that ran a service, a third at least").toBeGreaterThanOrEqual(tally.sequences)
      expect(tally.connections, "connections compared").toBeGreaterThan(0)
      expect(tally.balancedOverSeveral, "round-robin connections over several tasks compared exactly").toBeGreaterThan(0)
      expect(namespacesNamed(`cnm-${RUN_TAG}${process.pid.toString(36)}`)).toEqual([])
    },
  )
})
