import { readdirSync } from "node:fs"
import { Effect } from "effect"
import type { KernelShape } from "../../backends/Kernel.ts"
import { NETNS_DIR } from "../../backends/linux/namespaces.ts"

/**
 * Many short-lived labs on one linux kernel: each gets a run id of its own (so its namespaces,
 * cnm-<runId>-…, never meet another's) and is dropped in one apply when its sequence ends.
 */
export const runIdSource = (tag: string): (() => string) => {
  const base = `${tag}${process.pid.toString(36)}`
  let counter = 0
  return () => `${base}x${(counter++).toString(36)}`
}

/** the namespaces of one lab: everything named cnm-<runId>-… */
export const labPrefix = (runId: string): string => `cnm-${runId}-`

/**
 * Deletes every namespace of the lab in one apply, so the backend waits once for the veth peers
 * the kernel destroys with them; the kernel stays open for the next lab.
 */
export const dropLab = async (kernel: KernelShape, runId: string): Promise<void> => {
  const prefix = labPrefix(runId)
  const namespaces = (await Effect.runPromise(kernel.namespaces())).filter((ns) => ns.startsWith(prefix))
  if (namespaces.length > 0) await Effect.runPromise(kernel.apply(namespaces.map((ns) => ({ op: "nsDel", ns }) as const)))
}

/**
 * Namespaces on this machine whose names start with `prefix` (what `ip netns list` shows). Its
 * callers look for leftovers after making namespaces there, so /run/netns must be readable: a
 * failure to read it is thrown, never taken for "none left behind".
 */
export const namespacesNamed = (prefix: string): string[] => {
  let names: string[]
  try {
    names = readdirSync(NETNS_DIR)
  } catch (error) {
    throw new Error(`cannot list ${NETNS_DIR} to look for namespaces named ${prefix}…: ${(error as Error).message}`)
  }
  return names.filter((name) => name.startsWith(prefix))
}
