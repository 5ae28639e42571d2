import { readFileSync } from "node:fs"
import { loadAddon } from "./addon.ts"

const CAP_NET_ADMIN = 12
const CAP_SYS_ADMIN = 21

/** the effective capability bits of this process (/proc/self/status CapEff) */
const effectiveCapabilities = (): bigint => {
  try {
    const line = readFileSync("/proc/self/status", "utf8")
      .split("\n")
      .find((l) => l.startsWith("CapEff:"))
    return line ? BigInt(`0x${line.slice("CapEff:".length).trim()}`) : 0n
  } catch {
    return 0n
  }
}

const hasCapability = (caps: bigint, bit: number): boolean => (caps & (1n << BigInt(bit))) !== 0n

export type Availability = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/**
 * Can the linux backend run here? It needs Linux, the native helper, CAP_SYS_ADMIN (setns, mount
 * of /run/netns entries) and CAP_NET_ADMIN (links, addresses, routes, nftables). Root has both.
 */
/** the capabilities the backend needs and this process lacks */
export const missingPrivileges = (): string[] => {
  const caps = effectiveCapabilities()
  return [
    ...(hasCapability(caps, CAP_NET_ADMIN) ? [] : ["CAP_NET_ADMIN"]),
    ...(hasCapability(caps, CAP_SYS_ADMIN) ? [] : ["CAP_SYS_ADMIN"]),
  ]
}

export const linuxAvailability = (): Availability => {
  if (process.platform !== "linux") return { ok: false, reason: `the linux backend needs Linux (this is ${process.platform})` }
  const missing = missingPrivileges()
  if (missing.length > 0)
    return { ok: false, reason: `the linux backend needs root (missing ${missing.join(" and ")}; run as root)` }
  const addon = loadAddon()
  if (!addon.ok) return { ok: false, reason: addon.reason }
  return { ok: true }
}
