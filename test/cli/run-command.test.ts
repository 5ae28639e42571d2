/** The run command with a stand-in runner: how each outcome of a run becomes output and an exit code. */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { runCommand } from "../../cli/commands/run.ts"
import type { RunCommandDependencies, RunCommandOptions, ScenarioRunner } from "../../cli/commands/run.ts"
import type { Io } from "../../cli/io.ts"
import type { Report } from "../../scenarios/report.ts"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/scenarios/${name}`, import.meta.url))

const capture = () => {
  const out: Array<string> = []
  const err: Array<string> = []
  const io: Io = { stdout: (text) => out.push(text), stderr: (text) => err.push(text) }
  return { io, out, err }
}

const reportFor = (ok: boolean): Report => ({
  version: 1,
  scenario: "full",
  backend: "sim",
  ok,
  networks: [{ name: "bridge", driver: "bridge", subnet: "172.17.0.0/16", gateway: "172.17.0.1", internal: false }],
  endpoints: [],
  reach: [],
  resolve: [],
  steps: [],
  expectations: [{ kind: "reach", ok, expected: { from: "web", to: "db", reachable: false }, actual: { from: "web", to: "db", reachable: !ok } }],
  timings: { setupMs: 1, checkMs: 1, teardownMs: 1 },
})

const options = (overrides: Partial<RunCommandOptions> = {}): RunCommandOptions => ({
  file: fixture("full.yaml"),
  backend: "sim",
  json: false,
  trace: false,
  signal: new AbortController().signal,
  ...overrides,
})

const withRunner = (runner: ScenarioRunner, linuxAvailable = true): RunCommandDependencies => ({
  loadRunner: async () => runner,
  linuxAvailability: async () => (linuxAvailable ? { ok: true } : { ok: false, reason: "it needs root" }),
})

describe("run command", () => {
  it("exit 0 when every expectation held; the text report on stdout, progress on stderr", async () => {
    const { io, out, err } = capture()
    const seen: Array<unknown> = []
    const code = await runCommand(options(), io, withRunner(async (scenario, runOptions) => {
      seen.push(scenario.name, runOptions.backend, runOptions.trace)
      runOptions.onProgress("building net-a")
      runOptions.onProgress("probing 6 pairs")
      return reportFor(true)
    }))
    expect(code).toBe(0)
    expect(seen).toEqual(["full", "sim", false])
    expect(out).toHaveLength(1)
    expect(out[0]).toMatch(/^full on sim: PASSED/)
    expect(err).toEqual(["building net-a", "probing 6 pairs"])
  })

  it("exit 1 when an expectation failed", async () => {
    const { io } = capture()
    expect(await runCommand(options(), io, withRunner(async () => reportFor(false)))).toBe(1)
  })

  it("--json prints exactly the report as JSON, nothing else on stdout", async () => {
    const { io, out } = capture()
    const report = reportFor(true)
    await runCommand(options({ json: true, trace: true }), io, withRunner(async (_, runOptions) => {
      runOptions.onProgress("noise that must not reach stdout")
      return report
    }))
    expect(out).toHaveLength(1)
    expect(JSON.parse(out[0]!)).toEqual(report)
  })

  it("an invalid file: exit 2 before the runner is even loaded", async () => {
    const { io, out, err } = capture()
    let loaded = false
    const code = await runCommand(options({ file: fixture("bad-cidr.yaml") }), io, {
      loadRunner: async () => {
        loaded = true
        return async () => reportFor(true)
      },
      linuxAvailability: async () => ({ ok: true }),
    })
    expect(code).toBe(2)
    expect(loaded).toBe(false)
    expect(out).toEqual([])
    expect(err).toEqual([`${fixture("bad-cidr.yaml")}:7: networks[1].subnet: "10.300.0.0/24" is not an IPv4 CIDR such as 10.1.0.0/24`])
  })

  it("linux backend unavailable: exit 3 in one line, nothing run", async () => {
    const { io, err } = capture()
    let ran = false
    const code = await runCommand(options({ backend: "linux" }), io, withRunner(async () => {
      ran = true
      return reportFor(true)
    }, false))
    expect(code).toBe(3)
    expect(ran).toBe(false)
    expect(err).toEqual(["cnmlab: backend linux is not available here: it needs root"])
  })

  it("Ctrl-C: the runner gets the signal, and the command exits 130 once the runner has finished", async () => {
    const { io, out } = capture()
    const controller = new AbortController()
    let tornDown = false
    const running = runCommand(options({ signal: controller.signal }), io, withRunner((_, runOptions) =>
      new Promise<Report>((resolve) => {
        runOptions.signal.addEventListener("abort", () => {
          tornDown = true
          resolve(reportFor(false))
        })
      }),
    ))
    setTimeout(() => controller.abort(), 10)
    expect(await running).toBe(130)
    expect(tornDown).toBe(true)
    expect(out).toEqual([])
  })

  it("Ctrl-C while the runner rejects: still 130", async () => {
    const { io } = capture()
    const controller = new AbortController()
    controller.abort()
    expect(await runCommand(options({ signal: controller.signal }), io, withRunner(async () => {
      throw new Error("aborted")
    }))).toBe(130)
  })

  it("the runner throwing: exit 1, one line", async () => {
    const { io, err } = capture()
    const code = await runCommand(options(), io, withRunner(async () => {
      throw new Error("veth pair could not be created")
    }))
    expect(code).toBe(1)
    expect(err).toEqual(["cnmlab: the run failed: veth pair could not be created"])
  })
})
