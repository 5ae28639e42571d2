import { mkdirSync, writeFileSync } from "node:fs"
import { cpus, loadavg, release, totalmem } from "node:os"
import { join } from "node:path"
import { barChart } from "./plot.ts"
import { controllerOps, modelScaling, predictedMatrixMs, probedMatrixMs } from "./sim.ts"

/**
 * `npm run bench`: simulator benchmarks → bench/results/sim.json and SVGs; then, as root where the
 * linux backend can run, the real-kernel benchmarks → bench/results/linux.json and SVGs.
 * Then, as root with iperf3 installed, the multi-host data plane → bench/results/multihost.json.
 * Then, as root with iperf3, published ports, a balanced VIP and network create → bench/results/services.json.
 * `npm run bench -- sim`, `-- linux`, `-- multihost` or `-- services` runs only one of them.
 */
const only = process.argv[2]
if (only !== undefined && only !== "sim" && only !== "linux" && only !== "multihost" && only !== "services") {
  process.stderr.write(`bench: unknown part "${only}" (sim, linux, multihost or services)\n`)
  process.exit(2)
}
const results = join(import.meta.dirname, "results")
mkdirSync(results, { recursive: true })

const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  node: process.version,
}

const say = (line: string) => process.stderr.write(`${line}\n`)

const round2 = (value: number): number => Math.round(value * 100) / 100

const simBench = (): void => {
  // other work on the machine slows every number below: the 1-minute load average says how much there was
  const loadAtStart = loadavg()[0] as number
  say("sim: controller ops on 100 networks (2 s, then the model-only baseline 2 s)…")
  const ops = controllerOps()
  say(`  ${ops.opsPerSec.toLocaleString("en-US")} ops/s (model alone: ${ops.modelOnlyOpsPerSec.toLocaleString("en-US")} ops/s)`)

  // the model's prediction of the reach matrix (the tests' oracle), and the same matrix probed
  // through the simulated kernel: two different things, kept under names that say which is which
  const predictedMatrix: Record<string, number> = {}
  const predictedDetail: Record<string, unknown> = {}
  for (const size of [1000, 10000]) {
    say(`sim: reach matrix predicted by the model, ${size} containers over 100 networks…`)
    const predicted = predictedMatrixMs(size)
    predictedMatrix[size] = Math.round(predicted.ms * 10) / 10
    predictedDetail[size] = { entries: predicted.entries, reachable: predicted.reachable }
    say(`  ${predicted.ms.toFixed(1)} ms for ${predicted.entries.toLocaleString("en-US")} entries`)
  }
  say("sim: the same matrix probed through the simulated kernel, 1000 containers…")
  const probed = probedMatrixMs(1000)
  say(`  ${probed.ms.toFixed(0)} ms for ${probed.entries.toLocaleString("en-US")} probes`)

  say("sim: the model's cost per operation with 1,000 and with 10,000 containers (it must stay flat)…")
  const scaling = modelScaling()
  say(`  µs per op: ${JSON.stringify(scaling)}`)

  const sim = {
    machine,
    date: new Date().toISOString(),
    loadAverage1m: { atStart: round2(loadAtStart), atEnd: round2(loadavg()[0] as number) },
    opsPerSec: ops.opsPerSec,
    /** the model predicting the whole reach matrix (bitsets): what the tests compare probes with */
    predictedMatrixMs: predictedMatrix,
    /** the reach matrix measured by walking every probe through the simulated kernel */
    probedMatrixMs: { 1000: Math.round(probed.ms) },
    goals: { opsPerSec: ">= 200000", predictedMatrixMs10000: "<= 2000" },
    baselines: { modelOnlyOpsPerSec: ops.modelOnlyOpsPerSec },
    detail: {
      /** entries visited and how many reachable: the probed matrix must count what the model predicts */
      matrix: { predicted: predictedDetail, probed: { 1000: { entries: probed.entries, reachable: probed.reachable } } },
      /** µs per call of the model's operations, best of 5 rounds, by number of standing containers */
      modelMicrosecondsPerOp: scaling,
    },
  }
  writeFileSync(join(results, "sim.json"), `${JSON.stringify(sim, null, 2)}\n`)
  writeFileSync(
    join(results, "sim.svg"),
    barChart("cnmlab on the simulator", "", [
      { label: "controller ops/s (100 networks)", value: ops.opsPerSec },
      { label: "model alone ops/s (baseline)", value: ops.modelOnlyOpsPerSec, baseline: true },
    ]),
  )
  writeFileSync(
    join(results, "sim-matrix.svg"),
    barChart("reach matrix over 100 networks: predicted by the model, probed on sim", "ms", [
      { label: "predicted, 1,000 containers", value: predictedMatrix[1000] as number },
      { label: "predicted, 10,000 containers", value: predictedMatrix[10000] as number },
      { label: "probed on sim, 1,000 containers", value: probed.ms },
    ]),
  )
  say(`wrote ${join(results, "sim.json")}`)
}

/** a real-kernel part: only as root, with the backend available; otherwise said, and skipped */
const onLinux = async (part: string, body: () => Promise<void>): Promise<void> => {
  const { linuxAvailability } = await import("../backends/linux/availability.ts")
  const availability = linuxAvailability()
  if (process.getuid?.() !== 0 || !availability.ok) {
    say(`${part}: skipped: ${availability.ok ? "not root" : availability.reason}`)
    return
  }
  await body()
}

const linuxBench = (): Promise<void> =>
  onLinux("linux", async () => {
    const { runLinuxBench } = await import("./linux.ts")
    await runLinuxBench(results, machine, say)
  })

const multihostBench = (): Promise<void> =>
  onLinux("multihost", async () => {
    const { runMultihostBench } = await import("./multihost.ts")
    await runMultihostBench(results, machine, say)
  })

const servicesBench = (): Promise<void> =>
  onLinux("services", async () => {
    const { runServicesBench } = await import("./services.ts")
    await runServicesBench(results, machine, say)
  })

if (only === undefined || only === "sim") simBench()
if (only === undefined || only === "linux") await linuxBench()
if (only === undefined || only === "multihost") await multihostBench()
if (only === undefined || only === "services") await servicesBench()

