import { Effect } from "effect"
import { expect, it } from "vitest"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { loadScenarioFile } from "../../scenarios/load.ts"
import { renderReport } from "../../scenarios/report-text.ts"
import { runOn } from "../../scenarios/runner.ts"

/**
 * The Docker-recorded encrypted overlay fixture run on a kernel without ESP (the simulator told
 * so): the report lists the network whose traffic between hosts is lost and says why, where
 * Docker says nothing. With ESP the report has no such section.
 */
const fixture = new URL("../fixtures/docker-swarm/overlay-encrypted.yaml", import.meta.url).pathname

const reportOn = async (esp: boolean) => {
  const loaded = loadScenarioFile(fixture)
  if (!loaded.ok) throw new Error("fixture does not load")
  const kernel = makeSimKernel({ capabilities: { esp } })
  try {
    return await Effect.runPromise(runOn(kernel, loaded.scenario, { backend: "sim" }))
  } finally {
    await Effect.runPromise(kernel.close())
  }
}

it("a report on a kernel without ESP names the encrypted network whose traffic between hosts is lost, and why", async () => {
  const without = await reportOn(false)
  expect(without.dataPathGaps?.map((gap) => `${gap.network} ${gap.capability}`)).toEqual(["sec esp"])
  expect(without.reach.filter((cell) => cell.network === "sec" && (cell.from === "e2") !== (cell.to === "e2")).every((cell) => !cell.reachable)).toBe(true)
  const text = renderReport(without)
  expect(text).toContain("Data path gaps")
  expect(text).toMatch(/sec \(esp\): network sec is encrypted/)
  const carried = await reportOn(true)
  expect(carried.dataPathGaps).toBeUndefined()
  expect(renderReport(carried)).not.toContain("Data path gaps")
  console.log(`report without ESP: ${without.dataPathGaps?.[0]?.message}`)
})
