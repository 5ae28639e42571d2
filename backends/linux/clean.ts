import { existsSync, readdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import type { NetnsAddon } from "./addon.ts"
import { deadLedgerFiles, forgetEntries, type LedgerEntry, LEDGER_DIR, listEntries, ownerAlive } from "./ledger.ts"
import { NS_PREFIX, nsPath } from "./namespaces.ts"

/** ledger entries whose process is gone: what a crash or SIGKILL left behind */
export const orphanedEntries = (): LedgerEntry[] => listEntries().filter((entry) => !ownerAlive(entry))

export interface CleanResult {
  /** namespaces deleted */
  readonly removed: string[]
  /** namespaces that could not be deleted, with the reason (their ledger entries are kept) */
  readonly failed: Array<{ readonly ns: string; readonly reason: string }>
}

/**
 * Removes the namespaces a dead cnmlab process left: exactly those with a ledger entry whose
 * owner no longer runs, unless a running process claims the same name (it re-created it).
 * Namespaces of live processes, and any /run/netns entry without a ledger entry (someone else's,
 * even if named cnm-…), are never touched.
 */
export const cleanOrphans = (native: NetnsAddon): CleanResult => {
  const entries = listEntries()
  const claimedByLive = new Set(entries.filter(ownerAlive).map((e) => e.ns))
  const removed = new Set<string>()
  const failed: Array<{ ns: string; reason: string }> = []
  const settled: LedgerEntry[] = []
  for (const entry of entries) {
    if (ownerAlive(entry)) continue
    if (!entry.ns.startsWith(NS_PREFIX) || claimedByLive.has(entry.ns)) {
      settled.push(entry)
      continue
    }
    if (existsSync(nsPath(entry.ns)) && !removed.has(entry.ns)) {
      try {
        native.deleteNetns(entry.ns)
        removed.add(entry.ns)
      } catch (error) {
        // gone meanwhile (another clean), or refused: say so, keep the entry for the next clean
        if (existsSync(nsPath(entry.ns))) {
          failed.push({ ns: entry.ns, reason: (error as Error).message })
          continue
        }
      }
    }
    settled.push(entry)
  }
  forgetEntries(settled)
  for (const name of deadLedgerFiles()) rmSync(join(LEDGER_DIR, name), { force: true })
  removeDeadNftInputs()
  return { removed: [...removed], failed }
}

/** where versions that ran an nft process per change left its input files */
const NFT_INPUT_DIR = "/run/cnmlab/nft"

/** nft input files (`<pid>-<n>.json`) a killed process of such a version had no chance to delete */
const removeDeadNftInputs = (): void => {
  let names: string[]
  try {
    names = readdirSync(NFT_INPUT_DIR)
  } catch {
    return
  }
  for (const name of names) {
    const pid = Number(/^(\d+)-\d+\.json$/.exec(name)?.[1])
    if (Number.isInteger(pid) && pid > 0 && !processExists(pid)) rmSync(join(NFT_INPUT_DIR, name), { force: true })
  }
}

const processExists = (pid: number): boolean => existsSync(`/proc/${pid}`)
