/**
 * YAML text → plain data, keeping enough of the parse tree to say on which line any key path sits.
 * Every loader message names a line, so positions must survive until the last check.
 */
import { isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from "yaml"
import type { Document } from "yaml"
import type { KeyPath } from "./key-path.ts"

export interface YamlSource {
  readonly data: unknown
  /**
   * The line (1-based) that best names `path`: the key's line when the path ends at a map key, the
   * item's line when it ends at a list index. A path that does not exist in the document (a
   * missing key) gets the line of its deepest existing parent.
   */
  readonly lineOf: (path: KeyPath) => number
}

export type ParsedYaml =
  | { readonly ok: true; readonly source: YamlSource }
  | { readonly ok: false; readonly line: number; readonly message: string }

export const parseYamlWithPositions = (text: string): ParsedYaml => {
  const lineCounter = new LineCounter()
  // merge keys (<<) let a scenario reuse a block; they are a convenience, not a format rule
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true })
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line

  const firstError = doc.errors[0]
  if (firstError !== undefined) {
    return { ok: false, line: lineAt(firstError.pos[0]), message: `YAML syntax: ${firstError.message}` }
  }
  const unresolvedAlias = findUnresolvedAlias(doc)
  if (unresolvedAlias !== undefined) {
    return {
      ok: false,
      line: lineAt(unresolvedAlias.offset),
      message: `YAML syntax: alias *${unresolvedAlias.name} names no anchor defined before it`,
    }
  }
  let data: unknown
  try {
    data = doc.toJS()
  } catch (error) {
    // toJS refuses alias bombs (maxAliasCount); there is no single culprit line for that
    return { ok: false, line: 1, message: `YAML: ${error instanceof Error ? error.message : String(error)}` }
  }
  return { ok: true, source: { data, lineOf: (path) => lineOfPath(doc, path, lineAt) } }
}

const findUnresolvedAlias = (doc: Document): { name: string; offset: number } | undefined => {
  let found: { name: string; offset: number } | undefined
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined) return undefined
      found = { name: alias.source, offset: alias.range?.[0] ?? 0 }
      return visit.BREAK
    },
  })
  return found
}

const lineOfPath = (doc: Document, path: KeyPath, lineAt: (offset: number) => number): number => {
  const lineOfNode = (node: unknown): number | undefined => {
    const range = isNode(node) ? node.range : undefined
    return range ? lineAt(range[0]) : undefined
  }
  const deref = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node)

  let node = deref(doc.contents)
  let line = lineOfNode(node) ?? 1
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(segment))
      if (pair === undefined) return line
      line = lineOfNode(pair.key) ?? line
      node = deref(pair.value)
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment]
      if (item === undefined) return line
      line = lineOfNode(item) ?? line
      node = deref(item)
    } else {
      return line
    }
  }
  return line
}

const keyText = (key: unknown): string => (isScalar(key) ? String(key.value) : String(key))
