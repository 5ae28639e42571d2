/**
 * The recorded Docker 20.10 fixtures (test/fixtures/docker/, see docs/docker-20.10.md) replayed on
 * the simulator: the run must hold every expectation, every step must end as it did on Docker,
 * and the final endpoints and networks must be the ones Docker showed, field by field. The
 * expected values come from each fixture's raw observations (<name>.docker.json), never from the
 * model.
 */
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { DockerEndpointObservation } from "./docker-observations.ts"
import { describe, expect, it } from "vitest"
import { loadScenarioFile, renderScenarioInvalid } from "../scenarios/load.ts"
import type { Report } from "../scenarios/report.ts"
import { runScenario } from "../scenarios/runner.ts"

const fixtureDirectory = fileURLToPath(new URL("./fixtures/docker/", import.meta.url))

/** the parts of a recorder observation file (recorder/record.py) these tests read */
interface DockerObservations {
  readonly steps: ReadonlyArray<{
    readonly index: number
    readonly op: string
    readonly ok: boolean
    readonly error?: { readonly code: string }
  }>
  readonly final: {
    readonly networks: ReadonlyArray<{
      readonly name: string
      readonly driver: string
      readonly internal: boolean
      readonly subnet: string | null
      /** only what `docker network inspect` lists: absent for a user subnet without --gateway */
      readonly gateway: string | null
      /** the address Docker put on the bridge: the gateway the containers really use */
      readonly bridgeInterfaceAddress: string | null
    }>
    readonly containers: ReadonlyArray<{
      readonly name: string
      readonly endpoints: ReadonlyArray<DockerEndpointObservation>
    }>
    readonly reach: ReadonlyArray<{
      readonly from: string
      readonly to: string
      readonly address: string
      readonly reachable: boolean
    }>
  }
}

const fixtureNames = readdirSync(fixtureDirectory)
  .filter((file) => file.endsWith(".yaml"))
  .map((file) => file.slice(0, -".yaml".length))
  .sort()

const withoutPrefix = (cidr: string): string => cidr.split("/")[0] as string

const byKey =
  <A>(key: (item: A) => string) =>
  (a: A, b: A): number =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0

const stepOutcomes = (steps: ReadonlyArray<{ index: number; op: string; ok: boolean; error?: { code: string } }>) =>
  steps.map((step) => ({ index: step.index, op: step.op, ok: step.ok, code: step.error?.code ?? null }))

const dockerEndpoints = (observed: DockerObservations) =>
  observed.final.containers
    .flatMap((container) =>
      container.endpoints
        .filter((endpoint) => endpoint.address !== null)
        .map((endpoint) => ({
          container: container.name,
          network: endpoint.network,
          address: endpoint.address,
          mac: endpoint.mac,
          interface: endpoint.interface,
        })),
    )
    .sort(byKey((endpoint) => `${endpoint.container}\u0000${endpoint.network}`))

const reportEndpoints = (report: Report) =>
  report.endpoints
    .map((endpoint) => ({
      container: endpoint.container,
      network: endpoint.network,
      address: endpoint.address,
      mac: endpoint.mac,
      interface: endpoint.interface,
    }))
    .sort(byKey((endpoint) => `${endpoint.container}\u0000${endpoint.network}`))

/** Docker lists the gateway only when it was asked for or chose the pool; the bridge's address always says it */
const dockerNetworks = (observed: DockerObservations) =>
  observed.final.networks
    .map((network) => {
      const bridgeAddress = network.bridgeInterfaceAddress === null ? null : withoutPrefix(network.bridgeInterfaceAddress)
      const gateway = network.gateway ?? bridgeAddress
      return { name: network.name, driver: network.driver, internal: network.internal, subnet: network.subnet, gateway }
    })
    .sort(byKey((network) => network.name))

const reportNetworks = (report: Report) =>
  report.networks
    .map((network) => ({
      name: network.name,
      driver: network.driver,
      internal: network.internal,
      subnet: network.subnet ?? null,
      gateway: network.gateway ?? null,
    }))
    .sort(byKey((network) => network.name))

const reachCells = (cells: ReadonlyArray<{ from: string; to: string; address: string; reachable: boolean }>) =>
  cells
    .map((cell) => `${cell.from} → ${cell.to} ${cell.address}: ${cell.reachable ? "yes" : "no"}`)
    .sort()

describe("Docker 20.10 fixtures replayed on the simulator", () => {
  it("finds the recorded fixtures", () => {
    expect(fixtureNames.length).toBeGreaterThanOrEqual(12)
  })

  for (const name of fixtureNames) {
    it(name, async () => {
      const loaded = loadScenarioFile(`${fixtureDirectory}${name}.yaml`)
      if (!loaded.ok) throw new Error(renderScenarioInvalid(loaded.error))
      const observed = JSON.parse(readFileSync(`${fixtureDirectory}${name}.docker.json`, "utf8")) as DockerObservations

      const report = await runScenario(loaded.scenario, { backend: "sim" })

      const failed = report.expectations.filter((expectation) => !expectation.ok)
      expect(failed, "expectations that did not hold").toEqual([])
      expect(stepOutcomes(report.steps)).toEqual(stepOutcomes(observed.steps))
      expect(report.ok).toBe(true)
      expect(reportEndpoints(report)).toEqual(dockerEndpoints(observed))
      expect(reportNetworks(report)).toEqual(dockerNetworks(observed))
      expect(reachCells(report.reach)).toEqual(reachCells(observed.final.reach))
    })
  }
})
