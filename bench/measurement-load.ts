/**
 * The load the measurement plane must withstand, and the measurements taken under it; shared by
 * the stress test (test/linux/measurement-under-load.test.ts, which checks every answer) and the
 * benchmark (bench/linux.ts, which records round trips):
 * - other labs in this process, each on a linux kernel of its own, making and destroying sandbox
 *   namespaces in batches (netlink, nft, teardown waits: the control plane's work, on the thread
 *   the measurements used to share);
 * - a CPU hog per core: child processes spinning, each ended by `timeout` even if nobody stops it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { cpus } from "node:os"
import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import { makeLinuxKernel } from "../backends/linux/index.ts"
import { Lab } from "../controller/Lab.ts"
import * as model from "../model/index.ts"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.mapError((e) => new Error(`${(e as { code?: string }).code ?? "error"}: ${(e as { message?: string }).message ?? String(e)}`))))

export interface Load {
  /** sandbox namespaces made (and destroyed) so far by the churning labs */
  readonly namespaces: () => number
  /** stops the churn after its current round and ends the hogs; what the churn did */
  readonly stop: () => Promise<{ readonly namespaces: number; readonly rounds: number }>
}

export interface LoadOptions {
  /** run ids start with this (namespaces cnm-<tag>…) */
  readonly tag: string
  /** labs churning at once, each on its own kernel; default 1 */
  readonly labs?: number
  /** containers made together, then removed together, per round */
  readonly containersPerRound?: number
  /** spinning processes; default one per core */
  readonly hogs?: number
  /** the hogs end by themselves after this long, whatever happens to this process */
  readonly hogSeconds?: number
}

const hog = (seconds: number): ChildProcess =>
  spawn("timeout", [String(seconds), "sh", "-c", "while :; do :; done"], { stdio: "ignore" })

export const startLoad = async (options: LoadOptions): Promise<Load> => {
  const perRound = options.containersPerRound ?? 100
  const hogs = Array.from({ length: options.hogs ?? cpus().length }, () => hog(options.hogSeconds ?? 300))
  let stopping = false
  let namespaces = 0
  let rounds = 0
  const churn = async (lane: number): Promise<void> => {
    const kernel = await makeLinuxKernel()
    try {
      for (let round = 0; !stopping; round++) {
        const runId = `${options.tag}${lane}r${round}`
        const lab = await run(Lab.make(kernel, { hosts: ["h"], runId }))
        await run(lab.createNetwork({ name: "churn" }))
        const names = Array.from({ length: perRound }, (_, i) => `x${i}`)
        await run(lab.createContainers(names.map((name) => ({ name, networks: [{ network: "churn" }] }))))
        await run(lab.removeContainers(names))
        await run(lab.removeNetwork("churn"))
        const left = (await run(kernel.namespaces())).filter((ns) => ns.startsWith(`cnm-${runId}-`))
        await run(kernel.apply(left.map((ns) => ({ op: "nsDel", ns }) as const)))
        namespaces += perRound + left.length
        rounds++
      }
    } finally {
      await run(kernel.close())
    }
  }
  const churning = Promise.all(Array.from({ length: options.labs ?? 1 }, (_, lane) => churn(lane)))
  return {
    namespaces: () => namespaces,
    stop: async () => {
      stopping = true
      try {
        await churning
      } finally {
        for (const child of hogs) child.kill()
      }
      return { namespaces, rounds }
    },
  }
}

export interface Target {
  readonly from: string
  /** a probe's address, or a DNS question's name */
  readonly to: string
  /** what the model says a probe gets (reachable), or the sorted addresses a question gets */
  readonly expected: boolean | ReadonlyArray<string>
}

export interface MeasuredLab {
  readonly lab: Lab
  readonly probes: ReadonlyArray<Target>
  readonly questions: ReadonlyArray<Target>
}

/**
 * A small lab to measure: six containers on two user networks (two on both), each with an alias.
 * Probes: every address of every other container (some reachable, some not: the networks are
 * isolated from each other). Questions: every container's name, alias and name.network, and one
 * name nobody has. What each should get is the model's prediction, never the measurement's.
 */
export const measuredLab = async (kernel: KernelShape, runId: string): Promise<MeasuredLab> => {
  const lab = await run(Lab.make(kernel, { hosts: ["h"], runId }))
  await run(lab.createNetwork({ name: "front" }))
  await run(lab.createNetwork({ name: "back" }))
  const containers = ["m0", "m1", "m2", "m3", "m4", "m5"]
  await run(
    lab.createContainers(
      containers.map((name, i) => ({
        name,
        networks: [
          ...(i < 4 ? [{ network: "front", aliases: [`${name}-alias`] }] : []),
          ...(i >= 2 ? [{ network: "back", aliases: [`${name}-alias`] }] : []),
        ],
      })),
    ),
  )
  const state = (lab.controllers[0] as (typeof lab.controllers)[number]).state
  const endpoints = lab.endpoints().filter((e) => e.address !== undefined)
  const probes = containers.flatMap((from) =>
    endpoints
      .filter((e) => e.container !== from)
      .map((e) => {
        const address = (e.address as string).split("/")[0] as string
        return { from, to: address, expected: model.predictReach(state, from, e.container, address) }
      }),
  )
  const names = [...containers, ...containers.map((c) => `${c}-alias`), ...endpoints.map((e) => `${e.container}.${e.network}`), "nobody"]
  const questions = containers.flatMap((from) => names.map((name) => ({ from, to: name, expected: model.predictResolve(state, from, name) })))
  return { lab, probes, questions }
}

export interface Measured {
  readonly probes: number
  readonly questions: number
  /** measurements that differ from the model: what was asked and what came back */
  readonly wrong: ReadonlyArray<string>
}

/**
 * `probes` probes and `questions` DNS queries, cycling through the lab's targets, `concurrency`
 * of each kind in flight, each measured once and compared with the model. Only targets the model
 * says answer are used when `answeredOnly` (an unanswered one costs the whole timeout).
 */
export const measureMany = async (
  target: MeasuredLab,
  counts: { readonly probes: number; readonly questions: number; readonly concurrency: number; readonly answeredOnly?: boolean },
): Promise<Measured> => {
  const wrong: string[] = []
  const answered = (t: Target) => (Array.isArray(t.expected) ? t.expected.length > 0 : t.expected === true)
  const probes = counts.answeredOnly ? target.probes.filter(answered) : target.probes
  const questions = counts.answeredOnly ? target.questions.filter(answered) : target.questions
  const lanes = async (total: number, measureOne: (i: number) => Promise<void>) => {
    let next = 0
    await Promise.all(
      Array.from({ length: counts.concurrency }, async () => {
        for (let i = next++; i < total; i = next++) await measureOne(i)
      }),
    )
  }
  await Promise.all([
    lanes(counts.probes, async (i) => {
      const t = probes[i % probes.length] as Target
      const result = await run(target.lab.probe(t.from, t.to))
      if (result.reachable !== t.expected) wrong.push(`probe ${t.from} → ${t.to}: expected ${t.expected ? "reachable" : "unreachable"}, got ${result.reason}${result.detail ? ` (${result.detail})` : ""}`)
    }),
    lanes(counts.questions, async (i) => {
      const t = questions[i % questions.length] as Target
      const result = await run(target.lab.resolve(t.from, t.to))
      const got = [...result.addresses].sort()
      const expected = t.expected as ReadonlyArray<string>
      if (got.join(",") !== [...expected].sort().join(",")) wrong.push(`dns ${t.from} asks "${t.to}": expected [${expected.join(", ")}], got ${result.rcode} [${got.join(", ")}]`)
    }),
  ])
  return { probes: counts.probes, questions: counts.questions, wrong }
}
