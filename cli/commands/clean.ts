/** `cnmlab clean`: remove the cnm-* namespaces that killed or crashed runs left behind. */
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

  const { removed }: CleanReport = await backend.module.cleanAll()
  io.stdout(removed.length === 0 ? "nothing to clean" : `removed ${removed.length}: ${removed.join(", ")}`)
  return ExitCode.ok
}
