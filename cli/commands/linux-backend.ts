/**
 * The linux backend's module, imported on demand: it loads a native addon, which `run --backend
 * sim` and `help` must never depend on. A failed import means "backend not available", not a crash.
 */
export type LinuxBackendModule = typeof import("../../backends/linux/index.ts")

export type Availability = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/** what `doctor()` answers, as the CLI relies on it */
export interface DoctorReport {
  readonly checks: ReadonlyArray<{ readonly name: string; readonly ok: boolean; readonly detail: string }>
}

/** what `cleanAll()` answers, as the CLI relies on it */
export interface CleanReport {
  readonly removed: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly ns: string; readonly reason: string }>
}

export const importLinuxBackend = async (): Promise<
  { readonly ok: true; readonly module: LinuxBackendModule } | { readonly ok: false; readonly reason: string }
> => {
  try {
    return { ok: true, module: await import("../../backends/linux/index.ts") }
  } catch (error) {
    return { ok: false, reason: `its module could not be loaded: ${error instanceof Error ? error.message : String(error)}` }
  }
}

/**
 * The backend's own verdict (Linux, CAP_NET_ADMIN and CAP_SYS_ADMIN, the native addon built): one
 * place decides, so the CLI can never call available what the backend then refuses.
 */
export const linuxBackendAvailability = async (): Promise<Availability> => {
  const backend = await importLinuxBackend()
  return backend.ok ? backend.module.linuxAvailability() : backend
}
