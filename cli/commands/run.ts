/** `cnmlab run FILE`: load, check the backend, run, print the report, map the verdict to an exit code. */
import { loadScenarioFile, renderScenarioInvalid } from "../../scenarios/load.ts"
import { renderReport } from "../../scenarios/report.ts"
import type { Report } from "../../scenarios/report.ts"
import type { Scenario } from "../../scenarios/schema.ts"
import type { BackendName } from "../args.ts"
import { ExitCode } from "../exit-codes.ts"
import type { Io } from "../io.ts"
import { linuxBackendAvailability } from "./linux-backend.ts"
import type { Availability } from "./linux-backend.ts"

export interface RunCommandOptions {
  readonly file: string
  readonly backend: BackendName
  readonly json: boolean
  readonly trace: boolean
  /** aborted on Ctrl-C: the runner stops, tears down, and the command exits with 130 */
  readonly signal: AbortSignal
}

/** what the CLI needs of scenarios/runner.ts; the real runScenario must fit it */
export type ScenarioRunner = (
  scenario: Scenario,
  options: {
    readonly backend: BackendName
    readonly trace: boolean
    readonly signal: AbortSignal
    /** one line of progress, written to stderr */
    readonly onProgress: (line: string) => void
  },
) => Promise<Report>

export interface RunCommandDependencies {
  readonly loadRunner: () => Promise<ScenarioRunner>
  readonly linuxAvailability: () => Promise<Availability>
}

// imported only when needed: a file error must not wait for (or fail on) the backends' modules
const defaultDependencies: RunCommandDependencies = {
  loadRunner: async () => (await import("../../scenarios/runner.ts")).runScenario,
  linuxAvailability: linuxBackendAvailability,
}

export const runCommand = async (
  options: RunCommandOptions,
  io: Io,
  dependencies: RunCommandDependencies = defaultDependencies,
): Promise<ExitCode> => {
  const loaded = loadScenarioFile(options.file)
  if (!loaded.ok) {
    io.stderr(renderScenarioInvalid(loaded.error))
    return ExitCode.invalidInput
  }
  if (options.backend === "linux") {
    const availability = await dependencies.linuxAvailability()
    if (!availability.ok) {
      io.stderr(`cnmlab: backend linux is not available here: ${availability.reason}`)
      return ExitCode.backendUnavailable
    }
  }

  const runScenario = await dependencies.loadRunner()
  let report: Report
  try {
    report = await runScenario(loaded.scenario, {
      backend: options.backend,
      trace: options.trace,
      signal: options.signal,
      onProgress: (line) => io.stderr(line),
    })
  } catch (error) {
    if (options.signal.aborted) return ExitCode.interrupted
    io.stderr(`cnmlab: the run failed: ${error instanceof Error ? error.message : String(error)}`)
    return ExitCode.failed
  }
  // a report finished under an abort is partial: the exit code says so, stdout stays empty
  if (options.signal.aborted) return ExitCode.interrupted

  io.stdout(options.json ? JSON.stringify(report, null, 2) : renderReport(report))
  return report.ok ? ExitCode.ok : ExitCode.failed
}
