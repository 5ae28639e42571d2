import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  isOwnEntry,
  listEntries,
  ownerAlive,
  processStartTime,
  readEntry,
  recordIntent,
  removeEntry,
  restoreEntry,
} from "../../backends/linux/ledger.ts"

/** Pure tier (a temporary directory stands in for /run/cnmlab/ledger): the crash-proof record. */
describe("ledger", () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cnmlab-ledger-"))
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it("records one line per namespace with this process's pid and start time, and removes it", () => {
    expect(recordIntent("cnm-a", dir)).toBeUndefined()
    recordIntent("cnm-b", dir)
    const line = readFileSync(join(dir, "cnm-a"), "utf8")
    expect(line).toMatch(new RegExp(`^${process.pid} \\d+ \\d{4}-\\d\\d-\\d\\dT`))
    expect(line.trim().split("\n")).toHaveLength(1)
    const entry = readEntry("cnm-a", dir)
    expect(entry && isOwnEntry(entry) && ownerAlive(entry)).toBe(true)
    expect(listEntries(dir).map((e) => e.ns).sort()).toEqual(["cnm-a", "cnm-b"])
    removeEntry("cnm-a", dir)
    expect(listEntries(dir).map((e) => e.ns)).toEqual(["cnm-b"])
    removeEntry("cnm-a", dir)
  })

  it("restores the previous owner when a create fails, and forgets a brand-new entry", () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number
    const previous = { ns: "cnm-a", pid: dead, startTime: "123", createdAt: "2026-01-01T00:00:00.000Z" }
    restoreEntry("cnm-a", previous, dir)
    const before = recordIntent("cnm-a", dir)
    expect(before).toEqual(previous)
    expect(readEntry("cnm-a", dir)?.pid).toBe(process.pid)
    restoreEntry("cnm-a", before, dir)
    expect(readEntry("cnm-a", dir)).toEqual(previous)
    restoreEntry("cnm-new", recordIntent("cnm-new", dir), dir)
    expect(readEntry("cnm-new", dir)).toBeUndefined()
  })

  it("knows a dead owner, and a reused pid (other start time) is not the owner", () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number
    expect(processStartTime(dead)).toBeUndefined()
    expect(ownerAlive({ ns: "cnm-x", pid: dead, startTime: "1", createdAt: "" })).toBe(false)
    const own = processStartTime(process.pid) as string
    expect(own).toMatch(/^\d+$/)
    expect(ownerAlive({ ns: "cnm-x", pid: process.pid, startTime: own, createdAt: "" })).toBe(true)
    expect(ownerAlive({ ns: "cnm-x", pid: process.pid, startTime: `${Number(own) + 1}`, createdAt: "" })).toBe(false)
  })

  it("lists nothing when the ledger directory does not exist", () => {
    expect(listEntries(join(dir, "missing"))).toEqual([])
  })
})
