import { describe, expect, it } from "vitest"
import { parseCommandLine } from "../../cli/args.ts"

describe("parseCommandLine", () => {
  it.each([
    [["run", "a.yaml"], { name: "run", file: "a.yaml", backend: "sim", json: false, trace: false }],
    [["run", "a.yaml", "--backend", "linux", "--json", "--trace"], { name: "run", file: "a.yaml", backend: "linux", json: true, trace: true }],
    [["run", "--backend=linux", "a.yaml"], { name: "run", file: "a.yaml", backend: "linux", json: false, trace: false }],
    [["run", "--", "--odd-name.yaml"], { name: "run", file: "--odd-name.yaml", backend: "sim", json: false, trace: false }],
    [["clean"], { name: "clean" }],
    [["doctor"], { name: "doctor" }],
    [["--help"], { name: "help" }],
    [["-h"], { name: "help" }],
    [["help"], { name: "help" }],
    [["help", "run"], { name: "help", topic: "run" }],
    [["run", "--help"], { name: "help", topic: "run" }],
    [["--help", "doctor"], { name: "help", topic: "doctor" }],
    [["--version"], { name: "version" }],
    [["-V"], { name: "version" }],
  ])("%j", (argv, command) => {
    expect(parseCommandLine(argv)).toEqual({ ok: true, command })
  })

  it.each([
    [["frob"], 'unknown command "frob" (see cnmlab --help)'],
    [["--frob"], "unknown flag --frob (see cnmlab --help)"],
    [["run", "a.yaml", "--jsn"], 'unknown flag --jsn for "run" (see cnmlab help run)'],
    [["clean", "--json"], 'unknown flag --json for "clean" (see cnmlab help clean)'],
    [["run"], '"run" needs a scenario FILE (see cnmlab help run)'],
    [["run", "a.yaml", "b.yaml"], 'unexpected argument "b.yaml" for "run" (see cnmlab help run)'],
    [["doctor", "now"], 'unexpected argument "now" for "doctor" (see cnmlab help doctor)'],
    [["run", "a.yaml", "--backend"], "--backend needs a value (see cnmlab help run)"],
    [["run", "a.yaml", "--backend", "docker"], '--backend must be one of sim, linux, got "docker" (see cnmlab help run)'],
    [["run", "a.yaml", "--json=yes"], "--json takes no value (see cnmlab help run)"],
    [["help", "frob"], 'unknown command "frob" (see cnmlab --help)'],
  ])("%j is refused", (argv, message) => {
    expect(parseCommandLine(argv)).toEqual({ ok: false, message })
  })

  it("nothing at all asks for the usage text", () => {
    expect(parseCommandLine([])).toEqual({ ok: false, message: "no command given", usage: true })
  })
})
