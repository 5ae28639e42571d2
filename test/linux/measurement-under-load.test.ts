import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel, type RoundTrip } from "../../backends/linux/kernel.ts"
import { type Load, type Measured, type MeasuredLab, measuredLab, measureMany, startLoad } from "../../bench/measurement-load.ts"
import { percentile } from "../../bench/stats.ts"
import { needsRoot, root, run } from "./support.ts"

/**
 * Measurements that load cannot fake: probes and DNS queries through a lab, while other labs in
 * this process make and destroy hundreds of namespaces and a spinning process busies every core.
 * Every answer is compared with the model's prediction; a single false timeout or unreachable
 * fails. Nothing here is timed against a goal (those live in bench/); the round trips are printed.
 */
const PROBES = 5000
const QUESTIONS = 2000
/** the load must have made and destroyed at least this many namespaces while the measuring ran */
const CHURNED = 300
const CONCURRENCY = 16
const BATCH = { probes: 1000, questions: 400 }
const TAG = `ml${process.pid.toString(36)}`

describe.skipIf(!root)(`linux backend: probes and DNS answers under load are right every time (${needsRoot})`, () => {
  let kernel: KernelShape
  let target: MeasuredLab
  let load: Load | undefined
  const roundTrips: RoundTrip[] = []

  beforeAll(async () => {
    kernel = await makeLinuxKernel({ onRoundTrip: (trip) => roundTrips.push(trip) })
    target = await measuredLab(kernel, `${TAG}m`)
  })
  afterAll(async () => {
    await load?.stop()
    await run(kernel.close())
  })

  it(`${PROBES} probes and ${QUESTIONS} DNS queries, each measured once, while ${CHURNED}+ namespaces come and go and every core is busy`, async () => {
    load = await startLoad({ tag: `${TAG}c`, hogSeconds: 240 })
    const started = performance.now()
    const batches: Measured[] = []
    let probes = 0
    let questions = 0
    // once over every probe target, the isolated pairs included (they cost a whole timeout each)
    batches.push(await measureMany(target, { probes: target.probes.length, questions: 0, concurrency: CONCURRENCY }))
    while (probes < PROBES || questions < QUESTIONS || load.namespaces() < CHURNED) {
      const batch = await measureMany(target, { ...BATCH, concurrency: CONCURRENCY, answeredOnly: true })
      batches.push(batch)
      probes += batch.probes
      questions += batch.questions
    }
    const churn = await load.stop()
    load = undefined
    const seconds = (performance.now() - started) / 1000
    const wrong = batches.flatMap((b) => b.wrong)
    const stats = (kind: RoundTrip["kind"]) => {
      const answered = roundTrips.filter((t) => t.kind === kind && t.answered).map((t) => t.ms)
      return `${answered.length} answered, round trip p50 ${percentile(answered, 50).toFixed(2)} ms, p99 ${percentile(answered, 99).toFixed(2)} ms, max ${Math.max(...answered).toFixed(1)} ms`
    }
    console.log(
      [
        `measured under load for ${seconds.toFixed(1)} s: ${probes + target.probes.length} probes, ${questions} DNS queries, ${wrong.length} wrong`,
        `  probes: ${stats("probe")}`,
        `  dns: ${stats("dns")}`,
        `  load: ${churn.namespaces} namespaces made and destroyed in ${churn.rounds} rounds by another lab; a spinning process per core`,
      ].join("\n"),
    )
    expect(wrong, "measurements that disagree with the model").toEqual([])
    expect(probes).toBeGreaterThanOrEqual(PROBES)
    expect(questions).toBeGreaterThanOrEqual(QUESTIONS)
    expect(churn.namespaces).toBeGreaterThanOrEqual(CHURNED)
  }, 300_000)
})
