/**
 * The cnmlab command: parse the command line, hand it to one command module, exit with its code.
 * Run by bin/cnmlab.js (`npx cnmlab`) and by `npm run cnmlab --` (tsx cli/main.ts).
 */
import { parseCommandLine } from "./args.ts"
import type { Command } from "./args.ts"
import { cleanCommand } from "./commands/clean.ts"
import { doctorCommand } from "./commands/doctor.ts"
import { runCommand } from "./commands/run.ts"
import { ExitCode } from "./exit-codes.ts"
import { helpText } from "./help.ts"
import { processIo } from "./io.ts"
import type { Io } from "./io.ts"
import { packageVersion } from "./version.ts"

const dispatch = (command: Command, io: Io, signal: AbortSignal): Promise<ExitCode> | ExitCode => {
  switch (command.name) {
    case "run":
      return runCommand({ ...command, signal }, io)
    case "clean":
      return cleanCommand(io)
    case "doctor":
      return doctorCommand(io)
    case "help":
      io.stdout(helpText(command.topic))
      return ExitCode.ok
    case "version":
      io.stdout(packageVersion())
      return ExitCode.ok
  }
}

const main = async (argv: ReadonlyArray<string>, io: Io, signal: AbortSignal): Promise<ExitCode> => {
  const parsed = parseCommandLine(argv)
  if (!parsed.ok) {
    io.stderr(`cnmlab: ${parsed.message}`)
    if (parsed.usage === true) io.stderr(`\n${helpText()}`)
    return ExitCode.invalidInput
  }
  return dispatch(parsed.command, io, signal)
}

/** first Ctrl-C: stop the run and tear down; a second one: leave at once */
const interruptOnSigint = (io: Io): AbortSignal => {
  const controller = new AbortController()
  process.on("SIGINT", () => {
    if (controller.signal.aborted) {
      io.stderr("cnmlab: interrupted again, leaving now; `cnmlab clean` removes what is left")
      process.exit(ExitCode.interrupted)
    }
    io.stderr("cnmlab: interrupted, tearing down (Ctrl-C again to leave at once)")
    controller.abort()
  })
  return controller.signal
}

const describeCrash = (error: unknown): string => {
  if (process.env["CNMLAB_DEBUG"]) return error instanceof Error ? (error.stack ?? error.message) : String(error)
  return `${error instanceof Error ? error.message : String(error)} (CNMLAB_DEBUG=1 shows the stack)`
}

const code = await main(process.argv.slice(2), processIo, interruptOnSigint(processIo)).catch((error: unknown) => {
  // a bug, not a user error: one line unless asked for more
  processIo.stderr(`cnmlab: internal error: ${describeCrash(error)}`)
  return ExitCode.failed
})
// stdout/stderr writes are synchronous on Linux for files and pipes, so nothing is lost here
process.exit(code)
