import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { loadScenarioFile, renderScenarioInvalid } from "../../scenarios/load.ts"
import type { Report } from "../../scenarios/report.ts"
import { runOn, runScenario } from "../../scenarios/runner.ts"
import type { Scenario } from "../../scenarios/schema.ts"
import { needsRoot, root } from "../linux/support.ts"
import { reportView } from "./report-view.ts"

/**
 * Every example scenario and every recorded Docker fixture gives the same report on the
 * simulator and on the real kernel (report-view.ts says what "the same" covers).
 *
 * The simulator runs through runScenario as the CLI does. The linux run goes through runOn with a
 * kernel this test opens, with a shorter probe timeout (each unreachable address costs the whole
 * timeout). Each scenario runs once on each: a difference is a failure.
 */
const scenarioFiles = (["../../scenarios/", "../fixtures/docker/"] as const).flatMap((relative) => {
  const directory = fileURLToPath(new URL(relative, import.meta.url))
  return readdirSync(directory)
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .map((name) => `${directory}${name}`)
})

const PROBE_TIMEOUT_MS = 150

const load = (file: string): Scenario => {
  const loaded = loadScenarioFile(file)
  if (!loaded.ok) throw new Error(renderScenarioInvalid(loaded.error))
  return loaded.scenario
}

const runOnLinux = async (scenario: Scenario): Promise<Report> => {
  const kernel = await makeLinuxKernel({ timeoutMs: PROBE_TIMEOUT_MS })
  try {
    return await Effect.runPromise(runOn(kernel, scenario, { backend: "linux" }))
  } finally {
    await Effect.runPromise(kernel.close())
    expect(await Effect.runPromise(kernel.namespaces()), "namespaces left behind").toEqual([])
  }
}

const shortName = (file: string): string => file.slice(file.lastIndexOf("/", file.lastIndexOf("/") - 1) + 1)

describe.skipIf(!root)(`every scenario gives the same report on the simulator and on linux (${needsRoot})`, () => {
  it("finds the scenarios", () => {
    expect(scenarioFiles.length).toBeGreaterThanOrEqual(20)
  })

  it.each(scenarioFiles.map((file) => [shortName(file), file]))("%s", async (_name, file) => {
    const scenario = load(file)
    const sim = reportView(await runScenario(scenario, { backend: "sim" }))
    const linux = reportView(await runOnLinux(scenario))
    expect(linux, "the linux report (received) against the simulator's (expected)").toEqual(sim)
  })
})
