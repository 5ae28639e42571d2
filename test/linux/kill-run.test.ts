/**
 * The real command killed while it builds: `cnmlab run --backend linux` is SIGKILLed at random
 * points of its setup, then `cnmlab clean` must remove everything those runs made, print it, and
 * touch nothing else; and Ctrl-C (SIGINT) must tear a run down by itself and exit 130.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { listEntries } from "../../backends/linux/ledger.ts"
import { needsRoot, processesIn, root, sh } from "./support.ts"

const projectRoot = fileURLToPath(new URL("../../", import.meta.url))
const SCENARIO = "test/fixtures/scenarios/kill-run.yaml"
const MULTIHOST_CHILD = fileURLToPath(new URL("./multihost-setup-child.ts", import.meta.url))
/** what the scenario makes: the underlay, 2 hosts, 8 containers */
const NAMESPACES = 11
const KILLS = 5
const INTERRUPTS = 2

interface Run {
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stdout: string
  stderr: string
}

const startRun = (args: ReadonlyArray<string>, argv: ReadonlyArray<string> = ["bin/cnmlab.js"]): Run => {
  const child = spawn(process.execPath, [...argv, ...args], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] })
  const run: Run = {
    child,
    exited: new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal }))),
    stdout: "",
    stderr: "",
  }
  child.stdout?.on("data", (chunk: Buffer) => (run.stdout += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (run.stderr += chunk.toString()))
  return run
}

/** a bound against a hang, not a timing goal: each kill starts a run under tsx, slow on a loaded machine */
const HANG_GUARD_MS = 900_000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** the namespaces a process has claimed in the ledger and not yet recorded as gone */
const claimsOf = (pid: number): string[] => listEntries().filter((e) => e.pid === pid).map((e) => e.ns)

/** every namespace of a run: its names start with its run id, which starts with its pid in base 36 */
const namespacesOf = (pid: number): string[] => readdirSync("/run/netns").filter((ns) => ns.startsWith(`cnm-${pid.toString(36)}`))

/**
 * polls until `done` holds (every 2 ms); returns the moment it did. The bound only guards against
 * a hang: a run starting tsx on a 2-core machine at load 18 took over 30 s to claim its first namespace.
 */
const waitUntil = async (what: string, done: () => boolean, timeoutMs = 300_000): Promise<number> => {
  const started = performance.now()
  while (!done()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
  return performance.now()
}

/** starts a run (by default `cnmlab run` of the scenario) and resolves once it has claimed its first namespace: setup has begun */
const startSetup = async (start: () => Run = () => startRun(["run", SCENARIO, "--backend", "linux"])): Promise<{ run: Run; pid: number }> => {
  const run = start()
  const pid = run.child.pid as number
  await waitUntil(`run ${pid} to claim a namespace`, () => claimsOf(pid).length > 0 || run.child.exitCode !== null)
  if (run.child.exitCode !== null) throw new Error(`run ${pid} ended before its setup (exit ${run.child.exitCode}): ${run.stderr}`)
  return { run, pid }
}

/**
 * Where the `k`-th of `strata` stops lands: once the run has claimed this many of its `total`
 * namespaces, at a random point of the k-th stratum of 1 … total-1. Progress, not wall time: a
 * point taken from one run's setup duration lands after the end of a later run's setup when the
 * machine's load changes between them (seen: killed 2119 ms into a 4592 ms window, already ended),
 * and one run still has namespaces to make at every such point.
 */
const stopPoint = (k: number, strata: number, total: number): number => 1 + Math.floor(((total - 1) * (k + Math.random())) / strata)

/** starts a run and sends it `signal` once it has claimed `claimed` namespaces; null: it ended first */
const stopDuringSetup = async (claimed: number, signal: NodeJS.Signals, start?: () => Run) => {
  const { run, pid } = await startSetup(start)
  await waitUntil(`run ${pid} to claim ${claimed} namespaces`, () => claimsOf(pid).length >= claimed || run.child.exitCode !== null)
  const claimedAtStop = claimsOf(pid).length
  run.child.kill(signal)
  return { run, pid, claimedAtStop, ...(await run.exited) }
}

/** KILLS runs, each SIGKILLed during its setup (stratified over its `total` namespaces), with what each left behind */
const killDuringSetup = async (total: number, start?: () => Run) => {
  const victims: Array<{ pid: number; claimed: number; leftBehind: string[] }> = []
  for (let k = 0; k < KILLS; k++) {
    const claimed = stopPoint(k, KILLS, total)
    const { pid, signal, claimedAtStop } = await stopDuringSetup(claimed, "SIGKILL", start)
    expect(signal, `run ${pid} had already ended before it claimed ${claimed} of its ${total} namespaces`).toBe("SIGKILL")
    victims.push({ pid, claimed: claimedAtStop, leftBehind: namespacesOf(pid) })
  }
  return victims
}

describe.skipIf(!root)(`cnmlab run --backend linux, killed during setup (${needsRoot})`, () => {
  const tag = Math.random().toString(36).slice(2, 8)
  // not ours: one with our prefix but never in the ledger, one outside the prefix
  const foreign = [`cnm-foreign-${tag}`, `kr-outside-${tag}`]
  beforeAll(async () => {
    for (const ns of foreign) sh("ip", ["netns", "add", ns])
    // a run left alone claims all its namespaces, ends well and leaves nothing behind
    const { run, pid } = await startSetup()
    await waitUntil(`run ${pid} to claim all ${NAMESPACES} namespaces`, () => claimsOf(pid).length >= NAMESPACES)
    const { code } = await run.exited
    expect(code, run.stderr).toBe(0)
    expect(namespacesOf(pid)).toEqual([])
    expect(claimsOf(pid)).toEqual([])
  })

  afterAll(() => {
    for (const ns of foreign) if (existsSync(`/run/netns/${ns}`)) sh("ip", ["netns", "del", ns])
  })

  it(`SIGKILL at ${KILLS} random points of setup: clean removes all of those runs' namespaces and ledger entries, says so, and nothing else`, async () => {
    const victims = await killDuringSetup(NAMESPACES)
    console.log(
      `[kill-run] killed with ${victims.map((v) => `${v.claimed} of ${NAMESPACES} namespaces claimed (${v.leftBehind.length} left)`).join(", ")}`,
    )
    // a kill during setup leaves namespaces behind: otherwise this test would not test clean
    expect(victims.some((v) => v.leftBehind.length > 0)).toBe(true)
    for (const { pid, leftBehind } of victims) {
      // everything on disk was claimed in the ledger before it was made
      for (const ns of leftBehind) expect(claimsOf(pid)).toContain(ns)
    }

    // nothing of a killed run lives on inside what it left: its firewall was never a process
    for (const { leftBehind } of victims) for (const ns of leftBehind) expect(processesIn(ns), ns).toEqual([])

    const clean = spawnSync(process.execPath, ["bin/cnmlab.js", "clean"], { cwd: projectRoot, encoding: "utf8", timeout: 300_000 })
    expect(clean.status, clean.stderr).toBe(0)
    for (const { pid, leftBehind } of victims) {
      for (const ns of leftBehind) expect(clean.stdout).toMatch(new RegExp(`^  ${ns}$`, "m"))
      expect(namespacesOf(pid)).toEqual([])
      expect(claimsOf(pid)).toEqual([])
      expect(readdirSync("/run/cnmlab/ledger").filter((f) => f.startsWith(`owner-${pid}-`))).toEqual([])
    }
    for (const ns of foreign) expect(existsSync(`/run/netns/${ns}`)).toBe(true)
  }, HANG_GUARD_MS)

  it(`Ctrl-C (SIGINT) at ${INTERRUPTS} random points of setup: the run tears down by itself and exits 130`, async () => {
    for (let k = 0; k < INTERRUPTS; k++) {
      const { run, pid, code } = await stopDuringSetup(stopPoint(k, INTERRUPTS, NAMESPACES), "SIGINT")
      expect(code, run.stderr).toBe(130)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain("cnmlab: interrupted, tearing down")
      // no clean: the run removed its namespaces and closed its ledger itself
      expect(namespacesOf(pid)).toEqual([])
      expect(claimsOf(pid)).toEqual([])
      expect(readdirSync("/run/cnmlab/ledger").filter((f) => f.startsWith(`owner-${pid}-`))).toEqual([])
    }
    for (const ns of foreign) expect(existsSync(`/run/netns/${ns}`)).toBe(true)
  }, HANG_GUARD_MS)
})

/**
 * The same for a three-host swarm lab (overlay namespaces, Docker's own sandboxes, vxlan devices
 * made from the hosts' namespaces): killed at random points of its setup, `cnmlab clean` leaves
 * nothing of it.
 */
describe.skipIf(!root)(`a three-host swarm lab on the linux backend, killed during setup (${needsRoot})`, () => {
  const startChild = () => startRun([], ["--import", "tsx", MULTIHOST_CHILD])
  /** how many namespaces a run left alone claims: the kills are stratified over them */
  let namespacesMade = 0

  beforeAll(async () => {
    const { run, pid } = await startSetup(startChild)
    let most = 0
    await waitUntil(`run ${pid} to finish its setup`, () => {
      most = Math.max(most, claimsOf(pid).length)
      return run.stdout.includes("built") || run.child.exitCode !== null
    }, 120_000)
    namespacesMade = most
    const { code } = await run.exited
    expect(code, run.stderr).toBe(0)
    expect(run.stdout).toBe("built\ndone\n")
    expect(namespacesOf(pid)).toEqual([])
  })

  it(`SIGKILL at ${KILLS} random points of setup: clean removes every namespace of those runs`, async () => {
    const victims = await killDuringSetup(namespacesMade, startChild)
    console.log(
      `[kill-run, 3 hosts] killed with ${victims.map((v) => `${v.claimed} of ${namespacesMade} namespaces claimed (${v.leftBehind.length} left)`).join(", ")}`,
    )
    expect(namespacesMade).toBeGreaterThanOrEqual(3 * 5 + 1)
    expect(victims.some((v) => v.leftBehind.some((ns) => ns.includes("-ov-")))).toBe(true)
    for (const { pid, leftBehind } of victims) for (const ns of leftBehind) expect(claimsOf(pid)).toContain(ns)
    const clean = spawnSync(process.execPath, ["bin/cnmlab.js", "clean"], { cwd: projectRoot, encoding: "utf8", timeout: 120_000 })
    expect(clean.status, clean.stderr).toBe(0)
    for (const { pid } of victims) {
      expect(namespacesOf(pid)).toEqual([])
      expect(claimsOf(pid)).toEqual([])
      expect(readdirSync("/run/cnmlab/ledger").filter((f) => f.startsWith(`owner-${pid}-`))).toEqual([])
    }
  })
})
