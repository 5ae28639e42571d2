/**
 * `cnmlab doctor`: what the linux backend needs, check by check. The exit code follows the same
 * verdict `run --backend linux` uses; a failed feature check (a link kind this kernel lacks) only
 * means the scenarios needing that feature will fail.
 */
import { renderTable } from "../../scenarios/text-table.ts"
import { ExitCode } from "../exit-codes.ts"
import type { Io } from "../io.ts"
import { importLinuxBackend } from "./linux-backend.ts"
import type { DoctorReport } from "./linux-backend.ts"

export const doctorCommand = async (io: Io): Promise<ExitCode> => {
  const backend = await importLinuxBackend()
  if (!backend.ok) {
    io.stdout(`the linux backend cannot run here: ${backend.reason}`)
    return ExitCode.backendUnavailable
  }
  const { checks }: DoctorReport = await backend.module.doctor()
  const rows = checks.map((check) => [check.ok ? "✓" : "✗", check.name, check.detail])
  io.stdout(renderTable(["", "CHECK", "DETAIL"], rows, "").join("\n"))

  const availability = backend.module.linuxAvailability()
  if (!availability.ok) {
    io.stdout(`\nthe linux backend cannot run here: ${availability.reason}`)
    return ExitCode.backendUnavailable
  }
  const failed = checks.filter((check) => !check.ok).map((check) => check.name.replace(/^kernel: /, ""))
  io.stdout(failed.length === 0 ? "\nthe linux backend can run here" : `\nthe linux backend can run here, without: ${failed.join(", ")} (see above)`)
  return ExitCode.ok
}
