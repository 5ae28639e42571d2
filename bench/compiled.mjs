#!/usr/bin/env node
/**
 * `npm run bench`: bench/run.ts compiled by esbuild into one module, as a release would ship it,
 * then run by plain node (arguments are passed on: `npm run bench -- sim`).
 *
 * Why not tsx: tsx compiles with keepNames, which wraps every function in a naming helper; on the
 * hot paths of the model and the controller that costs about three times their own time, so the
 * benchmark would measure the loader rather than the code.
 *
 * The bundle goes to build/bench/run.mjs (build/ is not tracked). Two paths are resolved from
 * import.meta and must hold there: bench/run.ts writes its results next to itself (import.meta
 * .dirname, pinned below to bench/), and the linux backend loads build/cnmlab_netns.node two
 * directories up from its module, which build/bench/ also is. The linux backend's measurement
 * helper process starts from helper-entry.mjs next to its module: in the sources a loader that
 * registers tsx first, here the helper's own bundle, built under that name next to run.mjs.
 */
import { spawnSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"

const bench = dirname(fileURLToPath(import.meta.url))
const root = dirname(bench)
const outfile = join(root, "build", "bench", "run.mjs")

const bundle = (entry, outfile, options = {}) =>
  build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
    ...options,
  })

await bundle(join(bench, "run.ts"), outfile, { define: { "import.meta.dirname": JSON.stringify(bench) } })
await bundle(join(root, "backends", "linux", "measurement", "helper.ts"), join(root, "build", "bench", "helper-entry.mjs"))

const run = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: "inherit" })
process.exit(run.status ?? 1)
