/**
 * Reading a scenario file: YAML (or JSON, which is YAML) → shape check (schema.ts) → rules
 * (rules.ts) → the normalized Scenario. Any failure is one ScenarioInvalid naming the file, the
 * line and the key path, because a researcher fixing a file needs exactly those three.
 */
import { readFileSync } from "node:fs"
import { Result, Schema } from "effect"
import { isExtensionKey } from "./formats.ts"
import { formatKeyPath } from "./key-path.ts"
import { normalizeScenario } from "./normalize.ts"
import { firstRuleViolation } from "./rules.ts"
import { ScenarioFile } from "./schema.ts"
import type { Scenario } from "./schema.ts"
import { schemaViolations } from "./schema-issues.ts"
import type { Violation } from "./schema-issues.ts"
import { parseYamlWithPositions } from "./yaml-source.ts"
import type { YamlSource } from "./yaml-source.ts"

export interface ScenarioInvalid {
  readonly file: string
  /** e.g. "containers[1].networks[0].ip"; "" when the problem is the document itself */
  readonly path: string
  /** 1-based; 0 when the file could not be read at all */
  readonly line: number
  readonly message: string
}

export type LoadResult =
  | { readonly ok: true; readonly scenario: Scenario }
  | { readonly ok: false; readonly error: ScenarioInvalid }

/** "FILE:LINE: KEYPATH: message", the shape compilers use, so editors can jump to it */
export const renderScenarioInvalid = (error: ScenarioInvalid): string => {
  const location = error.line > 0 ? `${error.file}:${error.line}` : error.file
  return error.path === "" ? `${location}: ${error.message}` : `${location}: ${error.path}: ${error.message}`
}

export const loadScenarioFile = (file: string): LoadResult => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error)
    return { ok: false, error: { file, path: "", line: 0, message: `cannot read the scenario: ${reason}` } }
  }
  return loadScenarioText(text, file)
}

const decodeScenarioFile = Schema.decodeUnknownResult(ScenarioFile, {
  onExcessProperty: "error",
  errors: "all",
  reportInput: true,
})

export const loadScenarioText = (text: string, file: string): LoadResult => {
  const parsed = parseYamlWithPositions(text)
  if (!parsed.ok) return { ok: false, error: { file, path: "", line: parsed.line, message: parsed.message } }
  const { source } = parsed
  const invalid = (violation: Violation): LoadResult => ({
    ok: false,
    error: { file, path: formatKeyPath(violation.path), line: source.lineOf(violation.path), message: violation.message },
  })

  if (source.data === null || source.data === undefined) {
    return invalid({ path: [], message: "the file is empty: a scenario is a mapping with at least version and name" })
  }
  if (typeof source.data !== "object" || Array.isArray(source.data)) {
    const holds = Array.isArray(source.data) ? "a list" : `a single ${typeof source.data}`
    return invalid({ path: [], message: `a scenario is a mapping of keys (version, name, …), but this file holds ${holds}` })
  }
  const decoded = decodeScenarioFile(withoutExtensionKeys(source.data))
  if (Result.isFailure(decoded)) {
    const earliest = earliestViolation(schemaViolations(decoded.failure.issue), source)
    if (earliest !== undefined) return invalid(earliest)
    return invalid({ path: [], message: decoded.failure.message })
  }
  const violation = firstRuleViolation(decoded.success)
  if (violation !== undefined) return invalid(violation)
  return { ok: true, scenario: normalizeScenario(decoded.success) }
}

/** the schema reports in its own field order; a reader fixes a file top-down */
const earliestViolation = (violations: ReadonlyArray<Violation>, source: YamlSource): Violation | undefined => {
  let earliest: { violation: Violation; line: number } | undefined
  for (const violation of violations) {
    const line = source.lineOf(violation.path)
    if (earliest === undefined || line < earliest.line) earliest = { violation, line }
  }
  return earliest?.violation
}

/** x- keys are the format's extension point: allowed anywhere, kept out of everything we check */
const withoutExtensionKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutExtensionKeys)
  if (value === null || typeof value !== "object") return value
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !isExtensionKey(key))
      .map(([key, inner]) => [key, withoutExtensionKeys(inner)]),
  )
}
