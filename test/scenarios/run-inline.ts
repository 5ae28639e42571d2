/** Running a scenario written inline in a test, on the simulator, and reading its steps' outcomes */
import { loadScenarioText, renderScenarioInvalid } from "../../scenarios/load.ts"
import type { Report } from "../../scenarios/report.ts"
import { runScenario } from "../../scenarios/runner.ts"

/** `body` is everything after `version` and `name` */
export const runInline = async (body: string): Promise<Report> => {
  const loaded = loadScenarioText(`version: 1\nname: inline\n${body}`, "inline.yaml")
  if (!loaded.ok) throw new Error(renderScenarioInvalid(loaded.error))
  return runScenario(loaded.scenario, { backend: "sim" })
}

/** "INDEX OP CODE", CODE "ok" for a step that succeeded */
export const outcomes = (report: Report): Array<string> => report.steps.map((step) => `${step.index} ${step.op} ${step.error?.code ?? "ok"}`)
