import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/**
 * A record, outside the process, of every namespace cnmlab creates: one file per namespace in
 * /run/cnmlab/ledger holding one line "pid starttime created-at". It is written BEFORE the
 * namespace exists and removed AFTER it is gone, so after a crash or SIGKILL `cleanAll` knows
 * exactly which /run/netns entries are ours, and never touches anything else. One file per entry
 * (instead of one shared file) keeps concurrent processes from racing on rewrites.
 */
export const LEDGER_DIR = "/run/cnmlab/ledger"

export interface LedgerEntry {
  readonly ns: string
  readonly pid: number
  /** the owner's start time in clock ticks since boot (/proc/PID/stat field 22): pids get reused */
  readonly startTime: string
  readonly createdAt: string
}

const entryPath = (ns: string, dir: string): string => join(dir, ns)

/** the start time of a process, or undefined when it is gone */
export const processStartTime = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return fields[19]
  } catch {
    return undefined
  }
}

const ownStartTime = processStartTime(process.pid) ?? "0"

export const readEntry = (ns: string, dir = LEDGER_DIR): LedgerEntry | undefined => {
  try {
    const [pid, startTime, createdAt] = readFileSync(entryPath(ns, dir), "utf8").trim().split(" ")
    return { ns, pid: Number(pid), startTime: startTime ?? "0", createdAt: createdAt ?? "" }
  } catch {
    return undefined
  }
}

/** records that this process is about to create `ns`; returns what was there before, to restore */
export const recordIntent = (ns: string, dir = LEDGER_DIR): LedgerEntry | undefined => {
  const previous = readEntry(ns, dir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  writeFileSync(entryPath(ns, dir), `${process.pid} ${ownStartTime} ${new Date().toISOString()}\n`)
  return previous
}

/** undoes recordIntent after a failed create */
export const restoreEntry = (ns: string, previous: LedgerEntry | undefined, dir = LEDGER_DIR): void => {
  if (!previous) return removeEntry(ns, dir)
  writeFileSync(entryPath(ns, dir), `${previous.pid} ${previous.startTime} ${previous.createdAt}\n`)
}

export const removeEntry = (ns: string, dir = LEDGER_DIR): void => {
  rmSync(entryPath(ns, dir), { force: true })
}

export const listEntries = (dir = LEDGER_DIR): LedgerEntry[] => {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.flatMap((ns) => {
    const entry = readEntry(ns, dir)
    return entry ? [entry] : []
  })
}

/** is the process that wrote the entry still running (the same process, not a reused pid)? */
export const ownerAlive = (entry: LedgerEntry): boolean => processStartTime(entry.pid) === entry.startTime

export const isOwnEntry = (entry: LedgerEntry): boolean => entry.pid === process.pid && entry.startTime === ownStartTime
