import { readFileSync, writeFileSync } from "node:fs"
import type { NetnsAddon } from "./addon.ts"
import type { NamespaceTable } from "./namespaces.ts"

/** keys with a device name inside, which may itself hold dots ("eth0.100") */
const PER_DEVICE = /^net\.(ipv4|ipv6)\.(conf|neigh)\.(.+)\.([A-Za-z0-9_-]+)$/

/** "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward"; only the per-namespace net.* tree */
export const sysctlPath = (key: string): string => {
  const device = PER_DEVICE.exec(key)
  if (device) {
    const [, family, table, dev, field] = device as unknown as [string, string, string, string, string]
    if (!dev.includes("/") && dev !== "." && dev !== "..") return `/proc/sys/net/${family}/${table}/${dev}/${field}`
  }
  const segments = key.split(".")
  const valid = segments.length >= 2 && segments[0] === "net" && segments.every((s) => /^[A-Za-z0-9_-]+$/.test(s))
  // anything outside net.* is machine-wide: writing it from "inside a namespace" would change the host
  if (!valid) throw Object.assign(new Error(`sysctl ${key}: only per-namespace net.* keys are allowed`), { code: "EPERM" })
  return `/proc/sys/${segments.join("/")}`
}

/**
 * /proc/sys/net shows the namespace of the thread that OPENS the file, so both the write and the
 * read happen inside withNetns; the fs calls are synchronous, so no other code runs meanwhile.
 */
export const sysctlWrite = (native: NetnsAddon, namespaces: NamespaceTable, ns: string, key: string, value: string): void => {
  const file = sysctlPath(key)
  native.withNetns(namespaces.path(ns), () => writeFileSync(file, value))
}

export const sysctlRead = (native: NetnsAddon, namespaces: NamespaceTable, ns: string, key: string): string => {
  const file = sysctlPath(key)
  // the kernel separates multi-value sysctls with tabs; the caller wrote spaces
  return native.withNetns(namespaces.path(ns), () => readFileSync(file, "utf8")).trim().replace(/\s+/g, " ")
}
