import { Effect } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import * as model from "../../model/index.ts"
import { needsRoot, root } from "../linux/support.ts"
import { asyncCommands } from "../model-based/async-commands.ts"
import { labCommands, labTopology } from "../model-based/commands.ts"
import { initialModel, judgeOutcome, type LabCommand, type LabModel, type LabOperation } from "../model-based/LabModel.ts"
import { Divergence, replay } from "./divergence.ts"
import { dropLab, namespacesNamed, runIdSource } from "./linux-labs.ts"
import { compareEverything, compareGatewaysAndNames } from "./gateways-and-names.ts"
import { compareKernels, compareLabs, compareMeasurements, compareOutcomes, dnsQuestions, makeTwinLab, type TwinLab } from "./twin-lab.ts"

/**
 * Differential: the same generated command sequences on a lab over the simulator and a lab over
 * the real kernel, side by side. After every command both must agree on the outcome and on what
 * the controllers decided. In every third run of the lanes (all runs with
 * CNMLAB_DIFF_REACH=every), after every command they must also agree on every namespace's kernel
 * state as read back, on the probe-measured reach matrix, on every container's probe of every
 * bridge gateway, on the DNS answers, and on the connections of the model-based tests (published
 * ports, hairpin, from and to the outside machine: outcome, answerer, seen source;
 * gateways-and-names.ts); in the other runs on all that at the end of each sequence. The
 * generated containers publish ports and serve (../model-based/serving.ts). Linux is the truth: a
 * divergence is a simulator bug until shown otherwise. The run prints how much it compared.
 *
 * Why not everything after every command everywhere: reading a namespace back on linux runs nft
 * in it (some 10 ms of a forked process), and a measurement waits out the probe timeout for every
 * address that must not answer, so a run measuring after every command takes several times one
 * that does not; measuring in whole runs lets twelve lanes wait together.
 *
 * Several sequences run at once, one lane each (its own linux kernel and labs): most of a
 * sequence's time is spent waiting (probe timeouts, the kernel's linkwatch settling new links),
 * and lanes wait together. CNMLAB_DIFF_RUNS × CNMLAB_DIFF_LANES sequences are run, of
 * CNMLAB_DIFF_COMMANDS commands at most after a starting topology. Replay with CNMLAB_SEED and
 * CNMLAB_PATH (fast-check prints both).
 */
const lanes = Number(process.env.CNMLAB_DIFF_LANES ?? 12)
const runs = Number(process.env.CNMLAB_DIFF_RUNS ?? 25)
const maxCommands = Number(process.env.CNMLAB_DIFF_COMMANDS ?? 5)
/** two user networks and three or four containers: rich enough to probe, cheap enough to build 300 times */
const topologySize = { maxNetworks: 2, maxContainers: 4 } as const
const reachEveryCommand = process.env.CNMLAB_DIFF_REACH === "every"
/**
 * The connections are compared unless CNMLAB_DIFF_CONNECT=0. Their first runs found two
 * divergences, both linux's: a container that lost its last network and joined another was
 * refused (stopping its resolver had closed its servers too), and a UDP exchange with a port
 * nobody serves timed out past the kernel's ICMP rate limit, which the namespaces cnmlab makes
 * now switch off (backends/linux/README.md, "Namespaces and sockets"). Cost: within the noise of
 * the run (300 sequences at load 10: 163 s with them, 179 s without, the same seed).
 */
const compareConnections = process.env.CNMLAB_DIFF_CONNECT !== "0"

/** an answer takes a millisecond; the margin is for the event loop, shared by all lanes */
const PROBE_TIMEOUT_MS = 250
/**
 * A connection's answer takes a few milliseconds (through DNAT or docker-proxy too). The backend's
 * default, 4 s, waits out Linux's unanswered ARP (EHOSTUNREACH after three requests a second
 * apart), which no generated connection meets (every address asked exists, and icc=false drops
 * IPv4 only); with it, every measurement with a dropped connection took 4 s, and 36 sequences
 * 28 s against 8 s without connections; with 500 ms, the 300 sequences of a default run take the
 * time given below.
 */
const CONNECT_TIMEOUT_MS = 500
/**
 * Measured: 144-163 s for the 300 sequences with the connections on this 2-core machine at load
 * average 9-10 (179 s without them, the same seed; 566 s before the measurement plane's later
 * changes), and not done in 1,500 s at load 18 (six other sessions and two busy loops on two
 * cores) back then. The bound guards
 * against a hang on a noisy CI machine and keeps CI under its 90 minutes; the rest of the test's
 * timeout is for shrinking a counterexample
 */
const TIME_LIMIT_MS = 2_700_000
const PROBE_CONCURRENCY = 64
const RUN_TAG = "dif"

/** runs 0, 3, 6, … compare everything after every command: a third of the sequences (or more) */
let runIndex = 0
const nextRunMeasures = (): boolean => reachEveryCommand || runIndex++ % 3 === 0

/** one sequence on one lane: what ran so far, for the report */
interface Lane {
  readonly index: number
  readonly twin: TwinLab
  readonly ran: string[]
  /** kernels, reach and DNS after every command, not only at the end */
  readonly measureEveryCommand: boolean
}

/** how much the run compared */
const tally = {
  sequences: 0,
  sequencesMeasuredEveryCommand: 0,
  commands: 0,
  kernelComparisons: 0,
  measurements: 0,
  probes: 0,
  gatewayProbes: 0,
  questions: 0,
  connections: 0,
}

const fail = (lane: Lane, when: string, lines: ReadonlyArray<string>): never => {
  throw new Divergence(`sim and linux diverge (lane ${lane.index}, namespaces cnm-${lane.twin.runId}-…) ${when}`, lines, lane.ran)
}

/** the reach matrix's probes: every container to every address of every other container */
const reachProbes = (twin: TwinLab): number => {
  const endpoints = twin.sim.endpoints().filter((e) => e.address !== undefined)
  return twin.sim.containers().reduce((sum, from) => sum + endpoints.filter((e) => e.container !== from).length, 0)
}

/**
 * `kernels`: read every namespace back on both (on linux that runs nft in each: the dearest part);
 * `measure`: "all" at the end of a sequence, "lean" after a command (compareEverything, one wait)
 */
const check = async (
  lane: Lane,
  when: string,
  what: { readonly kernels: boolean; readonly measure: "no" | "lean" | "all" },
): Promise<void> => {
  const lines = compareLabs(lane.twin)
  if (what.kernels) {
    lines.push(...(await compareKernels(lane.twin)))
    tally.kernelComparisons++
  }
  if (lines.length === 0 && what.measure !== "no") {
    const options = { concurrency: PROBE_CONCURRENCY }
    if (what.measure === "all") {
      // at the end of a sequence: compareMeasurements' own questions too, both at once (a
      // measurement is mostly waiting for the answers that never come)
      const [measured, more] = await Promise.all([compareMeasurements(lane.twin, options), compareGatewaysAndNames(lane.twin, options, compareConnections)])
      lines.push(...measured, ...more.lines)
      tally.probes += reachProbes(lane.twin)
      tally.gatewayProbes += more.probes
      tally.questions += dnsQuestions(lane.twin.sim).length + more.questions
      tally.connections += more.connections
    } else {
      const now = await compareEverything(lane.twin, options, compareConnections)
      lines.push(...now.lines)
      tally.probes += now.reach
      tally.gatewayProbes += now.probes
      tally.questions += now.questions
      tally.connections += now.connections
    }
    tally.measurements++
  }
  if (lines.length > 0) fail(lane, when, lines)
}

/** what the controllers decided, compared without reading the kernels */
const fastChecks = (lane: Lane, when: string): void => {
  const lines = compareLabs(lane.twin)
  if (lines.length > 0) fail(lane, when, lines)
}

const carryOut = async (m: LabModel, lane: Lane, operation: LabOperation, command: LabCommand): Promise<void> => {
  const expected = operation.onModel(m.lab)
  const onSim = Effect.runSync(Effect.result(operation.onLab(lane.twin.sim)))
  const onLinux = await Effect.runPromise(Effect.result(operation.onLab(lane.twin.linux)))
  lane.ran.push(`${command.toString()} → ${onSim._tag === "Success" ? "ok" : onSim.failure.code}`)
  tally.commands++
  const when = `after command ${lane.ran.length}, ${command.toString()}`
  const outcomes = compareOutcomes(onSim, onLinux)
  if (outcomes.length > 0) fail(lane, when, outcomes)
  // the model keeps choosing the commands' targets; its agreement with the sim is lab.sim.test.ts's job
  judgeOutcome(m, expected, onSim)
  // a refusal the model made itself never reached a kernel: nothing to read back
  if (!lane.measureEveryCommand) return fastChecks(lane, when)
  const kernelsUntouched = !expected.ok && onSim._tag === "Failure" && onSim.failure.code !== "KernelError"
  await check(lane, when, { kernels: !kernelsUntouched, measure: "lean" })
}

describe.skipIf(!root)(`differential: the simulator agrees with the real kernel (${needsRoot})`, () => {
  const kernels: KernelShape[] = []
  const nextRunId = runIdSource(RUN_TAG)

  beforeAll(async () => {
    for (let i = 0; i < lanes; i++) kernels.push(await makeLinuxKernel({ timeoutMs: PROBE_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS }))
  })

  afterAll(async () => {
    for (const kernel of kernels) await Effect.runPromise(kernel.close())
  })

  const runLane = async (index: number, commands: ReadonlyArray<LabCommand>, measureEveryCommand: boolean): Promise<void> => {
    const kernel = kernels[index] as KernelShape
    const runId = nextRunId()
    try {
      const lane: Lane = { index, twin: await makeTwinLab(kernel, runId), ran: [], measureEveryCommand }
      tally.sequences++
      if (lane.measureEveryCommand) tally.sequencesMeasuredEveryCommand++
      await check(lane, "right after the labs were made", { kernels: true, measure: "no" })
      const setup = async () => ({ model: initialModel("host1"), real: lane })
      await fc.asyncModelRun(setup, asyncCommands(commands, (l: Lane) => l.twin.sim, carryOut))
      await check(lane, "at the end of the sequence", { kernels: true, measure: "all" })
    } finally {
      await dropLab(kernel, runId)
    }
  }

  const sequence = fc.tuple(labTopology(topologySize), labCommands(undefined, { maxCommands }))

  it(
    `${runs * lanes} generated command sequences (${lanes} at a time), at most ${maxCommands} commands after a starting topology`,
    { timeout: TIME_LIMIT_MS + 60_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(sequence, { minLength: lanes, maxLength: lanes }), async (sequences) => {
          const measures = nextRunMeasures()
          const settled = await Promise.allSettled(sequences.map(([topology, tail], i) => runLane(i, [...topology, ...tail], measures)))
          const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected")
          if (failed) throw failed.reason
        }),
        {
          numRuns: runs,
          // a failure found late still gets reported (with the counterexample shrunk so far); a
          // run that is merely slow fails too, rather than pass with fewer sequences than asked
          interruptAfterTimeLimit: TIME_LIMIT_MS,
          markInterruptAsFailure: true,
          ...replay,
        },
      )
      console.log(
        [
          `sequences: ${tally.sequences}, of which ${tally.sequencesMeasuredEveryCommand} compared reach and DNS after every command; commands: ${tally.commands}`,
          `kernel and controller comparisons: ${tally.kernelComparisons}; reach and DNS comparisons: ${tally.measurements}`,
          `compared: ${tally.probes} probes between containers, ${tally.gatewayProbes} gateway probes, ${tally.questions} DNS questions, ${compareConnections ? `${tally.connections} connections (outcome, answerer, seen source)` : "no connections (CNMLAB_DIFF_CONNECT=0)"}; divergences: 0`,
        ].join("\n"),
      )
      expect(tally.sequences).toBeGreaterThanOrEqual(runs * lanes)
      expect(tally.sequencesMeasuredEveryCommand * 3).toBeGreaterThanOrEqual(tally.sequences)
      if (compareConnections) expect(tally.connections, "connections compared").toBeGreaterThan(0)
      expect(namespacesNamed(`cnm-${RUN_TAG}${process.pid.toString(36)}`)).toEqual([])
    },
  )
})
