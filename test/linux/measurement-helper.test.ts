import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { measurementPlane } from "../../backends/linux/measurement/plane.ts"
import { needsRoot, root } from "./support.ts"

/**
 * The measurement helper runs every one of its threads ahead of ordinary work, not only its event
 * loop: the loop waits on the others (V8's scavenger joins its helper threads; a thread in mmap
 * holds the address space), so one ordinary thread kept off the CPU by a busy machine held the
 * real-time loop, and a DNS answer sent on time was read after the timeout (the differential
 * test's `dns c4 asks "shared.n0": sim NOERROR [10.5.0.2] / linux TIMEOUT []` at load 15-19;
 * backends/linux/README.md, "Measurement plane"). Checked from outside, in /proc.
 */
const SCHED_RR = 2

interface ThreadScheduling {
  readonly thread: number
  readonly policy: number
  readonly rtPriority: number
  readonly nice: number
}

/** policy, real-time priority and niceness of every thread of `pid`, from /proc/PID/task/TID/stat */
const threadsOf = (pid: number): ThreadScheduling[] =>
  readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
    // fields after the command name (which may hold spaces), numbered from 3 as in proc(5)
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const field = (n: number): number => Number(fields[n - 3])
    return { thread: Number(tid), policy: field(41), rtPriority: field(40), nice: field(19) }
  })

describe.skipIf(!root)(`linux backend: the measurement helper's threads (${needsRoot})`, () => {
  it("every thread of the helper runs under SCHED_RR (or at niceness -20 where that is refused), not only its event loop", async () => {
    const plane = measurementPlane()
    const scheduling = await plane.scheduling()
    const pid = plane.helperPid()
    expect(pid, scheduling).toBeDefined()
    const threads = threadsOf(pid as number)
    console.log(`[measurement helper] ${scheduling}; pid ${pid}: ${threads.map((t) => `${t.thread} policy ${t.policy} rt ${t.rtPriority} nice ${t.nice}`).join(", ")}`)
    // Node runs V8's platform workers and libuv's pool beside the loop: the check means something
    expect(threads.length).toBeGreaterThan(1)
    if (scheduling.startsWith("SCHED_RR")) {
      for (const t of threads) expect({ thread: t.thread, policy: t.policy, rtPriority: t.rtPriority }).toEqual({ thread: t.thread, policy: SCHED_RR, rtPriority: 1 })
    } else {
      for (const t of threads) expect({ thread: t.thread, nice: t.nice }).toEqual({ thread: t.thread, nice: -20 })
    }
  })
})
