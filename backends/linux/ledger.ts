import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs"
import { basename, join } from "node:path"

/**
 * A record, outside the process, of every namespace cnmlab creates, so that after a crash or
 * SIGKILL `cleanAll` knows exactly which /run/netns entries are ours and never touches anything
 * else. One journal per process, /run/cnmlab/ledger/owner-PID-STARTTIME, that only its owner
 * appends to: `+ NS CREATED-AT` is written BEFORE the namespace exists, `- NS` AFTER it is gone
 * (or after a create that failed). Each line is one write to an O_APPEND file, so a kill leaves
 * whole lines. An append costs a few microseconds; the earlier design, one file per namespace,
 * cost a file creation per namespace: 0.3-0.9 ms where /run is ext4 without a journal (as on the
 * machine this was measured on: the inode allocator skips every recently deleted inode).
 * Files named cnm-* (that design's entries: "pid starttime created-at") are still read.
 */
export const LEDGER_DIR = "/run/cnmlab/ledger"

export interface LedgerEntry {
  readonly ns: string
  readonly pid: number
  /** the owner's start time in clock ticks since boot (/proc/PID/stat field 22): pids get reused */
  readonly startTime: string
  readonly createdAt: string
  /** the file that holds the claim */
  readonly file: string
}

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
const JOURNAL = /^owner-(\d+)-(\d+)$/
const LEGACY = /^cnm-/

const journalName = (pid: number, startTime: string): string => `owner-${pid}-${startTime}`

/** this process's journal in a ledger directory, and the claims it holds open */
interface OwnJournal {
  readonly fd: number
  readonly open: Set<string>
}

const ownJournals = new Map<string, OwnJournal>()

const ownJournal = (dir: string): OwnJournal => {
  let journal = ownJournals.get(dir)
  if (journal === undefined) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    journal = { fd: openSync(join(dir, journalName(process.pid, ownStartTime)), "a", 0o600), open: new Set() }
    ownJournals.set(dir, journal)
  }
  return journal
}

/**
 * Records that this process is about to create `ns`. Returns false (and writes nothing) when
 * this process already holds the claim: a failed second create must not withdraw it.
 */
export const recordIntent = (ns: string, dir = LEDGER_DIR): boolean => {
  const journal = ownJournal(dir)
  if (journal.open.has(ns)) return false
  writeSync(journal.fd, `+ ${ns} ${new Date().toISOString()}\n`)
  journal.open.add(ns)
  return true
}

/** records that `ns` is gone (deleted, or its create failed); nothing when this process holds no claim on it */
export const recordGone = (ns: string, dir = LEDGER_DIR): void => {
  const journal = ownJournals.get(dir)
  if (!journal?.open.has(ns)) return
  writeSync(journal.fd, `- ${ns}\n`)
  journal.open.delete(ns)
}

/** the claims a journal still holds: every `+` without a later `-` (a line without its newline is torn, and ignored) */
const openClaims = (text: string): Map<string, string> => {
  const claims = new Map<string, string>()
  for (const line of text.split("\n").slice(0, -1)) {
    const [sign, ns, createdAt] = line.split(" ")
    if (ns === undefined || ns === "") continue
    if (sign === "+") claims.set(ns, createdAt ?? "")
    else if (sign === "-") claims.delete(ns)
  }
  return claims
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

/** every claim in the ledger: the open ones of every journal, and the older one-file entries */
export const listEntries = (dir = LEDGER_DIR): LedgerEntry[] => {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.flatMap((name): LedgerEntry[] => {
    const file = join(dir, name)
    const journal = JOURNAL.exec(name)
    if (journal) {
      const text = readText(file)
      if (text === undefined) return []
      const pid = Number(journal[1])
      const startTime = journal[2] as string
      return [...openClaims(text)].map(([ns, createdAt]) => ({ ns, pid, startTime, createdAt, file }))
    }
    if (!LEGACY.test(name)) return []
    const [pid, startTime, createdAt] = (readText(file) ?? "").trim().split(" ")
    if (pid === undefined || pid === "") return []
    return [{ ns: name, pid: Number(pid), startTime: startTime ?? "0", createdAt: createdAt ?? "", file }]
  })
}

/** is the process that wrote the entry still running (the same process, not a reused pid)? */
type Owner = Pick<LedgerEntry, "pid" | "startTime"> & Partial<LedgerEntry>

export const ownerAlive = (entry: Owner): boolean =>
  processStartTime(entry.pid) === entry.startTime

export const isOwnEntry = (entry: Owner): boolean =>
  entry.pid === process.pid && entry.startTime === ownStartTime

/** the claim on `ns`: a live owner's when there is one (a name can be re-created after a crash) */
export const readEntry = (ns: string, dir = LEDGER_DIR): LedgerEntry | undefined => {
  const claims = listEntries(dir).filter((e) => e.ns === ns)
  return claims.find(ownerAlive) ?? claims[0]
}

/**
 * Drops claims of dead owners once their namespaces are gone (cleanAll): a journal is rewritten
 * with the claims it has left (to a new file renamed over it, so a crash keeps either version),
 * or deleted when none are left; an old one-file entry is deleted.
 */
export const forgetEntries = (entries: ReadonlyArray<LedgerEntry>): void => {
  const byFile = new Map<string, LedgerEntry[]>()
  for (const entry of entries) {
    if (isOwnEntry(entry)) throw new Error(`ledger: ${entry.ns} belongs to this process; use recordGone`)
    byFile.set(entry.file, [...(byFile.get(entry.file) ?? []), entry])
  }
  for (const [file, forgotten] of byFile) {
    const remaining = LEGACY.test(basename(file)) ? new Map<string, string>() : openClaims(readText(file) ?? "")
    for (const entry of forgotten) remaining.delete(entry.ns)
    if (remaining.size === 0) {
      rmSync(file, { force: true })
      continue
    }
    const next = `${file}.rewrite-${process.pid}`
    writeFileSync(next, [...remaining].map(([ns, createdAt]) => `+ ${ns} ${createdAt}\n`).join(""), { mode: 0o600 })
    renameSync(next, file)
  }
}

const REWRITE = /\.rewrite-(\d+)$/

/**
 * Files the ledger no longer needs: journals of dead owners with no claim left (a run that ended
 * while nobody was looking), and rewrites a killed clean left half done.
 */
export const deadLedgerFiles = (dir = LEDGER_DIR): string[] => {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.filter((name) => {
    const rewrite = REWRITE.exec(name)
    if (rewrite) return processStartTime(Number(rewrite[1])) === undefined
    const journal = JOURNAL.exec(name)
    if (!journal || ownerAlive({ pid: Number(journal[1]), startTime: journal[2] as string })) return false
    return openClaims(readText(join(dir, name)) ?? "").size === 0
  })
}

/**
 * Deletes this process's journals that hold no claim (a kernel closing calls it; a later create
 * opens a new one): a run, or a test worker killed after its tests, leaves nothing behind.
 */
export const releaseOwnJournals = (): void => {
  for (const [dir, journal] of ownJournals) {
    if (journal.open.size > 0) continue
    ownJournals.delete(dir)
    try {
      closeSync(journal.fd)
      rmSync(join(dir, journalName(process.pid, ownStartTime)), { force: true })
    } catch {
      // leaving an empty journal behind is harmless: clean removes it
    }
  }
}

// a run that ends normally has recorded every namespace as gone: its journal says nothing more
process.once("exit", releaseOwnJournals)
