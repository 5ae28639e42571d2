/**
 * The report's connect rows: built from measured tries (one, or `count` of them), judged against
 * the expectation key by key, and shown as a table in the text report; a report without them
 * renders as before.
 */
import { describe, expect, it } from "vitest"
import { loadScenarioText } from "../../scenarios/load.ts"
import { type ConnectTry, connectDifferences, connectRow } from "../../scenarios/report-connect.ts"
import { type Report, renderReport } from "../../scenarios/report.ts"
import type { ConnectExpectation } from "../../scenarios/schema-services.ts"
import { scenarioOf } from "./load-results.ts"
import { cells, emptyReport, sectionLines } from "./report-sections.ts"

const rows = scenarioOf(
  loadScenarioText(
    `version: 1
name: rows
outside: { address: 203.0.113.1/24 }
containers:
  - { name: web, listen: [80/tcp], ports: ["8080:80"] }
  - { name: b1, networks: [{ network: bridge, aliases: [svc] }] }
  - { name: b2 }
expect:
  connect:
    - { from: outside, to: "host1:8080", answeredBy: web, seenFrom: 203.0.113.1 }
    - { from: b2, to: web, port: 80, count: 4, spread: [web] }
    - { from: outside, to: "host1:9999", answeredBy: null, outcome: refused }
`,
    "rows.yaml",
  ),
).expect.connect as ReadonlyArray<ConnectExpectation>

const answer = (answeredBy: string, seenFrom: string): ConnectTry => ({ address: "192.168.99.1", outcome: "answer", answeredBy, seenFrom })

describe("connect rows", () => {
  it("one try: who answered, from where it was seen, the outcome", () => {
    const row = connectRow(rows[0] as ConnectExpectation, [answer("web", "203.0.113.1")])
    expect(row).toEqual({ from: "outside", to: "host1:8080", address: "192.168.99.1", port: 8080, proto: "tcp", answeredBy: "web", seenFrom: "203.0.113.1", outcome: "answer" })
    expect(connectDifferences(rows[0] as ConnectExpectation, row)).toEqual([])
    expect(connectDifferences(rows[0] as ConnectExpectation, { ...row, seenFrom: "10.1.0.1" })).toEqual(["seenFrom"])
    expect(connectDifferences(rows[0] as ConnectExpectation, { ...row, answeredBy: null, outcome: "closed" })).toEqual(["answeredBy"])
  })

  it("count tries: a count per answerer and per outcome, spread judged on who answered at least once", () => {
    const expected = rows[1] as ConnectExpectation
    const tries: Array<ConnectTry> = [answer("web", "172.17.0.4"), answer("web", "172.17.0.4"), { address: "172.17.0.2", outcome: "refused", answeredBy: null, seenFrom: null }, answer("web", "172.17.0.4")]
    const row = connectRow(expected, tries, 3)
    expect(row).toMatchObject({ answeredBy: { web: 3 }, outcome: "answer", outcomes: { answer: 3, refused: 1 }, step: 3, seenFrom: "172.17.0.4" })
    expect(connectDifferences(expected, row)).toEqual([])
    expect(connectDifferences(expected, connectRow(expected, tries.map(() => tries[2] as ConnectTry)))).toEqual(["spread"])
  })

  it("nobody answering: answeredBy null and the outcome that says how", () => {
    const expected = rows[2] as ConnectExpectation
    const row = connectRow(expected, [{ address: "192.168.99.1", outcome: "refused", answeredBy: null, seenFrom: null }])
    expect(connectDifferences(expected, row)).toEqual([])
    expect(connectDifferences(expected, { ...row, outcome: "timeout" })).toEqual(["outcome"])
  })
})

const report = (extra: Partial<Report>): Report => ({ ...emptyReport, ...extra })

describe("the text report", () => {
  it("shows connect rows as a table and connect expectations in words", () => {
    const expected = rows[1] as ConnectExpectation
    const row = connectRow(expected, [answer("web", "172.17.0.4"), answer("web", "172.17.0.4")])
    const text = renderReport(
      report({
        connect: [connectRow(rows[0] as ConnectExpectation, [answer("web", "203.0.113.1")]), row],
        expectations: [{ kind: "connect", ok: true, expected: { ...expected }, actual: { ...row } }],
      }),
    )
    expect(sectionLines(text, "Connections").map(cells)).toEqual([
      ["FROM", "TO", "TRIED", "OUTCOME", "ANSWERED BY", "SEEN FROM"],
      ["outside", "host1:8080", "192.168.99.1:8080/tcp", "answer", "web", "203.0.113.1"],
      ["b2", "web", "192.168.99.1:80/tcp", "answer 2", "web 2", "172.17.0.4"],
    ])
    expect(text).toContain("connect b2 → web:80/tcp ×4: spread [web]")
  })

  it("a report without connect rows has no Connections section", () => {
    expect(renderReport(report({}))).not.toContain("Connections")
  })
})
