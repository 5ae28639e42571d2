import { existsSync } from "node:fs"
import type { NetnsAddon } from "./addon.ts"
import { listEntries, ownerAlive, removeEntry, type LedgerEntry } from "./ledger.ts"
import { nsPath } from "./namespaces.ts"

/** ledger entries whose process is gone: what a crash or SIGKILL left behind */
export const orphanedEntries = (): LedgerEntry[] => listEntries().filter((entry) => !ownerAlive(entry))

/**
 * Removes the namespaces a dead cnmlab process left: exactly those with a ledger entry whose
 * owner no longer runs. Namespaces of live processes, and any /run/netns entry without a ledger
 * entry (someone else's, even if named cnm-…), are never touched.
 */
export const cleanOrphans = (native: NetnsAddon): { removed: string[] } => {
  const removed: string[] = []
  for (const entry of orphanedEntries()) {
    if (!entry.ns.startsWith("cnm-")) continue
    if (existsSync(nsPath(entry.ns))) {
      native.deleteNetns(entry.ns)
      removed.push(entry.ns)
    }
    removeEntry(entry.ns)
  }
  return { removed }
}
