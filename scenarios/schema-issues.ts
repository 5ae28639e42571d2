/**
 * Turns an effect Schema issue tree into flat (key path, message) pairs worded for someone editing a
 * YAML file: "unknown key "sbnet" (did you mean "subnet"?)" rather than "Expected no excess property".
 */
import { SchemaAST, SchemaIssue } from "effect"
import type { KeyPath } from "./key-path.ts"

export interface Violation {
  readonly path: KeyPath
  readonly message: string
}

const standardFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

export const schemaViolations = (issue: SchemaIssue.Issue, path: KeyPath = []): Array<Violation> => {
  switch (issue._tag) {
    case "Pointer":
      return schemaViolations(issue.issue, [...path, ...issue.path.map(toSegment)])
    case "Composite":
      return issue.issues.flatMap((inner) => schemaViolations(inner, path))
    case "AnyOf":
      if (issue.issues.length > 0) return issue.issues.flatMap((inner) => schemaViolations(inner, path))
      return [{ path, message: leafMessage(issue) }]
    case "MissingKey":
      return [{ path, message: "required key is missing" }]
    case "UnexpectedKey":
      return [{ path, message: unknownKeyMessage(path.at(-1), allowedKeysOf(issue.ast)) }]
    default:
      return [{ path, message: leafMessage(issue) }]
  }
}

const toSegment = (key: PropertyKey): string | number => (typeof key === "number" ? key : String(key))

const quoted = (segment: string | number | undefined): string => JSON.stringify(String(segment ?? ""))

/** effect's own wording ("Expected string, got 3"), lower-cased to read as the tail of a sentence */
const leafMessage = (issue: SchemaIssue.Issue): string => {
  const message = standardFormatter(issue).issues[0]?.message ?? "invalid value"
  return message.charAt(0).toLowerCase() + message.slice(1)
}

const allowedKeysOf = (ast: SchemaAST.AST): ReadonlyArray<string> =>
  SchemaAST.isObjects(ast) ? ast.propertySignatures.map((signature) => String(signature.name)) : []

const unknownKeyMessage = (key: string | number | undefined, allowed: ReadonlyArray<string>): string => {
  const base = `unknown key ${quoted(key)}`
  if (allowed.length === 0) return base
  const suggestion = closestKey(String(key ?? ""), allowed)
  if (suggestion !== undefined) return `${base} (did you mean "${suggestion}"?)`
  return `${base}; allowed here: ${allowed.join(", ")}, or any key starting with x-`
}

/** a near miss is a likely typo: at most two edits, and fewer than half the key's length */
const closestKey = (key: string, allowed: ReadonlyArray<string>): string | undefined => {
  let best: { key: string; distance: number } | undefined
  for (const candidate of allowed) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance <= 2 && distance * 2 < Math.max(key.length, 2) && (best === undefined || distance < best.distance)) {
      best = { key: candidate, distance }
    }
  }
  return best?.key
}

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
