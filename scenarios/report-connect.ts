/**
 * The report's `connect` rows (the contract's "Ports, the outside world, services") and how a
 * measured row is judged against its expectation. Pure: the runner measures, this only compares.
 */
import type { ConnectOutcome } from "../model/connect-predict.ts"
import type { ConnectExpectation } from "./schema-services.ts"

/** one connection check as measured: with `count`, `answeredBy` counts per answerer */
export interface ReportConnect {
  readonly from: string
  /** as the file wrote it */
  readonly to: string
  /** the address and port tried; null when `to` gave no address */
  readonly address: string | null
  readonly port: number
  readonly proto: "tcp" | "udp"
  /** who answered (null: nobody); with `count`, how many of the connections each one answered */
  readonly answeredBy: string | null | Readonly<Record<string, number>>
  /** the source address the server saw (the first answer's); null when nobody answered */
  readonly seenFrom: string | null
  /** with `count`: the outcome most connections had */
  readonly outcome: ConnectOutcome
  /** with `count`: how many connections had each outcome */
  readonly outcomes?: Readonly<Partial<Record<ConnectOutcome, number>>>
  /** the step of an in-step check */
  readonly step?: number
}

/** one try of a connection: what the backend measured */
export interface ConnectTry {
  readonly address: string | null
  readonly outcome: ConnectOutcome
  readonly answeredBy: string | null
  readonly seenFrom: string | null
}

/** the tries of one check → its report row (a single try unless the check has `count`) */
export const connectRow = (expected: ConnectExpectation, tries: ReadonlyArray<ConnectTry>, step?: number): ReportConnect => {
  const first = tries[0]
  const answered = tries.find((entry) => entry.answeredBy !== null)
  const base = {
    from: expected.from,
    to: expected.to,
    address: first?.address ?? null,
    port: expected.port,
    proto: expected.proto,
    seenFrom: answered?.seenFrom ?? null,
    ...(step !== undefined && { step }),
  }
  if (expected.count === undefined) {
    return { ...base, answeredBy: first?.answeredBy ?? null, outcome: first?.outcome ?? "timeout" }
  }
  const answeredBy: Record<string, number> = {}
  const outcomes: Partial<Record<ConnectOutcome, number>> = {}
  for (const entry of tries) {
    if (entry.answeredBy !== null) answeredBy[entry.answeredBy] = (answeredBy[entry.answeredBy] ?? 0) + 1
    outcomes[entry.outcome] = (outcomes[entry.outcome] ?? 0) + 1
  }
  const outcome = (Object.entries(outcomes) as Array<[ConnectOutcome, number]>).sort((a, b) => b[1] - a[1])[0]?.[0] ?? "timeout"
  return { ...base, answeredBy, outcome, outcomes }
}

/** the keys of the expectation the row breaks: [] when it held */
export const connectDifferences = (expected: ConnectExpectation, row: ReportConnect): Array<string> => {
  const differences: Array<string> = []
  const answerers = row.answeredBy === null ? [] : typeof row.answeredBy === "string" ? [row.answeredBy] : Object.keys(row.answeredBy)
  if (expected.answeredBy !== undefined) {
    const held = expected.answeredBy === null ? answerers.length === 0 : answerers.length === 1 && answerers[0] === expected.answeredBy
    if (!held) differences.push("answeredBy")
  }
  if (expected.spread !== undefined && !expected.spread.every((name) => answerers.includes(name))) differences.push("spread")
  if (expected.seenFrom !== undefined && row.seenFrom !== expected.seenFrom) differences.push("seenFrom")
  if (expected.outcome !== undefined && row.outcome !== expected.outcome) differences.push("outcome")
  return differences
}
