import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  deadLedgerFiles,
  forgetEntries,
  isOwnEntry,
  listEntries,
  ownerAlive,
  processStartTime,
  readEntry,
  recordGone,
  recordIntent,
  releaseOwnJournals,
} from "../../backends/linux/ledger.ts"

/** a pid that no longer runs (a child that already exited) */
const deadPid = (): number => spawnSync(process.execPath, ["-e", ""]).pid as number

/** Pure tier (a temporary directory stands in for /run/cnmlab/ledger): the crash-proof record. */
describe("ledger", () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cnmlab-ledger-"))
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  const ownJournal = (): string => {
    const files = readdirSync(dir).filter((f) => f.startsWith(`owner-${process.pid}-`))
    expect(files).toHaveLength(1)
    return join(dir, files[0] as string)
  }

  it("journals a claim before the namespace exists and its end after, in this process's own file", () => {
    expect(recordIntent("cnm-a", dir)).toBe(true)
    expect(recordIntent("cnm-b", dir)).toBe(true)
    const lines = readFileSync(ownJournal(), "utf8").split("\n")
    expect(lines[0]).toMatch(/^\+ cnm-a \d{4}-\d\d-\d\dT[\d:.]+Z$/)
    const entry = readEntry("cnm-a", dir)
    expect(entry).toMatchObject({ ns: "cnm-a", pid: process.pid })
    expect(entry && isOwnEntry(entry) && ownerAlive(entry)).toBe(true)
    expect(listEntries(dir).map((e) => e.ns).sort()).toEqual(["cnm-a", "cnm-b"])
    recordGone("cnm-a", dir)
    expect(listEntries(dir).map((e) => e.ns)).toEqual(["cnm-b"])
    // a second end, or the end of a claim this process never made, writes nothing
    const before = readFileSync(ownJournal(), "utf8")
    recordGone("cnm-a", dir)
    recordGone("cnm-never", dir)
    expect(readFileSync(ownJournal(), "utf8")).toBe(before)
  })

  it("releases its journal once it holds no claim, and opens a new one for the next claim", () => {
    recordIntent("cnm-r", dir)
    releaseOwnJournals()
    expect(readdirSync(dir)).toHaveLength(1)
    recordGone("cnm-r", dir)
    releaseOwnJournals()
    expect(readdirSync(dir)).toEqual([])
    recordIntent("cnm-s", dir)
    expect(readEntry("cnm-s", dir)?.pid).toBe(process.pid)
    recordGone("cnm-s", dir)
    releaseOwnJournals()
  })

  it("a second claim on a name it holds writes nothing, so a failed duplicate create cannot withdraw it", () => {
    expect(recordIntent("cnm-dup", dir)).toBe(true)
    expect(recordIntent("cnm-dup", dir)).toBe(false)
    expect(readEntry("cnm-dup", dir)?.pid).toBe(process.pid)
    expect(readFileSync(ownJournal(), "utf8").match(/cnm-dup/g)).toHaveLength(1)
  })

  it("reads a dead owner's journal (a torn last line ignored), forgets claims, and deletes the emptied journal", () => {
    const pid = deadPid()
    const journal = join(dir, `owner-${pid}-4242`)
    writeFileSync(journal, "+ cnm-a 2026-01-01T00:00:00.000Z\n+ cnm-b 2026-01-01T00:00:01.000Z\n- cnm-a\n+ cnm-c 2026-01-01T00:00:02.000Z\n+ cnm-d")
    const entries = listEntries(dir)
    expect(entries.map((e) => e.ns).sort()).toEqual(["cnm-b", "cnm-c"])
    expect(entries.every((e) => e.pid === pid && e.startTime === "4242" && !ownerAlive(e))).toBe(true)
    expect(deadLedgerFiles(dir)).toEqual([])

    forgetEntries(entries.filter((e) => e.ns === "cnm-b"))
    expect(listEntries(dir).map((e) => e.ns)).toEqual(["cnm-c"])
    forgetEntries(listEntries(dir))
    expect(existsSync(journal)).toBe(false)
    expect(() => forgetEntries([{ ns: "cnm-x", pid: process.pid, startTime: processStartTime(process.pid) as string, createdAt: "", file: journal }])).toThrow(
      /belongs to this process/,
    )
  })

  it("lists dead journals with nothing left in them and rewrites a dead clean left, never a live one", () => {
    const dead = join(dir, `owner-${deadPid()}-1`)
    writeFileSync(dead, "+ cnm-a 2026-01-01T00:00:00.000Z\n- cnm-a\n")
    writeFileSync(join(dir, `owner-${deadPid()}-2`), "+ cnm-b 2026-01-01T00:00:00.000Z\n")
    const halfDone = `owner-${deadPid()}-3.rewrite-${deadPid()}`
    writeFileSync(join(dir, halfDone), "+ cnm-c 2026-01-01T00:00:00.000Z\n")
    writeFileSync(join(dir, `owner-${deadPid()}-4.rewrite-${process.pid}`), "")
    recordIntent("cnm-live", dir)
    recordGone("cnm-live", dir)
    expect(deadLedgerFiles(dir).sort()).toEqual([basename(dead), halfDone].sort())
  })

  it("still reads entries of the one-file-per-namespace layout, and forgets them by deleting the file", () => {
    const pid = deadPid()
    writeFileSync(join(dir, "cnm-old"), `${pid} 77 2026-01-01T00:00:00.000Z\n`)
    writeFileSync(join(dir, "unrelated"), "not an entry\n")
    const entries = listEntries(dir)
    expect(entries).toEqual([{ ns: "cnm-old", pid, startTime: "77", createdAt: "2026-01-01T00:00:00.000Z", file: join(dir, "cnm-old") }])
    forgetEntries(entries)
    expect(existsSync(join(dir, "cnm-old"))).toBe(false)
    expect(existsSync(join(dir, "unrelated"))).toBe(true)
  })

  it("prefers a live owner's claim when a dead run claimed the same name", () => {
    writeFileSync(join(dir, `owner-${deadPid()}-9`), "+ cnm-reused 2026-01-01T00:00:00.000Z\n")
    recordIntent("cnm-reused", dir)
    expect(listEntries(dir).filter((e) => e.ns === "cnm-reused")).toHaveLength(2)
    expect(readEntry("cnm-reused", dir)?.pid).toBe(process.pid)
  })

  it("knows a dead owner, and a reused pid (other start time) is not the owner", () => {
    const dead = deadPid()
    expect(processStartTime(dead)).toBeUndefined()
    expect(ownerAlive({ pid: dead, startTime: "1" })).toBe(false)
    const own = processStartTime(process.pid) as string
    expect(own).toMatch(/^\d+$/)
    expect(ownerAlive({ pid: process.pid, startTime: own })).toBe(true)
    expect(ownerAlive({ pid: process.pid, startTime: `${Number(own) + 1}` })).toBe(false)
  })

  it("lists nothing when the ledger directory does not exist", () => {
    expect(listEntries(join(dir, "missing"))).toEqual([])
    expect(deadLedgerFiles(join(dir, "missing"))).toEqual([])
  })
})
