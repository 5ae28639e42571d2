import { type ErrorCode, errorCodes, labErrorCodes } from "../../model/errors.ts"
import * as model from "../../model/index.ts"

export const commandKinds = [
  "createNetwork",
  "removeNetwork",
  "createContainer",
  "createContainers",
  "removeContainer",
  "connect",
  "disconnect",
] as const
export type CommandKind = (typeof commandKinds)[number]

/** what a DNS question is meant to exercise (see questions.ts) */
export const questionKinds = ["container", "alias", "name.network", "must-not-resolve"] as const
export type QuestionKind = (typeof questionKinds)[number]

/**
 * The error codes a single-host lab of bridge, host and null networks can answer: the model's
 * codes (the contract's table) without KernelError, which only a backend fault gives, and without the
 * codes only several hosts or a swarm give (model labErrorCodes); those of published ports
 * (portErrorCodes) included: the generated containers publish ports.
 */
export const singleHostErrorCodes: ReadonlyArray<ErrorCode> = errorCodes.filter((code) => code !== "KernelError" && !labErrorCodes.includes(code))

/**
 * The least a run must have covered. Shares are of all checks (or of all commands of a kind);
 * a run that falls below any of them fails, so a generator that drifts into trivial sequences
 * is caught instead of passing quietly.
 */
export interface Floors {
  readonly sequences: number
  /** share of checks that saw 3 or more containers on 2 or more networks */
  readonly richChecks: number
  /** share of successes, per kind of command */
  readonly successes: Readonly<Partial<Record<CommandKind, number>>>
  /** every one of these codes must have been answered at least `timesEach` times */
  readonly codes: ReadonlyArray<ErrorCode>
  readonly timesEach: number
  /** probes per check, on average; and the share of them that answered */
  readonly probesPerCheck: number
  readonly reachableShare: number
  /** gateway probes, in all */
  readonly gatewayProbes: number
  /** DNS questions of each kind, in all; and the share of "container" and "alias" ones answered */
  readonly questions: Readonly<Partial<Record<QuestionKind, number>>>
  readonly answeredShare: number
  /** connections (published ports, hairpin, outside) by measured outcome, in all; none for runs without an outside machine */
  readonly connections?: Readonly<Partial<Record<string, number>>>
  /** connections whose path the model names (its prediction's path), in all, each */
  readonly connectionPaths?: Readonly<Partial<Record<string, number>>>
}

export const share = (part: number, whole: number): number => (whole === 0 ? 0 : part / whole)
export const percent = (value: number): string => `${(value * 100).toFixed(1)}%`

/**
 * What a model-based run covered: how big the labs were when they were checked, how often each
 * command succeeded, which refusals came up, how many probes and DNS questions were asked.
 */
export class Coverage {
  sequences = 0
  checks = 0
  /** checks by number of containers (the last bucket holds that many and more) */
  readonly containersPerCheck = [0, 0, 0, 0, 0, 0]
  /** checks by number of networks holding endpoints with addresses (last bucket: that many and more) */
  readonly networksPerCheck = [0, 0, 0, 0, 0]
  richChecks = 0
  readonly tried = new Map<CommandKind, number>()
  readonly succeeded = new Map<CommandKind, number>()
  readonly codes = new Map<string, number>()
  /** refusals by kind of command: which command reaches which code */
  readonly codesOf = new Map<CommandKind, Map<string, number>>()
  probes = 0
  reachable = 0
  gatewayProbes = 0
  kernelReads = 0
  readonly asked = new Map<QuestionKind, number>()
  /** connections by measured outcome, by the predicted path, and those the model does not predict */
  readonly connectionOutcomes = new Map<string, number>()
  readonly connectionPaths = new Map<string, number>()
  unpredictedConnections = 0
  readonly answered = new Map<QuestionKind, number>()

  command(kind: CommandKind, code: string | undefined): void {
    this.tried.set(kind, (this.tried.get(kind) ?? 0) + 1)
    if (code === undefined) this.succeeded.set(kind, (this.succeeded.get(kind) ?? 0) + 1)
    else {
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1)
      const codes = this.codesOf.get(kind) ?? new Map<string, number>()
      codes.set(code, (codes.get(code) ?? 0) + 1)
      this.codesOf.set(kind, codes)
    }
  }

  /** a check of the lab in this state */
  check(state: model.CnmState): void {
    this.checks++
    const containers = model.containers(state).length
    const networks = new Set(model.endpoints(state).flatMap((e) => (e.address === undefined ? [] : [e.network]))).size
    this.containersPerCheck[Math.min(containers, this.containersPerCheck.length - 1)]! += 1
    this.networksPerCheck[Math.min(networks, this.networksPerCheck.length - 1)]! += 1
    if (containers >= 3 && networks >= 2) this.richChecks++
  }

  probe(reachable: boolean, gateway = false): void {
    this.probes++
    if (reachable) this.reachable++
    if (gateway) this.gatewayProbes++
  }

  connection(predicted: { readonly outcome: string | undefined; readonly path: string }, measured: string): void {
    this.connectionOutcomes.set(measured, (this.connectionOutcomes.get(measured) ?? 0) + 1)
    this.connectionPaths.set(predicted.path, (this.connectionPaths.get(predicted.path) ?? 0) + 1)
    if (predicted.outcome === undefined) this.unpredictedConnections++
  }

  question(kind: QuestionKind, answered: boolean): void {
    this.asked.set(kind, (this.asked.get(kind) ?? 0) + 1)
    if (answered) this.answered.set(kind, (this.answered.get(kind) ?? 0) + 1)
  }

  private successShare(kind: CommandKind): number {
    return share(this.succeeded.get(kind) ?? 0, this.tried.get(kind) ?? 0)
  }

  private answeredShare(): number {
    const kinds: ReadonlyArray<QuestionKind> = ["container", "alias"]
    const asked = kinds.reduce((sum, kind) => sum + (this.asked.get(kind) ?? 0), 0)
    const answered = kinds.reduce((sum, kind) => sum + (this.answered.get(kind) ?? 0), 0)
    return share(answered, asked)
  }

  /** the distribution, one line per aspect, next to the floors it is held to */
  report(floors: Floors): string {
    const histogram = (counts: ReadonlyArray<number>) =>
      counts.map((count, n) => `${n}${n === counts.length - 1 ? "+" : ""}: ${percent(share(count, this.checks))}`).join(", ")
    const commands = [...this.tried.keys()]
      .map((kind) => {
        const floor = floors.successes[kind]
        return `${kind} ${percent(this.successShare(kind))} of ${this.tried.get(kind)}${floor === undefined ? "" : ` (floor ${percent(floor)})`}`
      })
      .join("; ")
    const codes = [...this.codes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([code, n]) => `${code} ${n}`)
    const missing = floors.codes.filter((code) => (this.codes.get(code) ?? 0) < floors.timesEach)
    const questions = questionKinds
      .map((kind) => `${kind} ${this.asked.get(kind) ?? 0} (${this.answered.get(kind) ?? 0} answered)`)
      .join(", ")
    return [
      `sequences: ${this.sequences} (floor ${floors.sequences}); checks: ${this.checks}; kernel read-backs: ${this.kernelReads}`,
      `containers per check: ${histogram(this.containersPerCheck)}`,
      `networks with endpoints per check: ${histogram(this.networksPerCheck)}`,
      `checks seeing 3+ containers on 2+ networks: ${percent(share(this.richChecks, this.checks))} (floor ${percent(floors.richChecks)})`,
      `successes: ${commands}`,
      `codes reached (${this.codes.size}, each at least ${floors.timesEach} times): ${codes.join(", ")}${missing.length > 0 ? `; BELOW: ${missing.join(", ")}` : ""}`,
      ...[...this.codesOf].map(
        ([kind, codes]) =>
          `  ${kind} refused with ${[...codes].sort(([, a], [, b]) => b - a).map(([code, n]) => `${code} ${n}`).join(", ")}`,
      ),
      `probes: ${this.probes}, ${(this.probes / Math.max(1, this.checks)).toFixed(1)} per check (floor ${floors.probesPerCheck}), ` +
        `${percent(share(this.reachable, this.probes))} answered (floor ${percent(floors.reachableShare)}), ` +
        `${this.gatewayProbes} to gateways (floor ${floors.gatewayProbes})`,
      `DNS questions: ${questions}; container and alias questions answered: ${percent(this.answeredShare())} (floor ${percent(floors.answeredShare)})`,
      ...(this.connectionOutcomes.size === 0 ? [] : [this.connectionReport(floors)]),
    ].join("\n")
  }

  private connectionReport(floors: Floors): string {
    const counted = (counts: ReadonlyMap<string, number>, floor: Readonly<Partial<Record<string, number>>> | undefined) =>
      [...counts].sort(([, a], [, b]) => b - a).map(([key, n]) => `${key} ${n}${floor?.[key] === undefined ? "" : ` (floor ${floor[key]})`}`).join(", ")
    const total = [...this.connectionOutcomes.values()].reduce((a, b) => a + b, 0)
    return [
      `connections: ${total}, ${this.unpredictedConnections} not predicted by the model (only reported); by outcome: ${counted(this.connectionOutcomes, floors.connections)}`,
      `  by path: ${counted(this.connectionPaths, floors.connectionPaths)}`,
    ].join("\n")
  }

  /** every floor the run fell below, readably; empty when the run covered enough */
  shortfalls(floors: Floors): string[] {
    const lines: string[] = []
    const below = (what: string, value: number, floor: number, show: (n: number) => string = String) => {
      if (value < floor) lines.push(`${what}: ${show(value)} < floor ${show(floor)}`)
    }
    below("sequences", this.sequences, floors.sequences)
    below("checks seeing 3+ containers on 2+ networks", share(this.richChecks, this.checks), floors.richChecks, percent)
    for (const [kind, floor] of Object.entries(floors.successes) as Array<[CommandKind, number]>) {
      below(`successes of ${kind}`, this.successShare(kind), floor, percent)
    }
    for (const code of floors.codes) below(`error code ${code} reached`, this.codes.get(code) ?? 0, floors.timesEach)
    below("probes per check", this.probes / Math.max(1, this.checks), floors.probesPerCheck)
    below("share of probes answered", share(this.reachable, this.probes), floors.reachableShare, percent)
    below("gateway probes", this.gatewayProbes, floors.gatewayProbes)
    for (const [kind, floor] of Object.entries(floors.questions) as Array<[QuestionKind, number]>) {
      below(`DNS questions of kind ${kind}`, this.asked.get(kind) ?? 0, floor)
    }
    below("share of container and alias questions answered", this.answeredShare(), floors.answeredShare, percent)
    for (const [outcome, floor] of Object.entries(floors.connections ?? {})) below(`connections measured ${outcome}`, this.connectionOutcomes.get(outcome) ?? 0, floor ?? 0)
    for (const [path, floor] of Object.entries(floors.connectionPaths ?? {})) below(`connections by path ${path}`, this.connectionPaths.get(path) ?? 0, floor ?? 0)
    return lines
  }
}
