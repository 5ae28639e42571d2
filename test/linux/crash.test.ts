import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { cleanAll, doctor, makeLinuxKernel } from "../../backends/linux/index.ts"
import { readEntry } from "../../backends/linux/ledger.ts"
import { needsRoot, nsName, root, run, sh } from "./support.ts"

const child = fileURLToPath(new URL("./crash-child.ts", import.meta.url))

/** starts crash-child.ts, waits until its namespaces exist, returns the process */
const startChild = (names: ReadonlyArray<string>) =>
  new Promise<ReturnType<typeof spawn>>((resolve, reject) => {
    const proc = spawn(process.execPath, ["--import", "tsx", child, ...names], { stdio: ["ignore", "pipe", "inherit"] })
    proc.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().startsWith("ready")) resolve(proc)
    })
    proc.on("exit", (code) => reject(new Error(`crash child exited early (${code})`)))
  })

describe.skipIf(!root)(`linux backend: cleaning up after a SIGKILL (${needsRoot})`, () => {
  const foreign = nsName("foreign")
  afterAll(() => {
    if (existsSync(`/run/netns/${foreign}`)) sh("ip", ["netns", "del", foreign])
  })

  it("cleanAll removes exactly the namespaces of dead cnmlab processes", async () => {
    const victims = [nsName("kill-a"), nsName("kill-b")]
    const proc = await startChild(victims)
    for (const ns of victims) {
      expect(existsSync(`/run/netns/${ns}`)).toBe(true)
      expect(readEntry(ns)?.pid).toBe(proc.pid)
    }
    // namespaces cnmlab must not touch: one made by someone else with our prefix, one of a live process
    sh("ip", ["netns", "add", foreign])
    const live = await makeLinuxKernel()
    const alive = nsName("alive")
    await run(live.apply([{ op: "nsAdd", ns: alive }]))

    // while the owner runs, nothing is an orphan
    expect((await cleanAll()).removed).not.toEqual(expect.arrayContaining(victims))
    proc.kill("SIGKILL")
    await new Promise((resolve) => proc.on("exit", resolve))
    const leftovers = (await doctor()).checks.find((c) => c.name === "leftovers")
    expect(leftovers?.ok).toBe(false)
    expect(leftovers?.detail).toContain(victims[0])

    const { removed } = await cleanAll()
    expect(removed.sort()).toEqual([...victims].sort())
    for (const ns of victims) {
      expect(existsSync(`/run/netns/${ns}`)).toBe(false)
      expect(readEntry(ns)).toBeUndefined()
    }
    expect(existsSync(`/run/netns/${foreign}`)).toBe(true)
    expect(existsSync(`/run/netns/${alive}`)).toBe(true)
    expect((await cleanAll()).removed).toEqual([])
    await run(live.close())
    expect(existsSync(`/run/netns/${alive}`)).toBe(false)
  })
})
