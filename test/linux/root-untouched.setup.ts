/**
 * vitest globalSetup: snapshots the root network namespace before any test file runs and compares
 * after all of them. root-untouched.test.ts compares at its own turn; this catches the files that
 * run after it. vitest ignores errors thrown here (exit code 0), so a difference sets the exit
 * code itself.
 */
import type { TestProject } from "vitest/node"
import { rootSnapshot } from "./root-snapshot.ts"

declare module "vitest" {
  export interface ProvidedContext {
    rootSnapshotBefore: string
  }
}

/** the lines only one side has, marked - (before) and + (after) */
const lineDiff = (before: string, after: string): string => {
  const a = before.split("\n")
  const b = after.split("\n")
  const inB = new Set(b)
  const inA = new Set(a)
  return [...a.filter((l) => !inB.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !inA.has(l)).map((l) => `+ ${l}`)].join("\n")
}

export default function setup(project: TestProject): () => void {
  const before = rootSnapshot()
  project.provide("rootSnapshotBefore", before)
  return () => {
    const after = rootSnapshot()
    if (after === before) return
    console.error(`\nFAIL: the machine's own (root) network namespace changed during the tests:\n${lineDiff(before, after)}\n`)
    process.exitCode = 1
  }
}
