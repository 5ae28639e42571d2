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
import { needsRoot, root, sh } from "./support.ts"

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** the namespaces a process has claimed in the ledger and not yet recorded as gone */
const claimsOf = (pid: number): string[] => listEntries().filter((e) => e.pid === pid).map((e) => e.ns)

/** every namespace of a run: its names start with its run id, which starts with its pid in base 36 */
const namespacesOf = (pid: number): string[] => readdirSync("/run/netns").filter((ns) => ns.startsWith(`cnm-${pid.toString(36)}`))

/** polls until `done` holds (every 2 ms); returns the moment it did */
const waitUntil = async (what: string, done: () => boolean, timeoutMs = 30_000): Promise<number> => {
  const started = performance.now()
  while (!done()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
  return performance.now()
}

/** starts a run (by default `cnmlab run` of the scenario) and resolves once it has claimed its first namespace: setup has begun */
const startSetup = async (start: () => Run = () => startRun(["run", SCENARIO, "--backend", "linux"])): Promise<{ run: Run; pid: number; setupStarted: number }> => {
  const run = start()
  const pid = run.child.pid as number
  const setupStarted = await waitUntil(`run ${pid} to claim a namespace`, () => claimsOf(pid).length > 0 || run.child.exitCode !== null)
  if (run.child.exitCode !== null) throw new Error(`run ${pid} ended before its setup (exit ${run.child.exitCode}): ${run.stderr}`)
  return { run, pid, setupStarted }
}

/** KILLS runs, each SIGKILLed during its setup, with what each left behind */
const killDuringSetup = async (setupWindowMs: number, start?: () => Run) => {
  const victims: Array<{ pid: number; delayMs: number; leftBehind: string[] }> = []
  for (let k = 0; k < KILLS; k++) {
    const { run, pid } = await startSetup(start)
    // stratified: one kill in each fifth of the window, at a random point inside it
    const delayMs = (setupWindowMs * (k + Math.random())) / KILLS
    await sleep(delayMs)
    run.child.kill("SIGKILL")
    const { signal } = await run.exited
    expect(signal, `run ${pid} had already ended ${delayMs.toFixed(0)} ms into a ${setupWindowMs.toFixed(0)} ms setup`).toBe("SIGKILL")
    victims.push({ pid, delayMs, leftBehind: namespacesOf(pid) })
  }
  return victims
}

describe.skipIf(!root)(`cnmlab run --backend linux, killed during setup (${needsRoot})`, () => {
  const tag = Math.random().toString(36).slice(2, 8)
  // not ours: one with our prefix but never in the ledger, one outside the prefix
  const foreign = [`cnm-foreign-${tag}`, `kr-outside-${tag}`]
  /** how long setup takes from the first namespace to the last, measured by a run left alone */
  let setupWindowMs = 0

  beforeAll(async () => {
    for (const ns of foreign) sh("ip", ["netns", "add", ns])
    const { run, pid, setupStarted } = await startSetup()
    const setupDone = await waitUntil(`run ${pid} to claim all ${NAMESPACES} namespaces`, () => claimsOf(pid).length >= NAMESPACES)
    // the last container's links, address and route come after its namespace
    setupWindowMs = setupDone - setupStarted + 30
    const { code } = await run.exited
    expect(code, run.stderr).toBe(0)
    expect(namespacesOf(pid)).toEqual([])
    expect(claimsOf(pid)).toEqual([])
  })

  afterAll(() => {
    for (const ns of foreign) if (existsSync(`/run/netns/${ns}`)) sh("ip", ["netns", "del", ns])
  })

  it(`SIGKILL at ${KILLS} random points of setup: clean removes all of those runs' namespaces and ledger entries, says so, and nothing else`, async () => {
    const victims = await killDuringSetup(setupWindowMs)
    console.log(
      `[kill-run] setup window ${setupWindowMs.toFixed(0)} ms; killed at ${victims.map((v) => `${v.delayMs.toFixed(0)} ms (${v.leftBehind.length} left)`).join(", ")}`,
    )
    // a kill during setup leaves namespaces behind: otherwise this test would not test clean
    expect(victims.some((v) => v.leftBehind.length > 0)).toBe(true)
    for (const { pid, leftBehind } of victims) {
      // everything on disk was claimed in the ledger before it was made
      for (const ns of leftBehind) expect(claimsOf(pid)).toContain(ns)
    }

    const clean = spawnSync(process.execPath, ["bin/cnmlab.js", "clean"], { cwd: projectRoot, encoding: "utf8", timeout: 60_000 })
    expect(clean.status, clean.stderr).toBe(0)
    for (const { pid, leftBehind } of victims) {
      for (const ns of leftBehind) expect(clean.stdout).toMatch(new RegExp(`^  ${ns}$`, "m"))
      expect(namespacesOf(pid)).toEqual([])
      expect(claimsOf(pid)).toEqual([])
      expect(readdirSync("/run/cnmlab/ledger").filter((f) => f.startsWith(`owner-${pid}-`))).toEqual([])
      // an nft input file the killed run was about to hand to nft
      expect(existsSync("/run/cnmlab/nft") ? readdirSync("/run/cnmlab/nft").filter((f) => f.startsWith(`${pid}-`)) : []).toEqual([])
    }
    for (const ns of foreign) expect(existsSync(`/run/netns/${ns}`)).toBe(true)
  })

  it(`Ctrl-C (SIGINT) at ${INTERRUPTS} random points of setup: the run tears down by itself and exits 130`, async () => {
    for (let k = 0; k < INTERRUPTS; k++) {
      const { run, pid } = await startSetup()
      await sleep((setupWindowMs * (k + Math.random())) / INTERRUPTS)
      run.child.kill("SIGINT")
      const { code } = await run.exited
      expect(code, run.stderr).toBe(130)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain("cnmlab: interrupted, tearing down")
      // no clean: the run removed its namespaces and closed its ledger itself
      expect(namespacesOf(pid)).toEqual([])
      expect(claimsOf(pid)).toEqual([])
      expect(readdirSync("/run/cnmlab/ledger").filter((f) => f.startsWith(`owner-${pid}-`))).toEqual([])
    }
    for (const ns of foreign) expect(existsSync(`/run/netns/${ns}`)).toBe(true)
  })
})

/**
 * The same for a three-host swarm lab (overlay namespaces, Docker's own sandboxes, vxlan devices
 * made from the hosts' namespaces): killed at random points of its setup, `cnmlab clean` leaves
 * nothing of it.
 */
describe.skipIf(!root)(`a three-host swarm lab on the linux backend, killed during setup (${needsRoot})`, () => {
  const startChild = () => startRun([], ["--import", "tsx", MULTIHOST_CHILD])
  let setupWindowMs = 0
  let namespacesMade = 0

  beforeAll(async () => {
    const { run, pid, setupStarted } = await startSetup(startChild)
    let most = 0
    const built = await waitUntil(`run ${pid} to finish its setup`, () => {
      most = Math.max(most, claimsOf(pid).length)
      return run.stdout.includes("built") || run.child.exitCode !== null
    }, 120_000)
    setupWindowMs = built - setupStarted
    namespacesMade = most
    const { code } = await run.exited
    expect(code, run.stderr).toBe(0)
    expect(run.stdout).toBe("built\ndone\n")
    expect(namespacesOf(pid)).toEqual([])
  })

  it(`SIGKILL at ${KILLS} random points of setup: clean removes every namespace of those runs`, async () => {
    const victims = await killDuringSetup(setupWindowMs, startChild)
    console.log(
      `[kill-run, 3 hosts] up to ${namespacesMade} namespaces, setup window ${setupWindowMs.toFixed(0)} ms; killed at ${victims.map((v) => `${v.delayMs.toFixed(0)} ms (${v.leftBehind.length} left)`).join(", ")}`,
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
