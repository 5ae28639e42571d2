import * as model from "../../../model/index.ts"
import { percent, share } from "../coverage.ts"
import type { ScaleKind } from "./commands/ScaleServiceCommand.ts"

/** what a connection check asks, for the distribution */
export const connectionKinds = ["name", "tasks", "vip", "mesh-outside", "mesh-host"] as const
export type ConnectionKind = (typeof connectionKinds)[number]

export const mhCommandKinds = [
  "createNetwork",
  "removeNetwork",
  "createContainer",
  "removeContainer",
  "connect",
  "disconnect",
  "createService",
  "scaleService",
  "removeService",
] as const
export type MhCommandKind = (typeof mhCommandKinds)[number]

/** the network kinds the generators make, as the distribution counts them */
export const networkKinds = [
  "bridge",
  "overlay",
  "overlay-internal",
  "overlay-mtu",
  "overlay-encrypted",
  "macvlan-eth0",
  "macvlan-vlan",
  "macvlan-dummy",
  "ipvlan-l2",
  "ipvlan-l3",
] as const
export type NetworkKind = (typeof networkKinds)[number]

/**
 * The least a multi-host run must cover; a run below any floor fails, so that a generator that
 * drifts into trivial labs is caught instead of passing quietly.
 */
export interface MhFloors {
  readonly sequences: number
  /** share of checks that saw containers on two hosts or more */
  readonly crossHostChecks: number
  readonly successes: Readonly<Partial<Record<MhCommandKind, number>>>
  /** each reached at least `timesEach` times */
  readonly codes: ReadonlyArray<model.ErrorCode>
  readonly timesEach: number
  /** successful creates of each kind, at least */
  readonly networksMade: Readonly<Partial<Record<NetworkKind, number>>>
  readonly probesPerCheck: number
  readonly reachableShare: number
  /** probes between containers on different hosts that answered, in all */
  readonly crossHostAnswers: number
  readonly hostProbes: number
  readonly questions: number
  readonly answeredShare: number
  /** checks with at least one service in the lab, as a share of all checks */
  readonly serviceChecks: number
  /** connections asked, in all, and of each kind at least */
  readonly connections: number
  readonly connectionsOfKind: Readonly<Partial<Record<ConnectionKind, number>>>
  /** connections answered, as a share of those asked */
  readonly connectionAnswers: number
  /** DNS questions about services (svc, tasks.svc, svc.network) */
  readonly serviceQuestions: number
  /** scales of each kind that succeeded, at least */
  readonly scales: Readonly<Partial<Record<ScaleKind, number>>>
  /** the codes each command must be refused with, each at least `commandCodesEach` times (the service commands' own refusals) */
  readonly commandCodes: Readonly<Partial<Record<MhCommandKind, ReadonlyArray<model.ErrorCode>>>>
  readonly commandCodesEach: number
  /** removeNetwork refused (ActiveEndpoints) for a service alone, at least */
  readonly inUseByService: number
}

const bump = <K>(map: Map<K, number>, key: K, by = 1): void => {
  map.set(key, (map.get(key) ?? 0) + by)
}
const histogram = (buckets: ReadonlyArray<number>): string =>
  buckets.map((n, i) => `${i}${i === buckets.length - 1 ? "+" : ""}: ${n}`).join(", ")

/** what a multi-host run covered */
export class MhCoverage {
  sequences = 0
  /** labs by host count, and how many formed a swarm */
  readonly labsByHosts = new Map<number, number>()
  swarmLabs = 0
  checks = 0
  crossHostChecks = 0
  readonly containersPerCheck = [0, 0, 0, 0, 0, 0, 0]
  readonly tried = new Map<MhCommandKind, number>()
  readonly succeeded = new Map<MhCommandKind, number>()
  readonly codes = new Map<string, number>()
  readonly codesOf = new Map<MhCommandKind, Map<string, number>>()
  readonly networksMade = new Map<NetworkKind, number>()
  probes = 0
  reachable = 0
  crossHostProbes = 0
  crossHostAnswers = 0
  /** predictions that depend on a race (an address held twice on a segment): not probed */
  races = 0
  hostProbes = 0
  hostAnswers = 0
  questions = 0
  answered = 0
  kernelReads = 0
  overlayPeersRead = 0
  routesRead = 0
  rulesRead = 0
  readonly servicesPerCheck = [0, 0, 0, 0]
  readonly servicesMade = new Map<string, number>()
  readonly scales = new Map<ScaleKind, number>()
  /** tasks a successful scale moved to another host */
  tasksMoved = 0
  readonly connectionsAsked = new Map<ConnectionKind, number>()
  readonly connectionOutcomes = new Map<string, number>()
  /** connections the model does not predict (a mix of listening and refusing replicas): measured, not judged */
  connectionsUnpredicted = 0
  serviceQuestions = 0
  serviceAnswered = 0
  /** removeNetwork refused because a service names the network, with no endpoint on it */
  networksInUseByService = 0
  vipsRead = 0
  balancerRulesRead = 0
  /** kinds of network a run left out, with why (the differential's capability gaps) */
  readonly leftOut = new Map<string, string>()

  lab(hosts: number, swarm: boolean): void {
    this.sequences++
    bump(this.labsByHosts, hosts)
    if (swarm) this.swarmLabs++
  }

  command(kind: MhCommandKind, code: string | undefined): void {
    bump(this.tried, kind)
    if (code === undefined) bump(this.succeeded, kind)
    else {
      bump(this.codes, code)
      const codes = this.codesOf.get(kind) ?? new Map<string, number>()
      bump(codes, code)
      this.codesOf.set(kind, codes)
    }
  }

  made(kind: NetworkKind): void {
    bump(this.networksMade, kind)
  }

  serviceMade(request: model.ServiceRequest): void {
    const ports = request.ports === undefined ? "" : request.ports.some((p) => p.includes("udp")) ? "+udp port" : "+port"
    bump(this.servicesMade, `${request.endpointMode ?? "vip"} ${request.placement.length} replicas${ports}`)
  }

  scaled(kind: ScaleKind, before: ReadonlyArray<string>, after: ReadonlyArray<string>): void {
    bump(this.scales, kind)
    this.tasksMoved += after.filter((host, i) => i < before.length && before[i] !== host).length
  }

  connection(kind: ConnectionKind, predicted: model.ConnectOutcome | undefined, measured: string): void {
    bump(this.connectionsAsked, kind)
    bump(this.connectionOutcomes, measured)
    if (predicted === undefined) this.connectionsUnpredicted++
  }

  inUseByService(): void {
    this.networksInUseByService++
  }

  serviceQuestion(answered: boolean): void {
    this.serviceQuestions++
    if (answered) this.serviceAnswered++
  }

  check(lab: model.LabState): void {
    this.servicesPerCheck[Math.min(lab.services.size, this.servicesPerCheck.length - 1)]! += 1
    this.checks++
    const containers = model.labContainers(lab)
    this.containersPerCheck[Math.min(containers.length, this.containersPerCheck.length - 1)]! += 1
    if (new Set(containers.map((row) => row.host)).size >= 2) this.crossHostChecks++
  }

  probe(reachable: boolean, crossHost: boolean): void {
    this.probes++
    if (reachable) this.reachable++
    if (crossHost) {
      this.crossHostProbes++
      if (reachable) this.crossHostAnswers++
    }
  }

  hostProbe(reachable: boolean): void {
    this.hostProbes++
    if (reachable) this.hostAnswers++
  }

  question(answered: boolean): void {
    this.questions++
    if (answered) this.answered++
  }

  private connectionCount(): number {
    return [...this.connectionsAsked.values()].reduce((a, b) => a + b, 0)
  }

  private successShare(kind: MhCommandKind): number {
    return share(this.succeeded.get(kind) ?? 0, this.tried.get(kind) ?? 0)
  }

  report(floors: MhFloors): string {
    const hosts = [...this.labsByHosts].sort(([a], [b]) => a - b).map(([n, labs]) => `${n} hosts ${labs}`).join(", ")
    const commands = mhCommandKinds
      .map((kind) => `${kind} ${percent(this.successShare(kind))} of ${this.tried.get(kind) ?? 0}${floors.successes[kind] === undefined ? "" : ` (floor ${percent(floors.successes[kind] as number)})`}`)
      .join(", ")
    const codes = [...this.codes].sort(([, a], [, b]) => b - a).map(([code, n]) => `${code} ${n}`)
    const missing = floors.codes.filter((code) => (this.codes.get(code) ?? 0) < floors.timesEach)
    const made = networkKinds.map((kind) => `${kind} ${this.networksMade.get(kind) ?? 0}`).join(", ")
    return [
      `sequences: ${this.sequences} (floor ${floors.sequences}): ${hosts}; swarm ${this.swarmLabs}, no swarm ${this.sequences - this.swarmLabs}`,
      `networks made, by kind: ${made}`,
      ...(this.leftOut.size > 0 ? [`left out: ${[...this.leftOut].map(([kind, why]) => `${kind} (${why})`).join("; ")}`] : []),
      `checks: ${this.checks}; containers per check: ${histogram(this.containersPerCheck)}; containers on 2+ hosts: ${percent(share(this.crossHostChecks, this.checks))} (floor ${percent(floors.crossHostChecks)})`,
      `successes: ${commands}`,
      `codes reached (each at least ${floors.timesEach} times): ${codes.join(", ")}${missing.length > 0 ? `; BELOW: ${missing.join(", ")}` : ""}`,
      ...[...this.codesOf].map(([kind, codes]) => `  ${kind} refused with ${[...codes].sort(([, a], [, b]) => b - a).map(([code, n]) => `${code} ${n}`).join(", ")}`),
      ...Object.entries(floors.commandCodes).flatMap(([kind, codes]) => {
        const missing = (codes ?? []).filter((code) => (this.codesOf.get(kind as MhCommandKind)?.get(code) ?? 0) < floors.commandCodesEach)
        return missing.length === 0 ? [] : [`  ${kind}: BELOW ${floors.commandCodesEach} times: ${missing.join(", ")}`]
      }),
      `probes: ${this.probes}, ${(this.probes / Math.max(1, this.checks)).toFixed(1)} per check (floor ${floors.probesPerCheck}), ${percent(share(this.reachable, this.probes))} answered (floor ${percent(floors.reachableShare)}); ` +
        `across hosts ${this.crossHostProbes}, ${this.crossHostAnswers} answered (floor ${floors.crossHostAnswers}); races left unprobed ${this.races}`,
      `toHost probes: ${this.hostProbes} (floor ${floors.hostProbes}), ${this.hostAnswers} answered`,
      `DNS questions: ${this.questions} (floor ${floors.questions}), ${percent(share(this.answered, this.questions))} answered (floor ${percent(floors.answeredShare)})`,
      `kernel read-backs: ${this.kernelReads}; overlay peers read back: ${this.overlayPeersRead}, routes ${this.routesRead}, firewall rules ${this.rulesRead}, VIP aliases ${this.vipsRead}, balancer rules ${this.balancerRulesRead}`,
      `services per check: ${histogram(this.servicesPerCheck)} (with one or more: ${percent(share(this.checks - (this.servicesPerCheck[0] ?? 0), this.checks))}, floor ${percent(floors.serviceChecks)})`,
      `services made: ${[...this.servicesMade].sort(([a], [b]) => (a < b ? -1 : 1)).map(([what, n]) => `${what} ${n}`).join(", ")}`,
      `scales that succeeded: ${[...this.scales].map(([kind, n]) => `${kind} ${n}${floors.scales[kind] === undefined ? "" : ` (floor ${floors.scales[kind]})`}`).join(", ")}; tasks moved to another host ${this.tasksMoved}`,
      `connections: ${this.connectionCount()} (floor ${floors.connections}): ${connectionKinds.map((kind) => `${kind} ${this.connectionsAsked.get(kind) ?? 0}`).join(", ")}; ` +
        `outcomes ${[...this.connectionOutcomes].sort(([, a], [, b]) => b - a).map(([outcome, n]) => `${outcome} ${n}`).join(", ")} (answered floor ${percent(floors.connectionAnswers)}); not predicted (measured only) ${this.connectionsUnpredicted}`,
      `DNS questions about services: ${this.serviceQuestions} (floor ${floors.serviceQuestions}), ${percent(share(this.serviceAnswered, this.serviceQuestions))} answered`,
      `removeNetwork refused for a service alone (no endpoint on the network): ${this.networksInUseByService} (floor ${floors.inUseByService})`,
    ].join("\n")
  }

  shortfalls(floors: MhFloors): string[] {
    const lines: string[] = []
    const below = (what: string, value: number, floor: number, show: (n: number) => string = String) => {
      if (value < floor) lines.push(`${what}: ${show(value)} < floor ${show(floor)}`)
    }
    below("sequences", this.sequences, floors.sequences)
    below("checks with containers on 2+ hosts", share(this.crossHostChecks, this.checks), floors.crossHostChecks, percent)
    for (const [kind, floor] of Object.entries(floors.successes) as Array<[MhCommandKind, number]>) below(`successes of ${kind}`, this.successShare(kind), floor, percent)
    for (const code of floors.codes) below(`error code ${code} reached`, this.codes.get(code) ?? 0, floors.timesEach)
    for (const [kind, floor] of Object.entries(floors.networksMade) as Array<[NetworkKind, number]>) below(`networks made of kind ${kind}`, this.networksMade.get(kind) ?? 0, floor)
    below("probes per check", this.probes / Math.max(1, this.checks), floors.probesPerCheck)
    below("share of probes answered", share(this.reachable, this.probes), floors.reachableShare, percent)
    below("probes across hosts answered", this.crossHostAnswers, floors.crossHostAnswers)
    below("toHost probes", this.hostProbes, floors.hostProbes)
    below("DNS questions", this.questions, floors.questions)
    below("share of DNS questions answered", share(this.answered, this.questions), floors.answeredShare, percent)
    below("checks with a service", share(this.checks - (this.servicesPerCheck[0] ?? 0), this.checks), floors.serviceChecks, percent)
    below("connections", this.connectionCount(), floors.connections)
    for (const [kind, floor] of Object.entries(floors.connectionsOfKind) as Array<[ConnectionKind, number]>) below(`connections of kind ${kind}`, this.connectionsAsked.get(kind) ?? 0, floor)
    below("share of connections answered", share(this.connectionOutcomes.get("answer") ?? 0, this.connectionCount()), floors.connectionAnswers, percent)
    below("DNS questions about services", this.serviceQuestions, floors.serviceQuestions)
    for (const [kind, floor] of Object.entries(floors.scales) as Array<[ScaleKind, number]>) below(`scales of kind ${kind}`, this.scales.get(kind) ?? 0, floor)
    below("removeNetwork refused for a service alone", this.networksInUseByService, floors.inUseByService)
    for (const [kind, codes] of Object.entries(floors.commandCodes) as Array<[MhCommandKind, ReadonlyArray<string>]>) {
      for (const code of codes) below(`${kind} refused with ${code}`, this.codesOf.get(kind)?.get(code) ?? 0, floors.commandCodesEach)
    }
    return lines
  }
}
