import { spawnSync } from "node:child_process"
import { appendFileSync, readFileSync, writeFileSync } from "node:fs"
import { failures } from "./failures.ts"
import { type Mutation, mutations, type TestSet } from "./mutations.ts"

/**
 * Makes one mutation (mutations.ts), runs the test files that should catch it, puts the file back,
 * and prints which tests failed, each with the first line of its failure:
 *
 *   npx tsx test/mutations/run.ts <id> [--seed N] [--sets sim,model,fixtures,nat,services,linuxnat,linux,differential] [--seeded-only] [--record file.jsonl]
 *
 * --seed is handed to the model-based tests as CNMLAB_SEED; --seeded-only runs only the files a
 * seed changes (a second run of the others would repeat the first); --record appends the outcome
 * as one JSON line. The file is written back from what was read before, on any exit.
 */

const testSets: Record<TestSet, { readonly all: ReadonlyArray<string>; readonly seeded: ReadonlyArray<string> }> = {
  sim: {
    all: [
      "test/model-based/lab.sim.test.ts",
      "test/model-based/expected-kernel.test.ts",
      "test/model-based/sim-trace.test.ts",
      "test/model-based/coverage.test.ts",
      "test/conformance/sim.test.ts",
      "test/conformance/sim-details.test.ts",
      "test/scenarios",
      "test/docker-fixtures.test.ts",
      "test/controller",
      "test/cli",
    ],
    seeded: ["test/model-based/lab.sim.test.ts"],
  },
  // the model's own tests draw their seeds themselves: every run is another seed
  // "test/model/" with its slash: vitest takes a path as a filter, and "test/model" matches test/model-based too
  model: { all: ["test/model/"], seeded: ["test/model/"] },
  // Docker's recorded answers and the scenarios: what sees a change of the model without the model-based test
  fixtures: { all: ["test/docker-fixtures.test.ts", "test/scenarios"], seeded: [] },
  // published ports and balancing on the simulator: the kernel layer's cases and Docker's recorded answers
  nat: { all: ["test/conformance/sim.test.ts", "test/docker-services-fixtures.test.ts"], seeded: [] },
  // the swarm's VIPs and routing mesh: the controller's services against the model, on sim (and linux as root)
  services: { all: ["test/controller/services.test.ts"], seeded: [] },
  // the linux backend's balancing and NAT (root): the kernel layer's cases and the nftables tests
  linuxnat: { all: ["test/conformance/linux.test.ts", "test/linux/firewall.test.ts"], seeded: [] },
  // which task answers each balanced connection, on the simulator against the real kernel (as root)
  differential: { all: ["test/differential/multihost-sim-vs-linux.test.ts"], seeded: ["test/differential/multihost-sim-vs-linux.test.ts"] },
  linux: {
    all: ["test/model-based/lab.linux.test.ts", "test/conformance/linux.test.ts", "test/differential/scenarios-both-backends.test.ts"],
    seeded: ["test/model-based/lab.linux.test.ts"],
  },
}

interface Args {
  readonly mutation: Mutation
  readonly seed: number | undefined
  readonly sets: ReadonlyArray<TestSet>
  readonly seededOnly: boolean
  readonly record: string | undefined
}

const parse = (argv: ReadonlyArray<string>): Args => {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag)
    return at < 0 ? undefined : argv[at + 1]
  }
  const id = argv[0]
  const mutation = mutations.find((m) => m.id === id)
  if (mutation === undefined) throw new Error(`unknown mutation "${id}"; known: ${mutations.map((m) => m.id).join(", ")}`)
  const seed = value("--seed")
  const sets = value("--sets")
  return {
    mutation,
    seed: seed === undefined ? undefined : Number(seed),
    sets: sets === undefined ? mutation.sets : (sets.split(",") as TestSet[]),
    seededOnly: argv.includes("--seeded-only"),
    record: value("--record"),
  }
}

/** the source with the mutation made; throws unless `from` occurs exactly once */
const mutated = (source: string, mutation: Mutation): string => {
  const at = source.indexOf(mutation.from)
  if (at < 0 || source.indexOf(mutation.from, at + 1) >= 0) {
    throw new Error(`${mutation.id}: the text to change occurs ${at < 0 ? "nowhere" : "more than once"} in ${mutation.file}`)
  }
  return source.slice(0, at) + mutation.to + source.slice(at + mutation.from.length)
}

const main = (): void => {
  const args = parse(process.argv.slice(2))
  const { mutation } = args
  const original = readFileSync(mutation.file, "utf8")
  const restore = () => writeFileSync(mutation.file, original)
  process.on("exit", restore)
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130))
  writeFileSync(mutation.file, mutated(original, mutation))

  const files = args.sets.flatMap((set) => (args.seededOnly ? testSets[set].seeded : testSets[set].all))
  const started = Date.now()
  const run = spawnSync("npx", ["vitest", "run", ...files], {
    env: { ...process.env, ...(args.seed === undefined ? {} : { CNMLAB_SEED: String(args.seed) }) },
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 1 << 30,
  })
  restore()
  process.stdout.write(run.stdout)
  process.stderr.write(run.stderr)
  const seconds = Math.round((Date.now() - started) / 1000)
  const failed = failures(`${run.stdout}\n${run.stderr}`)
  const outcome = { mutation: mutation.id, seed: args.seed ?? null, files, exit: run.status, seconds, caught: failed.length > 0, failed }
  console.log(`\n${mutation.id}: ${outcome.caught ? "CAUGHT" : "NOT CAUGHT"} (${seconds} s, exit ${run.status})`)
  for (const f of failed) console.log(`  ${f.file} › ${f.test}\n    ${f.first}${f.replay === undefined ? "" : `\n    ${f.replay}`}`)
  if (args.record !== undefined) appendFileSync(args.record, `${JSON.stringify(outcome)}\n`)
}

main()
