/** `cnmlab clean`: remove the cnm-* namespaces that killed or crashed runs left behind, and say which. */
import { ExitCode } from "../exit-codes.ts"
import type { Io } from "../io.ts"
import { importLinuxBackend } from "./linux-backend.ts"
import type { CleanReport } from "./linux-backend.ts"

export const cleanCommand = async (io: Io): Promise<ExitCode> => {
  const refuse = (reason: string): ExitCode => {
    io.stderr(`cnmlab: clean is not possible here: ${reason}`)
    return ExitCode.backendUnavailable
  }
  const backend = await importLinuxBackend()
  if (!backend.ok) return refuse(backend.reason)
  const availability = backend.module.linuxAvailability()
  if (!availability.ok) return refuse(availability.reason)

  const { removed, failed }: CleanReport = await backend.module.cleanAll()
  if (removed.length === 0 && failed.length === 0) {
    io.stdout("nothing to clean: no namespace left by a dead cnmlab run")
    return ExitCode.ok
  }
  if (removed.length > 0) {
    io.stdout(`removed ${removed.length} namespace(s) left by dead cnmlab runs:\n${removed.map((ns) => `  ${ns}`).join("\n")}`)
  }
  for (const { ns, reason } of failed) io.stderr(`cnmlab: could not remove ${ns}: ${reason}`)
  return failed.length === 0 ? ExitCode.ok : ExitCode.failed
}
