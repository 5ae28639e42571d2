import { readFileSync } from "node:fs"

/** the version in package.json, the one place it is kept */
export const packageVersion = (): string => {
  const manifest: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
  const version = (manifest as { version?: unknown }).version
  return typeof version === "string" ? version : "unknown"
}
