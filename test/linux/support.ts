/** Helpers for the linux-backend tests that need root: names, effects, and iproute2 as the oracle. */
import { spawn, spawnSync } from "node:child_process"
import { readdirSync, readlinkSync, statSync } from "node:fs"
import { Effect } from "effect"
import type { KernelError } from "../../backends/KernelError.ts"
import { linuxAvailability } from "../../backends/linux/index.ts"

const availability = linuxAvailability()
/** true when this process may run the linux backend (root, addon built) */
export const root = availability.ok
/** said in the name of every skipped suite, so a skip is never silent */
export const needsRoot = availability.ok ? "needs root" : `needs root: ${availability.reason}`

let counter = 0
/** a namespace name unique to this test process */
export const nsName = (tag: string): string => `cnm-t${process.pid}-${tag}-${++counter}`

export const run = <A>(effect: Effect.Effect<A, KernelError>): Promise<A> => Effect.runPromise(effect)

/** the KernelError an effect must fail with */
export const failure = <A>(effect: Effect.Effect<A, KernelError>): Promise<KernelError> =>
  Effect.runPromise(
    effect.pipe(
      Effect.flip,
      Effect.mapError((value) => new Error(`expected the kernel to refuse, but it accepted (${JSON.stringify(value)})`)),
    ),
  )

/** a command's stdout; throws with its stderr when it fails */
export const sh = (command: string, args: ReadonlyArray<string>, input?: string): string => {
  const result = spawnSync(command, args, { encoding: "utf8", ...(input !== undefined ? { input } : {}) })
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stderr || result.error?.message}`)
  return result.stdout
}

/** `ip -n NS -j ARGS` parsed: iproute2's independent view of the namespace */
export const ipJson = <T = any>(ns: string, ...args: string[]): T => JSON.parse(sh("ip", ["-n", ns, "-j", ...args]) || "[]") as T

/** a command run inside the namespace (ip netns exec), with its exit status */
export const inNs = (ns: string, command: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const result = spawnSync("ip", ["netns", "exec", ns, command, ...args], { encoding: "utf8" })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/**
 * The same, without blocking the event loop: needed when the command talks to something this
 * process serves (the embedded DNS), which could not answer while spawnSync waits.
 */
export const inNsAsync = (ns: string, command: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

/** the pids of every process whose network namespace is the one named `ns` */
export const processesIn = (ns: string): number[] => {
  const inode = statSync(`/run/netns/${ns}`).ino
  const found: number[] = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) === `net:[${inode}]`) found.push(Number(entry))
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found
}
