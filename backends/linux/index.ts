/**
 * The linux backend: the Kernel interface on the real kernel, inside network namespaces named
 * cnm-… that it creates (never the machine's own). See README.md in this folder.
 */
import { Effect, Layer } from "effect"
import { Kernel } from "../Kernel.ts"
import type { KernelError } from "../KernelError.ts"
import type { Capabilities } from "../kernel-types.ts"
import { addon, loadAddon } from "./addon.ts"
import { capabilitiesFrom, kernelFeatures } from "./capabilities.ts"
import { type CleanResult, cleanOrphans } from "./clean.ts"
import { toKernelError } from "./errors.ts"
import { makeLinuxKernel } from "./kernel.ts"

export { makeLinuxKernel, type LinuxKernelOptions } from "./kernel.ts"
export { linuxAvailability, type Availability } from "./availability.ts"
export { doctor, type DoctorCheck } from "./doctor.ts"
export type { CleanResult } from "./clean.ts"
export { toKernelError } from "./errors.ts"

/** the linux Kernel for the lifetime of a scope: everything it made is removed on release */
export const layer: Layer.Layer<Kernel, KernelError> = Layer.effect(
  Kernel,
  Effect.acquireRelease(
    Effect.tryPromise({ try: () => makeLinuxKernel(), catch: (cause) => toKernelError(cause) }),
    (kernel) => kernel.close(),
  ),
)

/** what this machine's kernel supports, measured once by really creating each link kind */
export const linuxCapabilities = async (): Promise<Capabilities> => capabilitiesFrom(await kernelFeatures(addon()))

/**
 * Removes what crashed or killed cnmlab processes left behind: the namespaces in the ledger
 * (/run/cnmlab/ledger) whose owner process is gone. Never anything else.
 */
export const cleanAll = async (): Promise<CleanResult> => {
  const load = loadAddon()
  if (!load.ok) return { removed: [], failed: [] }
  return cleanOrphans(load.addon)
}
