/** Unwrapping a LoadResult in tests: a result of the other kind fails the test, saying what came instead */
import { renderScenarioInvalid } from "../../scenarios/load.ts"
import type { LoadResult, ScenarioInvalid } from "../../scenarios/load.ts"

export const errorOf = (result: LoadResult): ScenarioInvalid => {
  if (result.ok) throw new Error(`expected a load error, got a scenario named ${result.scenario.name}`)
  return result.error
}

export const scenarioOf = (result: LoadResult) => {
  if (!result.ok) throw new Error(`expected the file to load: ${renderScenarioInvalid(result.error)}`)
  return result.scenario
}
