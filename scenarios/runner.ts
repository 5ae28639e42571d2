import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import type { DnsQueryResult } from "../backends/kernel-types.ts"
import { openKernel } from "../backends/open.ts"
import { Lab, OUTSIDE } from "../controller/Lab.ts"
import { measureReach, type ReachEntry } from "../controller/measure.ts"
import type { CnmError } from "../model/errors.ts"
import type { LabEndpoint, LabNetworkRow } from "../model/lab-queries.ts"
import { stripPrefix } from "../model/cidr.ts"
import { isReplica, usesEmbeddedDns } from "../model/connect-predict.ts"
import type { Endpoint } from "../model/types.ts"
import { type ConnectTry, connectDifferences, connectRow, type ReportConnect } from "./report-connect.ts"
import type { ConnectExpectation } from "./schema-services.ts"
import type {
  Report,
  ReportEndpoint,
  ReportExpectation,
  ReportNetwork,
  ReportReach,
  ReportReachHost,
  ReportResolve,
  ReportStep,
} from "./report.ts"
import type { ContainerReachExpectation, Expectations, HostReachExpectation, ResolveExpectation, Scenario, Step } from "./schema.ts"

export interface RunOptions {
  readonly backend: "sim" | "linux"
  /** record each probe's hop-by-hop walk in the report */
  readonly trace?: boolean
  /** aborted (Ctrl-C): stop after the current operation, tear down, reject */
  readonly signal?: AbortSignal
  readonly onProgress?: (event: string) => void
}

/** probes in flight at once: the real kernel spends a full timeout on every unanswered echo */
const PROBE_CONCURRENCY = 64

export class RunAborted extends Error {
  constructor() {
    super("the run was interrupted")
  }
}

/**
 * Build a scenario on a backend, run its steps, measure and check, tear down. The reach matrix and
 * the DNS answers are measured through the backend (probes, real queries), never taken from the model.
 */
export const runScenario = async (scenario: Scenario, options: RunOptions): Promise<Report> => {
  const kernel = await openKernel(options.backend)
  try {
    return await Effect.runPromise(runOn(kernel, scenario, options))
  } finally {
    await Effect.runPromise(kernel.close())
  }
}

/** the run itself, on a kernel the caller owns (tests use this with a kernel they inspect) */
export const runOn = (kernel: KernelShape, scenario: Scenario, options: RunOptions): Effect.Effect<Report, Error> =>
  Effect.gen(function* () {
    const progress = options.onProgress ?? (() => {})
    const checkAbort = Effect.suspend(() => (options.signal?.aborted ? Effect.fail(new RunAborted()) : Effect.void))
    const started = performance.now()
    const lab = yield* Lab.make(kernel, {
      hosts: scenario.hosts,
      runId: runId(),
      swarm: scenario.swarm,
      ...(scenario.underlay !== undefined ? { underlay: scenario.underlay } : {}),
      ...(scenario.outside !== undefined ? { outside: scenario.outside } : {}),
    }).pipe(Effect.mapError(asError("setting up the hosts")))
    progress(`setup: ${scenario.hosts.length} host(s), ${scenario.networks.length} network(s), ${scenario.containers.length} container(s)`)
    for (const network of scenario.networks) {
      yield* checkAbort
      yield* lab.createNetwork(network).pipe(Effect.mapError(asError(`network ${network.name}`)))
    }
    yield* checkAbort
    // made together: the kernel does each kind of step for all of them faster than one by one
    yield* lab
      .createContainers(scenario.containers.map(containerRequest))
      .pipe(Effect.mapError(asError("containers")))
    for (const service of scenario.services ?? []) {
      yield* checkAbort
      yield* lab.createService(service).pipe(Effect.mapError(asError(`service ${service.name}`)))
    }
    const setupMs = performance.now() - started

    const checkStarted = performance.now()
    const steps: ReportStep[] = []
    const expectations: ReportExpectation[] = []
    const resolve: ReportResolve[] = []
    const connect: ReportConnect[] = []
    let stepsOk = true
    for (const [index, step] of scenario.steps.entries()) {
      yield* checkAbort
      progress(`step ${index} (${index + 1} of ${scenario.steps.length}): ${describeStep(step)}`)
      if (step.op === "expect") {
        const checked = yield* check(lab, step.expect, index)
        expectations.push(...checked.expectations)
        resolve.push(...checked.resolve)
        connect.push(...checked.connect)
        steps.push({ index, op: step.op, ok: true })
        continue
      }
      const outcome = yield* Effect.result(runStep(lab, step))
      const error = outcome._tag === "Failure" ? outcome.failure : undefined
      steps.push({ index, op: step.op, ok: error === undefined, ...(error ? { error: { code: error.code, message: error.message } } : {}) })
      if (step.expectError !== undefined) {
        const held = error?.code === step.expectError
        if (!held) stepsOk = false
        expectations.push({
          kind: "error",
          ok: held,
          step: index,
          expected: { code: step.expectError },
          actual: error ? { code: error.code, message: error.message } : { code: null },
        })
      } else if (error) {
        stepsOk = false
      }
    }

    yield* checkAbort
    const matrix = yield* measureReach(lab, { concurrency: PROBE_CONCURRENCY }).pipe(Effect.mapError(asError("measuring reach")))
    progress(`measured reach: ${matrix.length} probe(s)`)
    const hostMatrix = scenario.severalHosts ? yield* measureReachHosts(lab) : undefined
    if (hostMatrix !== undefined) progress(`measured the hosts' underlay addresses: ${hostMatrix.length} probe(s)`)
    const final = yield* check(lab, scenario.expect, undefined, matrix, hostMatrix)
    expectations.push(...final.expectations)
    resolve.push(...final.resolve)
    connect.push(...final.connect)
    const reach: ReportReach[] = options.trace ? yield* traced(lab, matrix) : matrix.map(toReportReach)
    const checkMs = performance.now() - checkStarted

    const teardownStarted = performance.now()
    const gaps = lab.dataPathGaps()
    const report: Omit<Report, "timings"> = {
      version: 1,
      scenario: scenario.name,
      backend: kernel.backend,
      ok: stepsOk && expectations.every((e) => e.ok),
      networks: lab.networkRows().map((row) => toReportNetwork(row, scenario.severalHosts)),
      endpoints: lab.endpoints().filter(hasAddress).map((e) => toReportEndpoint(e, scenario.severalHosts)),
      reach,
      ...(hostMatrix !== undefined ? { reachHosts: hostMatrix } : {}),
      resolve,
      ...(gaps.length > 0 ? { dataPathGaps: gaps.map((gap) => ({ ...gap })) } : {}),
      ...(hasConnectRows(scenario) ? { connect } : {}),
      steps,
      expectations,
    }
    yield* lab.close()
    const timings = { setupMs: round(setupMs), checkMs: round(checkMs), teardownMs: round(performance.now() - teardownStarted) }
    return { ...report, timings }
  })

const runStep = (lab: Lab, step: Exclude<Step, { op: "expect" }>): Effect.Effect<unknown, CnmError> => {
  switch (step.op) {
    case "connect":
      return lab.connect(step.container, {
        network: step.network,
        aliases: step.aliases,
        ...(step.ip !== undefined ? { ip: step.ip } : {}),
      })
    case "disconnect":
      return lab.disconnect(step.container, step.network)
    case "createNetwork":
      return lab.createNetwork(step.network)
    case "removeNetwork":
      return lab.removeNetwork(step.name, step.host)
    case "createContainer":
      return lab.createContainer(containerRequest(step.container))
    case "removeContainer":
      return lab.removeContainer(step.name)
    case "createService":
      return lab.createService(step.service)
    case "removeService":
      return lab.removeService(step.name)
    case "scaleService":
      return lab.scaleService(step.name, step.placement)
  }
}

const containerRequest = (container: Scenario["containers"][number]) => ({
  name: container.name,
  host: container.host,
  networks: container.networks,
  ...(container.ports !== undefined ? { ports: container.ports } : {}),
  ...(container.listen !== undefined ? { listen: container.listen } : {}),
})

const hasConnectRows = (scenario: Scenario): boolean =>
  [scenario.expect, ...scenario.steps.flatMap((step) => (step.op === "expect" ? [step.expect] : []))].some((block) => block.connect !== undefined)

interface Checked {
  readonly expectations: ReadonlyArray<ReportExpectation>
  readonly resolve: ReadonlyArray<ReportResolve>
  readonly connect: ReadonlyArray<ReportConnect>
}

/**
 * Check expectations against measurements: reach from the given matrix, or from probes made now
 * for exactly the addresses asked about (in-step checks); resolve with real queries.
 *
 * A check names containers the file defines, but they may not exist at this point (removed, not
 * created yet, or their creating step failed). From such a container nothing is probed or asked:
 * it reaches nothing and resolves nothing, as `docker exec` there answers "No such container". To
 * such a container there is no address to reach, so it is unreachable, as a Docker user's
 * `ping NAME` finds no address (the fixtures names-*.yaml recorded both on Docker 20.10).
 */
const check = (
  lab: Lab,
  expect: Expectations,
  step: number | undefined,
  matrix?: ReadonlyArray<ReachEntry>,
  hostMatrix?: ReadonlyArray<ReportReachHost>,
) =>
  Effect.gen(function* () {
    const atStep = step === undefined ? {} : { step }
    const exists = (container: string): boolean => lab.controllerOf(container) !== undefined
    const absentFrom = (from: string) => (exists(from) ? {} : { fromExists: false })
    // probe every address asked about at once: on the real kernel an unanswered echo costs its timeout
    const reachChecks = yield* Effect.forEach(
      expect.reach,
      (expected) =>
        "toHost" in expected
          ? checkHostReach(lab, expected, atStep, hostMatrix)
          : Effect.forEach(
              exists(expected.from) ? addressesOf(lab, expected) : [],
              (target) => {
                const known = matrix?.find((m) => m.from === expected.from && m.address === target.address && m.to === expected.to)
                const reachable = known
                  ? Effect.succeed(known.reachable)
                  : lab.probe(expected.from, target.address).pipe(
                      Effect.map((r) => r.reachable),
                      Effect.mapError(asError("probe")),
                    )
                return reachable.pipe(Effect.map((r) => ({ ...target, reachable: r })))
              },
              { concurrency: "unbounded" },
            ).pipe(
              Effect.map(
                (measured): ReportExpectation => ({
                  kind: "reach",
                  // a container without addresses (on none, host, or on no network) is unreachable by definition
                  ok: measured.length === 0 ? !expected.reachable : measured.every((m) => m.reachable === expected.reachable),
                  ...atStep,
                  expected: { ...expected },
                  actual: {
                    from: expected.from,
                    to: expected.to,
                    ...(expected.network !== undefined ? { network: expected.network } : {}),
                    reachable: measured.length > 0 && measured.every((m) => m.reachable),
                    addresses: measured,
                    ...absentFrom(expected.from),
                  },
                }),
              ),
            ),
      { concurrency: PROBE_CONCURRENCY },
    )
    const expectations: ReportExpectation[] = [...reachChecks]
    const ask = (expected: ResolveExpectation): Effect.Effect<DnsQueryResult | undefined, Error> =>
      exists(expected.from) ? lab.resolve(expected.from, expected.name).pipe(Effect.mapError(asError("resolve"))) : Effect.succeed(undefined)
    // one question at a time, in the file's order: a shared alias's answer starts one holder further
    // on at each question its host's resolver answers, so questions in flight together would take
    // their turns in whatever order the real kernel delivered them (and each is answered in ms)
    const answers = yield* Effect.forEach(expect.resolve, (expected) => ask(expected).pipe(Effect.map((answer) => ({ expected, answer }))))
    const resolve: ReportResolve[] = []
    for (const { expected, answer } of answers) {
      const addresses = [...(answer?.addresses ?? [])]
      resolve.push({ from: expected.from, name: expected.name, addresses })
      if (expected.addresses === undefined) continue
      expectations.push({
        kind: "resolve",
        ok: sameSet(addresses, expected.addresses),
        ...atStep,
        expected: { ...expected },
        actual: { from: expected.from, name: expected.name, addresses, ...(answer ? { rcode: answer.rcode } : absentFrom(expected.from)) },
      })
    }
    // one check after the other: a check with `count` is a sequence of connections, as a client makes them
    const connect = yield* Effect.forEach(expect.connect ?? [], (expected) => measureConnect(lab, expected, step))
    for (const [index, row] of connect.entries()) {
      const expected = (expect.connect ?? [])[index] as ConnectExpectation
      const differences = connectDifferences(expected, row)
      expectations.push({ kind: "connect", ok: differences.length === 0, ...atStep, expected: { ...expected }, actual: { ...row, ...(differences.length > 0 ? { differences } : {}) } })
    }
    return { expectations, resolve, connect } satisfies Checked
  })

/**
 * One connect row, measured: `count` connections (one without it) through the backend's sockets,
 * from a container's sandbox, a host's namespace or the outside machine. A name is looked up for
 * every connection as a client does: through the client's embedded DNS, taking the first answer
 * (nothing is sent when it has none); a container's address directly only on the network asked
 * for, or for a client without the embedded DNS (one it shares with the client, else its first).
 */
const measureConnect = (lab: Lab, expected: ConnectExpectation, step: number | undefined): Effect.Effect<ReportConnect, Error> =>
  Effect.gen(function* () {
    if (expected.target.kind === "outside") yield* lab.listenOutside(expected.port, expected.proto).pipe(Effect.mapError(asError("outside")))
    const exists = expected.from === OUTSIDE || lab.hosts.includes(expected.from) || lab.controllerOf(expected.from) !== undefined
    const tries: ConnectTry[] = []
    for (let i = 0; i < (expected.count ?? 1); i++) {
      const address = exists ? yield* targetAddress(lab, expected) : undefined
      if (address === undefined) {
        tries.push({ address: null, outcome: "unreachable", answeredBy: null, seenFrom: null })
        continue
      }
      const result = yield* lab.connectFrom(expected.from, address, expected.port, expected.proto).pipe(Effect.mapError(asError("connect")))
      tries.push({ address, outcome: result.outcome, answeredBy: result.answeredBy ?? null, seenFrom: result.seenFrom ?? null })
    }
    return connectRow(expected, tries, step)
  })

const targetAddress = (lab: Lab, expected: ConnectExpectation): Effect.Effect<string | undefined, Error> => {
  const target = expected.target
  switch (target.kind) {
    case "outside":
      return Effect.succeed(lab.outsideAddress)
    case "address":
      return Effect.succeed(target.address)
    case "hostPort":
      return Effect.succeed(lab.hostAddresses().find((host) => host.name === target.host)?.address)
    case "name": {
      const own = lab.endpoints().filter((e) => e.container === target.name && e.address !== undefined)
      // a client with the embedded DNS asks it, as a Docker client does: its network order decides
      // the address, and a name a service or another container's alias shares is answered with all
      // of them (round robin)
      if (own.length > 0 && (expected.network !== undefined || isReplica(lab.state, target.name) || !usesEmbeddedDns(lab.state, expected.from))) {
        const shared = lab.endpoints().filter((e) => e.container === expected.from).map((e) => e.network)
        const chosen =
          own.find((e) => e.network === expected.network) ??
          (expected.network === undefined ? (own.find((e) => shared.includes(e.network)) ?? own[0]) : undefined)
        return Effect.succeed(chosen === undefined ? undefined : stripPrefix(chosen.address as string))
      }
      if (lab.controllerOf(expected.from) === undefined) return Effect.succeed(undefined)
      return lab.resolve(expected.from, target.name).pipe(
        Effect.map((answer) => answer.addresses[0]),
        Effect.mapError(asError("resolve")),
      )
    }
  }
}

/**
 * A container against a host's underlay address, with a real probe (or the final matrix's). From a
 * container that does not exist at this point nothing is probed: it reaches nothing.
 */
const checkHostReach = (
  lab: Lab,
  expected: HostReachExpectation,
  atStep: { readonly step?: number },
  hostMatrix: ReadonlyArray<ReportReachHost> | undefined,
): Effect.Effect<ReportExpectation, Error> =>
  Effect.gen(function* () {
    const address = lab.hostAddresses().find((host) => host.name === expected.toHost)?.address
    const exists = lab.controllerOf(expected.from) !== undefined
    const known = hostMatrix?.find((row) => row.from === expected.from && row.host === expected.toHost)
    const reachable =
      !exists || address === undefined
        ? false
        : known !== undefined
          ? known.reachable
          : (yield* lab.probeHost(expected.from, expected.toHost).pipe(Effect.mapError(asError("probe")))).reachable
    return {
      kind: "reach",
      ok: reachable === expected.reachable,
      ...atStep,
      expected: { ...expected },
      actual: {
        from: expected.from,
        toHost: expected.toHost,
        ...(address !== undefined ? { address } : {}),
        reachable,
        ...(exists ? {} : { fromExists: false }),
      },
    }
  })

/** every container against every host's underlay address, with real probes (the report's reachHosts) */
const measureReachHosts = (lab: Lab): Effect.Effect<ReadonlyArray<ReportReachHost>, Error> =>
  Effect.forEach(
    lab.containers().flatMap((from) => lab.hostAddresses().map((host) => ({ from, host: host.name, address: host.address }))),
    (row) =>
      lab.probeHost(row.from, row.host).pipe(
        Effect.map((r): ReportReachHost => ({ ...row, reachable: r.reachable, reason: r.reason })),
        Effect.mapError(asError("probe")),
      ),
    { concurrency: PROBE_CONCURRENCY },
  )

const addressesOf = (lab: Lab, expected: ContainerReachExpectation): ReadonlyArray<{ network: string; address: string }> =>
  lab
    .endpoints()
    .filter((e) => e.container === expected.to && e.address && (expected.network === undefined || e.network === expected.network))
    .map((e) => ({ network: e.network, address: (e.address as string).split("/")[0] as string }))

const traced = (lab: Lab, matrix: ReadonlyArray<ReachEntry>) =>
  Effect.forEach(matrix, (entry) =>
    lab.probe(entry.from, entry.address, true).pipe(
      Effect.map((r) => ({ ...toReportReach(entry), ...(r.trace ? { trace: r.trace } : {}) })),
      Effect.mapError(asError("probe")),
    ),
  )

const toReportReach = (entry: ReachEntry): ReportReach => ({
  from: entry.from,
  to: entry.to,
  network: entry.network,
  address: entry.address,
  reachable: entry.reachable,
  reason: entry.reason,
})

/** scope and host only for a file that declares hosts: a single-host file's report stays as it was */
const toReportNetwork = ({ network: n, scope, host }: LabNetworkRow, severalHosts: boolean): ReportNetwork => ({
  name: n.name,
  driver: n.driver,
  // as Docker lists it: a user subnet as written, host bits included
  ...(n.configuredSubnet !== undefined ? { subnet: n.configuredSubnet } : {}),
  ...(n.gateway !== undefined ? { gateway: n.gateway } : {}),
  internal: n.internal,
  ...(severalHosts ? { scope, ...(host !== undefined ? { host } : {}) } : {}),
})

const hasAddress = (e: Endpoint): boolean => e.address !== undefined

/** no MAC for an ipvlan child, as `docker inspect` shows it; host only for a file that declares hosts */
const toReportEndpoint = (e: LabEndpoint, severalHosts: boolean): ReportEndpoint => ({
  container: e.container,
  network: e.network,
  address: e.address as string,
  ...(e.mac !== undefined ? { mac: e.mac } : {}),
  interface: e.ifname as string,
  ...(severalHosts ? { host: e.host } : {}),
})

const describeStep = (step: Step): string => {
  switch (step.op) {
    case "connect":
    case "disconnect":
      return `${step.op} ${step.container} ${step.op === "connect" ? "to" : "from"} ${step.network}`
    case "createNetwork":
      return `createNetwork ${step.network.name}`
    case "createContainer":
      return `createContainer ${step.container.name}`
    case "removeNetwork":
      return `removeNetwork ${step.name}${step.host !== undefined ? ` on ${step.host}` : ""}`
    case "removeContainer":
    case "removeService":
      return `${step.op} ${step.name}`
    case "createService":
      return `createService ${step.service.name}`
    case "scaleService":
      return `scaleService ${step.name} to ${step.replicas}`
    case "expect":
      return `expect (${step.expect.reach.length} reach, ${step.expect.resolve.length} resolve)`
  }
}

const sameSet = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  const sa = [...new Set(a)].sort()
  const sb = [...new Set(b)].sort()
  return sa.length === sb.length && sa.every((v, i) => v === sb[i])
}

const asError =
  (what: string) =>
  (error: CnmError | Error): Error =>
    error instanceof Error ? error : new Error(`${what}: ${error.code}: ${error.message}`)

const round = (ms: number): number => Math.round(ms * 10) / 10

/** short and unique enough that concurrent runs on one machine never share a namespace name */
const runId = (): string => `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`

