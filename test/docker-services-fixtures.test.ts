/**
 * The Docker 20.10 services fixtures (test/fixtures/docker-services/ on one host and
 * test/fixtures/docker-swarm-services/ on a swarm; each folder's README says what each shows)
 * replayed on the simulator, and on the linux backend when root: every step must end as it did on
 * Docker, the file's expectations (Docker's answers) must hold, and the endpoints and every
 * connection check must be what Docker showed: the outcome, who answered, the source address the
 * server saw and the address tried. The expected values come from each fixture's raw observations
 * (<name>.docker.json), never from the model.
 *
 * A loader without the contract's keys for ports and services (`outside`, `listen`, `ports`,
 * `services`, `connect` …) skips each fixture by name with that reason.
 */
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { loadScenarioFile, renderScenarioInvalid, type LoadResult } from "../scenarios/load.ts"
import type { Report } from "../scenarios/report.ts"
import type { Scenario } from "../scenarios/schema.ts"
import { runScenario } from "../scenarios/runner.ts"
import { contractOutcome, type DockerEndpointObservation } from "./docker-observations.ts"

/** one connection check as the services recorders write it (docker-services/recorder/record.py connect_check) */
interface DockerConnectObservation {
  readonly from: string
  readonly to: string
  readonly proto: string
  readonly port: number | null
  /** every address tried (a name is resolved once per try) */
  readonly address: ReadonlyArray<string>
  readonly tries: ReadonlyArray<{ readonly outcome: string }>
  readonly outcomes: ReadonlyArray<string>
  /** answers per answerer */
  readonly answeredBy: Readonly<Record<string, number>>
  readonly seenFrom: ReadonlyArray<string>
  /** the check as the file wrote it */
  readonly check: { readonly count?: number }
}

interface DockerMeasurement {
  readonly containers: ReadonlyArray<{
    readonly name: string
    readonly host?: string
    readonly endpoints: ReadonlyArray<DockerEndpointObservation>
  }>
  readonly connect: ReadonlyArray<DockerConnectObservation>
}

interface DockerObservations {
  readonly steps: ReadonlyArray<{
    readonly index: number
    readonly op: string
    readonly ok: boolean
    readonly error?: { readonly code: string | null }
    readonly observed?: DockerMeasurement
  }>
  readonly final: DockerMeasurement
}

/** the contract's `connect` rows of the report (scenario-v1.md, "Ports, the outside world, services") */
interface ReportConnect {
  readonly from: string
  readonly to: string
  readonly proto?: string
  readonly address?: string
  readonly port?: number
  readonly answeredBy?: string | null | Readonly<Record<string, number>>
  readonly seenFrom?: string | null
  readonly outcome?: string
}

const runnerLacks = "the loader does not know the keys of ports and services"
/** the keys issue 9 adds to the contract: a loader that refuses one of them does not run these files yet */
const issue9Keys = /unknown key "(outside|listen|ports|services|connect|createService|removeService|scaleService)"/

/** fixtures whose Docker answers are the recording kernel's, not Docker's semantics: skipped by name, with the reason */
const skippedOn: Readonly<Record<string, string>> = {
  "swarm-vip-without-ipvs":
    "Docker's answers here are what it does on a kernel without ip_vs (the recording machine's); cnmlab balances a VIP " +
    "as libnetwork does with IPVS (nftables where ip_vs is missing), so these are not its answers",
}

const folders = [
  { title: "one host", directory: fileURLToPath(new URL("./fixtures/docker-services/", import.meta.url)) },
  { title: "swarm", directory: fileURLToPath(new URL("./fixtures/docker-swarm-services/", import.meta.url)) },
] as const

const fixtureNames = (directory: string): Array<string> =>
  readdirSync(directory)
    .filter((file) => file.endsWith(".yaml"))
    .map((file) => file.slice(0, -".yaml".length))
    .sort()

const sorted = <A>(items: ReadonlyArray<A>, key: (item: A) => string): Array<A> =>
  [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))

const stepOutcomes = (steps: ReadonlyArray<{ index: number; op: string; ok: boolean; error?: { code: string | null } }>) =>
  steps.map((step) => ({ index: step.index, op: step.op, ok: step.ok, code: step.error?.code ?? null }))

const dockerEndpoints = (observed: DockerObservations) =>
  sorted(
    observed.final.containers.flatMap((container) =>
      container.endpoints
        .filter((endpoint) => endpoint.address !== null)
        .map((endpoint) => ({ container: container.name, network: endpoint.network, address: endpoint.address, interface: endpoint.interface })),
    ),
    (endpoint) => `${endpoint.container}\u0000${endpoint.network}`,
  )

/** a service's task as cnmlab names it (`api.1`): Docker's observations list tasks apart from the containers */
const isTaskOf = (scenario: Scenario) => {
  // the file's services and those its createService steps make
  const created = scenario.steps.flatMap((step) => (step.op === "createService" ? [step.service.name] : []))
  const services = new Set([...((scenario as Scenario & { readonly services?: ReadonlyArray<{ readonly name: string }> }).services ?? []).map((service) => service.name), ...created])
  return (container: string): boolean => services.has(container.replace(/\.\d+$/, "")) && /\.\d+$/.test(container)
}

const reportEndpoints = (report: Report, isTask: (container: string) => boolean) =>
  sorted(
    report.endpoints.filter((endpoint) => !isTask(endpoint.container)).map((endpoint) => ({ container: endpoint.container, network: endpoint.network, address: endpoint.address, interface: endpoint.interface })),
    (endpoint) => `${endpoint.container}\u0000${endpoint.network}`,
  )

/**
 * One line per connection check, the same for Docker's observation and cnmlab's report. Who
 * answered is a set (with `count`, how many times each one answered differs by nature: the DNS
 * shuffles); a single try also names its outcome, the address it tried and the source the server saw.
 */
const connectLine = (from: string, to: string, proto: string, port: number | null | undefined, answerers: ReadonlyArray<string>, single?: { outcome: string; address: string; seenFrom: string | null }) =>
  `${from} → ${to}${port === null || port === undefined ? "" : ` port ${port}`}/${proto}: answered by [${[...answerers].sort().join(", ")}]` +
  (single === undefined ? "" : ` ${single.outcome} via ${single.address} seen from ${single.seenFrom ?? "-"}`)

const dockerConnectLines = (observed: DockerObservations): Array<string> =>
  [...observed.steps.flatMap((step) => step.observed?.connect ?? []), ...observed.final.connect]
    .map((check) =>
      connectLine(
        check.from,
        check.to,
        check.proto,
        /^host\d+:\d+$/.test(check.to) ? null : check.port,
        Object.keys(check.answeredBy),
        check.tries.length === 1
          ? { outcome: contractOutcome(check.outcomes[0] as string), address: check.address[0] ?? "-", seenFrom: check.seenFrom[0] ?? null }
          : // a check from a container that does not exist at that point: `docker exec` fails and the recorder
            // has no try at all, where the report has one row without an address, answered by nobody
            check.tries.length === 0 && check.check.count === undefined
            ? { outcome: "unreachable", address: "-", seenFrom: null }
            : undefined,
      ),
    )
    .sort()

const reportConnectLines = (report: Report): Array<string> =>
  ((report as Report & { readonly connect?: ReadonlyArray<ReportConnect> }).connect ?? [])
    .map((row) => {
      const counted = row.answeredBy !== null && typeof row.answeredBy === "object"
      const answerers = counted ? Object.keys(row.answeredBy as Record<string, number>) : typeof row.answeredBy === "string" ? [row.answeredBy] : []
      return connectLine(
        row.from,
        row.to,
        row.proto ?? "tcp",
        /^host\d+:\d+$/.test(row.to) ? null : row.port,
        answerers,
        counted ? undefined : { outcome: row.outcome ?? "-", address: row.address ?? "-", seenFrom: row.seenFrom ?? null },
      )
    })
    .sort()

const replay = (directory: string, name: string, loaded: Extract<LoadResult, { ok: true }>, backend: "sim" | "linux") => async () => {
  const observed = JSON.parse(readFileSync(`${directory}${name}.docker.json`, "utf8")) as DockerObservations
  const report = await runScenario(loaded.scenario, { backend })
  console.info(`${name} on ${backend}: ${report.expectations.length} expectations, ${(report.connect ?? []).length} connect rows, ${report.steps.length} steps`)
  expect(report.expectations.filter((expectation) => !expectation.ok), "expectations that did not hold").toEqual([])
  expect(stepOutcomes(report.steps)).toEqual(stepOutcomes(observed.steps))
  expect(reportEndpoints(report, isTaskOf(loaded.scenario))).toEqual(dockerEndpoints(observed))
  expect(reportConnectLines(report)).toEqual(dockerConnectLines(observed))
  expect(report.ok).toBe(true)
}

const isRoot = process.getuid?.() === 0

describe("Docker 20.10 services fixtures", () => {
  for (const folder of folders) {
    const names = fixtureNames(folder.directory)
    it(`finds the recorded ${folder.title} fixtures`, () => {
      expect(names.length).toBeGreaterThanOrEqual(folder.title === "swarm" ? 3 : 11)
    })

    for (const backend of ["sim", "linux"] as const) {
      describe(`${folder.title} on ${backend}`, () => {
        for (const name of names) {
          const loaded = loadScenarioFile(`${folder.directory}${name}.yaml`)
          const lacking = !loaded.ok && issue9Keys.test(loaded.error.message) ? runnerLacks : undefined
          const skipReason = skippedOn[name] ?? (backend === "linux" && !isRoot ? "the linux backend needs root" : undefined) ?? lacking
          if (skipReason !== undefined) {
            const loader = lacking !== undefined && !loaded.ok ? ` [the loader: ${renderScenarioInvalid(loaded.error)}]` : ""
            console.info(`${name} on ${backend} skipped: ${skipReason}${loader}`)
            it.skip(`${name} (skipped: ${skipReason})`, () => {})
            continue
          }
          if (!loaded.ok) {
            it(name, () => {
              throw new Error(renderScenarioInvalid(loaded.error))
            })
            continue
          }
          it(name, replay(folder.directory, name, loaded, backend), backend === "linux" ? 180_000 : 60_000)
        }
      })
    }
  }
})
