/**
 * The report of one run: exactly the JSON object of the contract (`cnmlab run FILE --json`,
 * ../shared/spec/scenario-v1.md), plus `renderReport`, its text form for a terminal.
 */
import type { ReportConnect } from "./report-connect.ts"
import type { ErrorCode } from "../model/errors.ts"
import type { StepOperation } from "./schema.ts"

export interface ReportNetwork {
  readonly name: string
  readonly driver: string
  /** as Docker lists it (a user subnet as written, host bits included); absent for `host` and `none` */
  readonly subnet?: string
  readonly gateway?: string
  readonly internal: boolean
  /** files that declare hosts only: `swarm` (overlay, one network across the hosts) or `local` */
  readonly scope?: "local" | "swarm"
  /** files that declare hosts only: the host of a local-scope network (one row per host it is on) */
  readonly host?: string
}

/** only endpoints with an address: a container on `host` or `none` has none */
export interface ReportEndpoint {
  readonly container: string
  readonly network: string
  /** CIDR form, "10.1.0.2/24" */
  readonly address: string
  /** absent for an ipvlan child: it shares its parent's MAC, and `docker inspect` shows none */
  readonly mac?: string
  readonly interface: string
  /** files that declare hosts only: the host of the container */
  readonly host?: string
}

export interface ReportProbeHop {
  readonly ns: string
  readonly dev?: string
  readonly event: string
}

/** one cell of the matrix: every ordered pair of distinct containers × every address of the second */
export interface ReportReach {
  readonly from: string
  readonly to: string
  readonly network: string
  /** plain address, no prefix */
  readonly address: string
  readonly reachable: boolean
  /** optional, not in the contract's example: why the probe ended as it did (ProbeReason) */
  readonly reason?: string
  /** optional, with --trace: the hop-by-hop walk of the probe */
  readonly trace?: ReadonlyArray<ReportProbeHop>
}

/** every container against every host's underlay address (files that declare hosts) */
export interface ReportReachHost {
  readonly from: string
  readonly host: string
  /** plain address, no prefix */
  readonly address: string
  readonly reachable: boolean
  /** optional: why the probe ended as it did (ProbeReason) */
  readonly reason?: string
}

/** a network whose data path between hosts the kernel lacks a feature for */
export interface ReportDataPathGap {
  readonly network: string
  /** the kernel capability missing */
  readonly capability: string
  readonly message: string
}

/** what the container's resolver answered; [] when it did not resolve */
export interface ReportResolve {
  readonly from: string
  readonly name: string
  readonly addresses: ReadonlyArray<string>
}

/** `ok` is the operation's own outcome: a refusal the step expected is still `ok: false` */
export interface ReportStep {
  readonly index: number
  readonly op: StepOperation
  readonly ok: boolean
  readonly error?: { readonly code: ErrorCode; readonly message: string }
}

/** "error": a step's expectError (not in the contract's example; an extension) */
export type ExpectationKind = "reach" | "resolve" | "error" | "connect"

export interface ReportExpectation {
  readonly kind: ExpectationKind
  readonly ok: boolean
  /** the index of the step that checked it; absent for the final `expect` */
  readonly step?: number
  /** the expectation as the scenario wrote it */
  readonly expected: Readonly<Record<string, unknown>>
  /** what was measured, with the same keys where they apply */
  readonly actual: Readonly<Record<string, unknown>>
}

export interface ReportTimings {
  readonly setupMs: number
  readonly checkMs: number
  readonly teardownMs: number
}

export interface Report {
  readonly version: 1
  readonly scenario: string
  readonly backend: "sim" | "linux"
  /** false when an expectation failed, or a step failed without a matching expectError */
  readonly ok: boolean
  /** the predefined networks included */
  readonly networks: ReadonlyArray<ReportNetwork>
  readonly endpoints: ReadonlyArray<ReportEndpoint>
  readonly reach: ReadonlyArray<ReportReach>
  /** present when the file declares hosts */
  readonly reachHosts?: ReadonlyArray<ReportReachHost>
  readonly resolve: ReadonlyArray<ReportResolve>
  /**
   * optional, only when there is one: networks whose traffic between hosts this kernel cannot
   * carry as Docker builds it (an encrypted overlay without ESP), and why
   */
  readonly dataPathGaps?: ReadonlyArray<ReportDataPathGap>
  /** present when the file has connect checks: one row per check, in-step ones with their step */
  readonly connect?: ReadonlyArray<ReportConnect>
  readonly steps: ReadonlyArray<ReportStep>
  readonly expectations: ReadonlyArray<ReportExpectation>
  readonly timings: ReportTimings
}

export { renderReport } from "./report-text.ts"
export type { ReportConnect } from "./report-connect.ts"
