/** The real command, spawned as a user runs it: exit codes and what lands on stdout and stderr. */
import { spawn, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))

const cnmlab = (args: ReadonlyArray<string>, options: { uid?: number } = {}) => {
  const result = spawnSync(process.execPath, ["bin/cnmlab.js", ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    ...(options.uid !== undefined && { uid: options.uid, gid: options.uid, env: { ...process.env, HOME: "/tmp" } }),
  })
  if (result.error) throw result.error
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

const lines = (text: string): Array<string> => text.split("\n").filter((line) => line !== "")

describe("cnmlab", () => {
  it("run with an invalid file: exit 2, one line naming file, line and key path, no stack trace", () => {
    const { code, stdout, stderr } = cnmlab(["run", "test/fixtures/scenarios/unknown-key.yaml"])
    expect(code).toBe(2)
    expect(stdout).toBe("")
    expect(lines(stderr)).toEqual([
      'test/fixtures/scenarios/unknown-key.yaml:5: networks[0].sbnet: unknown key "sbnet" (did you mean "subnet"?)',
    ])
  })

  it("run with a YAML syntax error and with a missing file: exit 2, one line", () => {
    for (const file of ["test/fixtures/scenarios/syntax-error.yaml", "test/fixtures/scenarios/absent.yaml"]) {
      const { code, stderr } = cnmlab(["run", file])
      expect(code).toBe(2)
      expect(lines(stderr)).toHaveLength(1)
      expect(stderr).toContain(file)
      expect(stderr).not.toMatch(/\n\s+at /)
    }
  })

  it("a name the file defines but that is not there when its step runs: the step's error code, exit 1", () => {
    const { code, stdout, stderr } = cnmlab(["run", "test/fixtures/scenarios/gone-when-used.yaml", "--json"])
    expect(code).toBe(1)
    expect(stderr).not.toContain("gone-when-used.yaml:")
    const report = JSON.parse(stdout) as { ok: boolean; steps: Array<{ ok: boolean; error?: { code: string } }> }
    expect(report.ok).toBe(false)
    expect(report.steps.map((step) => step.error?.code)).toEqual(["ActiveEndpoints", "NotConnected"])
  })

  it("a name no part of the file defines: exit 2, naming file, line and key path", () => {
    const { code, stdout, stderr } = cnmlab(["run", "test/fixtures/scenarios/unknown-network.yaml"])
    expect(code).toBe(2)
    expect(stdout).toBe("")
    expect(lines(stderr)).toEqual([
      'test/fixtures/scenarios/unknown-network.yaml:11: containers[1].networks[1]: unknown network "net-typo": no part of the file defines it (not in networks, not created by any step, not one of the predefined bridge, host, none)',
    ])
  })

  it("an unknown command or flag: exit 2, one line naming it and pointing to --help", () => {
    const command = cnmlab(["frobnicate"])
    expect(command.code).toBe(2)
    expect(lines(command.stderr)).toEqual(['cnmlab: unknown command "frobnicate" (see cnmlab --help)'])
    const flag = cnmlab(["run", "x.yaml", "--colour"])
    expect(flag.code).toBe(2)
    expect(lines(flag.stderr)).toEqual(['cnmlab: unknown flag --colour for "run" (see cnmlab help run)'])
  })

  it("no command: exit 2 with the usage", () => {
    const { code, stderr } = cnmlab([])
    expect(code).toBe(2)
    expect(stderr).toContain("cnmlab: no command given")
    expect(stderr).toContain("Usage:")
  })

  it("--help mentions every command, an example and the exit codes", () => {
    const { code, stdout } = cnmlab(["--help"])
    expect(code).toBe(0)
    for (const command of ["run", "clean", "doctor", "help"]) expect(stdout).toMatch(new RegExp(`^  ${command}\\s`, "m"))
    expect(stdout).toContain("--backend sim|linux")
    expect(stdout).toContain("Examples:")
    for (const exitCode of ["0", "1", "2", "3", "130"]) expect(stdout).toMatch(new RegExp(`^  ${exitCode}\\s`, "m"))
  })

  it("help run explains its options", () => {
    const { code, stdout } = cnmlab(["help", "run"])
    expect(code).toBe(0)
    for (const option of ["--backend", "--json", "--trace"]) expect(stdout).toContain(option)
  })

  it("--version prints package.json's version", () => {
    const manifest = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string }
    const { code, stdout } = cnmlab(["--version"])
    expect(code).toBe(0)
    expect(stdout.trim()).toBe(manifest.version)
  })

  it.runIf(process.getuid?.() === 0)("run --backend linux without privileges: exit 3, said in one line", () => {
    const nobody = 65534
    const { code, stdout, stderr } = cnmlab(["run", "test/fixtures/scenarios/full.yaml", "--backend", "linux"], { uid: nobody })
    expect(code).toBe(3)
    expect(stdout).toBe("")
    expect(lines(stderr)).toHaveLength(1)
    expect(stderr).toMatch(/^cnmlab: backend linux is not available here: .*CAP_NET_ADMIN/)
  })

  it("run on sim: exit 0, the report on stdout, progress on stderr", () => {
    const { code, stdout, stderr } = cnmlab(["run", "test/fixtures/scenarios/two-containers.yaml"])
    expect(code).toBe(0)
    expect(stdout.split("\n")[0]).toBe("two-containers on sim: PASSED (1 of 1 expectation held)")
    expect(stderr).not.toContain("PASSED")
  })

  it("run --json: stdout is exactly one JSON report", () => {
    const { code, stdout } = cnmlab(["run", "test/fixtures/scenarios/two-containers.yaml", "--json"])
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as { version: number; scenario: string; ok: boolean; reach: Array<{ from: string; to: string }> }
    expect(report).toMatchObject({ version: 1, scenario: "two-containers", ok: true })
    expect(report.reach.map((cell) => `${cell.from}>${cell.to}`).sort()).toEqual(["db>web", "web>db"])
  })

  it.runIf(process.getuid?.() === 0)("Ctrl-C during a linux run: torn down, then exit 130 with nothing on stdout", async () => {
    const child = spawn(process.execPath, ["bin/cnmlab.js", "run", "test/fixtures/scenarios/two-containers.yaml", "--backend", "linux"], { cwd: root })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
      // the first progress line: the run has started building
      if (stderr.includes("\n") && !child.killed) child.kill("SIGINT")
    })
    const code = await new Promise<number | null>((resolve) => child.on("exit", (exitCode) => resolve(exitCode)))
    expect(code).toBe(130)
    expect(stdout).toBe("")
    expect(stderr).toContain("cnmlab: interrupted, tearing down")
  })
})
