/**
 * The text form of a Report: a verdict line, then one table per section, then what differed.
 * Everything shown comes from the report alone, so a saved `--json` report renders the same.
 */
import type { Report, ReportExpectation, ReportReach, ReportReachHost, ReportStep } from "./report.ts"
import { renderTable } from "./text-table.ts"

const pass = "✓"
const fail = "✗"
const none = "-"

export const renderReport = (report: Report): string => {
  const steps = report.steps.map((step) => judgeStep(step, expectedRefusalOf(report, step), report.ok))
  const sections = [
    [verdict(report, steps)],
    section("Networks", networksTable(report)),
    section("Endpoints", endpointsTable(report)),
    section(`Reachability (${pass} echo answered, ${fail} no answer; rows: from, columns: to/address)`, reachMatrix(report.reach)),
    section("Probe traces", traces(report.reach)),
    section(`Hosts' underlay addresses (${pass} echo answered, ${fail} no answer; rows: from, columns: host/address)`, hostReachMatrix(report.reachHosts ?? [])),
    section("Resolve", resolveTable(report)),
    section("Data path gaps (why traffic between hosts is lost on this kernel)", (report.dataPathGaps ?? []).map((gap) => `${fail} ${gap.network} (${gap.capability}): ${gap.message}`)),
    section("Connections", connectTable(report)),
    section("Steps", stepsTable(steps)),
    section("Expectations", expectationLines(report, steps)),
    [timings(report)],
  ]
  return sections.filter((lines) => lines.length > 0).map((lines) => lines.join("\n")).join("\n\n") + "\n"
}

const section = (title: string, body: ReadonlyArray<string>): Array<string> => (body.length === 0 ? [] : [title, ...body])

// ---------------------------------------------------------------------------------------------

interface JudgedStep {
  readonly step: ReportStep
  /** the step's expectError, as the report recorded it (an expectation of kind "error") */
  readonly expectation: ReportExpectation | undefined
  readonly asExpected: boolean
  readonly note: string
}

const expectedRefusalOf = (report: Report, step: ReportStep): ReportExpectation | undefined =>
  report.expectations.find((expectation) => expectation.kind === "error" && expectation.step === step.index)

/**
 * A report that records no expectError for a refused step (the contract does not require it) still
 * says enough when the run passed: `ok` is true only if every refusal was expected.
 */
const judgeStep = (step: ReportStep, expectation: ReportExpectation | undefined, runPassed: boolean): JudgedStep => {
  const refusal = step.error === undefined ? "" : `${step.error.code}: ${step.error.message}`
  if (expectation === undefined) {
    if (step.ok) return { step, expectation, asExpected: true, note: "ok" }
    return { step, expectation, asExpected: runPassed, note: `refused${runPassed ? " as expected" : ""}: ${refusal}` }
  }
  const expectedCode = show(expectation.expected["code"])
  if (expectation.ok) return { step, expectation, asExpected: true, note: `refused as expected: ${refusal}` }
  if (step.ok) return { step, expectation, asExpected: false, note: `expected ${expectedCode}, but it succeeded` }
  return { step, expectation, asExpected: false, note: `expected ${expectedCode}, got ${refusal}` }
}

const verdict = (report: Report, steps: ReadonlyArray<JudgedStep>): string => {
  const held = report.expectations.filter((expectation) => expectation.ok).length
  const total = report.expectations.length
  const parts = [`${held} of ${total} expectation${total === 1 ? "" : "s"} held`]
  const unexpected = steps.filter((judged) => !judged.asExpected).length
  if (unexpected > 0) parts.push(`${unexpected} step${unexpected === 1 ? "" : "s"} did not go as written`)
  return `${report.scenario} on ${report.backend}: ${report.ok ? "PASSED" : "FAILED"} (${parts.join("; ")})`
}

/** the SCOPE and HOST columns only for a report that speaks of hosts: a single-host table stays as it was */
const networksTable = (report: Report): Array<string> => {
  if (report.networks.length === 0) return []
  const severalHosts = report.networks.some((network) => network.scope !== undefined)
  return renderTable(
    ["NAME", "DRIVER", "SUBNET", "GATEWAY", "INTERNAL", ...(severalHosts ? ["SCOPE", "HOST"] : [])],
    report.networks.map((network) => [
      network.name,
      network.driver,
      network.subnet ?? none,
      network.gateway ?? none,
      network.internal ? "yes" : "no",
      ...(severalHosts ? [network.scope ?? none, network.host ?? (network.scope === "swarm" ? "(all)" : none)] : []),
    ]),
  )
}

const endpointsTable = (report: Report): Array<string> => {
  if (report.endpoints.length === 0) return []
  const severalHosts = report.endpoints.some((endpoint) => endpoint.host !== undefined)
  return renderTable(
    ["CONTAINER", "NETWORK", "ADDRESS", "MAC", "INTERFACE", ...(severalHosts ? ["HOST"] : [])],
    report.endpoints.map((endpoint) => [
      endpoint.container,
      endpoint.network,
      endpoint.address,
      endpoint.mac ?? none,
      endpoint.interface,
      ...(severalHosts ? [endpoint.host ?? none] : []),
    ]),
  )
}

/** one row per source container, one column per destination address; `·` on the diagonal */
const reachMatrix = (reach: ReadonlyArray<ReportReach>): Array<string> => {
  if (reach.length === 0) return []
  const sources = unique(reach.map((cell) => cell.from)).sort()
  const targets = uniqueBy(
    reach.map((cell) => ({ to: cell.to, address: cell.address, label: `${cell.to}/${cell.address}` })),
    (target) => target.label,
  ).sort((a, b) => a.to.localeCompare(b.to) || compareAddresses(a.address, b.address))
  const cellOf = new Map(reach.map((cell) => [`${cell.from}\u0000${cell.to}/${cell.address}`, cell]))
  const rows = sources.map((from) => [
    from,
    ...targets.map((target) => {
      if (target.to === from) return "·"
      const cell = cellOf.get(`${from}\u0000${target.label}`)
      return cell === undefined ? none : cell.reachable ? pass : fail
    }),
  ])
  return renderTable(["FROM \\ TO", ...targets.map((target) => target.label)], rows)
}

/** one row per container, one column per host's underlay address */
const hostReachMatrix = (reachHosts: ReadonlyArray<ReportReachHost>): Array<string> => {
  if (reachHosts.length === 0) return []
  const sources = unique(reachHosts.map((cell) => cell.from)).sort()
  const hosts = uniqueBy(
    reachHosts.map((cell) => ({ host: cell.host, label: `${cell.host}/${cell.address}` })),
    (target) => target.label,
  )
  const cellOf = new Map(reachHosts.map((cell) => [`${cell.from}\u0000${cell.host}/${cell.address}`, cell]))
  const rows = sources.map((from) => [
    from,
    ...hosts.map((target) => {
      const cell = cellOf.get(`${from}\u0000${target.label}`)
      return cell === undefined ? none : cell.reachable ? pass : fail
    }),
  ])
  return renderTable(["FROM \\ HOST", ...hosts.map((target) => target.label)], rows)
}

const traces = (reach: ReadonlyArray<ReportReach>): Array<string> =>
  reach
    .filter((cell) => cell.trace !== undefined)
    .flatMap((cell) => [
      `  ${cell.from} → ${cell.to} ${cell.address} on ${cell.network}: ${cell.reachable ? "answered" : (cell.reason ?? "no answer")}`,
      ...(cell.trace ?? []).map((hop) => `      ${hop.ns}${hop.dev !== undefined ? ` ${hop.dev}` : ""}: ${hop.event}`),
    ])

const resolveTable = (report: Report): Array<string> =>
  report.resolve.length === 0
    ? []
    : renderTable(
        ["FROM", "NAME", "ANSWER"],
        report.resolve.map((answer) => [
          answer.from,
          answer.name,
          answer.addresses.length === 0 ? "(no answer)" : answer.addresses.join(", "),
        ]),
      )

const connectTable = (report: Report): Array<string> =>
  report.connect === undefined || report.connect.length === 0
    ? []
    : renderTable(
        ["FROM", "TO", "TRIED", "OUTCOME", "ANSWERED BY", "SEEN FROM"],
        report.connect.map((row) => [
          row.step === undefined ? row.from : `${row.from} (step ${row.step})`,
          row.to,
          `${row.address ?? "(no address)"}:${row.port}/${row.proto}`,
          row.outcomes === undefined ? row.outcome : Object.entries(row.outcomes).map(([outcome, count]) => `${outcome} ${count}`).join(", "),
          row.answeredBy === null
            ? "nobody"
            : typeof row.answeredBy === "string"
              ? row.answeredBy
              : Object.entries(row.answeredBy).map(([name, count]) => `${name} ${count}`).join(", ") || "nobody",
          row.seenFrom ?? "",
        ]),
      )

const stepsTable = (steps: ReadonlyArray<JudgedStep>): Array<string> =>
  steps.length === 0
    ? []
    : renderTable(
        ["#", "OP", "", "RESULT"],
        steps.map(({ step, asExpected, note }) => [String(step.index), step.op, asExpected ? pass : fail, note]),
      )

/** expectErrors are shown in the steps table, beside the step they belong to */
const expectationLines = (report: Report, steps: ReadonlyArray<JudgedStep>): Array<string> => {
  const shownWithSteps = new Set(steps.map((judged) => judged.expectation))
  return report.expectations
    .filter((expectation) => !shownWithSteps.has(expectation))
    .flatMap((expectation) => {
      const where = expectation.step === undefined ? "" : `step ${expectation.step}: `
      const head = `  ${expectation.ok ? pass : fail} ${expectation.kind.padEnd(7)} ${where}${describeExpectation(expectation, report)}`
      if (expectation.ok) return [head]
      if (expectation.kind === "error") return [head, `      ${describeRefusal(expectation.actual)}`]
      const differences = differingKeys(expectation)
      if (differences.length === 0) return [head, `      measured: ${JSON.stringify(expectation.actual)}`]
      // a check from a container that is not there at that point answers nothing: say why
      const absent =
        expectation.actual["fromExists"] === false ? [`      (no container ${show(expectation.expected["from"])} at this point)`] : []
      return [
        head,
        ...differences.map(
          (key) => `      ${key}: expected ${show(expectation.expected[key])}, got ${show(expectation.actual[key])}`,
        ),
        ...absent,
      ]
    })
}

const describeExpectation = ({ kind, expected, step }: ReportExpectation, report: Report): string => {
  const text = (key: string): string => show(expected[key])
  if (kind === "reach") {
    const on = expected["network"] !== undefined ? ` on ${text("network")}` : ""
    const want = expected["reachable"] === true ? "reachable" : expected["reachable"] === false ? "unreachable" : text("reachable")
    const to = expected["toHost"] !== undefined ? `host ${text("toHost")}` : text("to")
    return `${text("from")} → ${to}${on}: ${want}`
  }
  if (kind === "resolve") {
    const want = expected["addresses"] === undefined ? "(answer reported only)" : show(expected["addresses"])
    return `${text("from")} resolves ${JSON.stringify(expected["name"])}: ${want}`
  }
  if (kind === "connect") {
    const port = String(expected["to"]).includes(":") ? "" : `:${text("port")}`
    const wants = ["answeredBy", "spread", "seenFrom", "outcome"].filter((key) => expected[key] !== undefined).map((key) => `${key} ${text(key)}`)
    return `${text("from")} → ${text("to")}${port}/${text("proto")}${expected["count"] !== undefined ? ` ×${text("count")}` : ""}: ${wants.join(", ") || "(reported only)"}`
  }
  if (kind === "error") {
    const op = report.steps.find((candidate) => candidate.index === step)?.op
    return `${op ?? "the step"} refused with ${text("code")}`
  }
  return JSON.stringify(expected)
}

/** the measured side of an expectError: a code (and message), or a null code when the step succeeded */
const describeRefusal = (actual: Readonly<Record<string, unknown>>): string => {
  const code = actual["code"]
  if (code === null || code === undefined) return "but it succeeded"
  const message = typeof actual["message"] === "string" ? `: ${actual["message"]}` : ""
  return `got ${show(code)}${message}`
}

const differingKeys = ({ expected, actual }: ReportExpectation): Array<string> =>
  Object.keys(expected).filter((key) => JSON.stringify(expected[key]) !== JSON.stringify(actual[key]))

const show = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (typeof value === "string") return value
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`
  return JSON.stringify(value)
}

const timings = ({ timings }: Report): string =>
  `Timings: setup ${ms(timings.setupMs)}, checks ${ms(timings.checkMs)}, teardown ${ms(timings.teardownMs)}`

const ms = (value: number): string => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`

const unique = <A>(values: ReadonlyArray<A>): Array<A> => [...new Set(values)]

const uniqueBy = <A>(values: ReadonlyArray<A>, key: (value: A) => string): Array<A> => [
  ...new Map(values.map((value) => [key(value), value])).values(),
]

/** numeric order, so 10.1.0.9 comes before 10.1.0.10 */
const compareAddresses = (a: string, b: string): number => {
  const numbers = (address: string) => address.split(".").map(Number)
  const [left, right] = [numbers(a), numbers(b)]
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0)
    if (difference !== 0) return difference
  }
  return a.localeCompare(b)
}
