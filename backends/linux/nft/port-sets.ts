import { PORT_SET_PREFIX } from "./render.ts"

type Json = Record<string, unknown>

interface SetCommand {
  readonly family: string
  readonly table: string
  readonly name: string
  readonly elem?: ReadonlyArray<string>
}

const portSetOf = (command: Json): SetCommand | undefined => {
  const set = (command.add as { set?: SetCommand } | undefined)?.set
  return set !== undefined && set.name.startsWith(PORT_SET_PREFIX) ? set : undefined
}

/** the command without its port set's elements: what must be equal for elements alone to make the change */
const withoutElements = (command: Json): string => {
  const set = portSetOf(command)
  if (set === undefined) return JSON.stringify(command)
  const { elem: _elem, ...rest } = set
  return JSON.stringify({ add: { set: rest } })
}

/**
 * When a table's new commands differ from the old ones only in the elements of its bridge port
 * sets (a port joined or left a bridge), the elements added and deleted are all that needs to be
 * sent: `add element` / `delete element` leave the kernel's table equal to the full replacement's,
 * without deleting and re-making the table. Measured: an overlay container's docker_gwbridge leg
 * cost 9.5 ms at p50 through the table's replacement, against 0.65 ms for the same veth on a bridge
 * that no table watches. Undefined when anything else changed.
 */
export const portSetDelta = (before: ReadonlyArray<Json>, after: ReadonlyArray<Json>): Json[] | undefined => {
  if (before.length !== after.length) return undefined
  const delta: Json[] = []
  for (let i = 0; i < after.length; i++) {
    const was = before[i] as Json
    const is = after[i] as Json
    if (withoutElements(was) !== withoutElements(is)) return undefined
    const old = portSetOf(was)
    const next = portSetOf(is)
    if (old === undefined || next === undefined) continue
    const kept = new Set(old.elem ?? [])
    const wanted = new Set(next.elem ?? [])
    const added = [...wanted].filter((port) => !kept.has(port))
    const removed = [...kept].filter((port) => !wanted.has(port))
    const target = { family: next.family, table: next.table, name: next.name }
    if (removed.length > 0) delta.push({ delete: { element: { ...target, elem: removed } } })
    if (added.length > 0) delta.push({ add: { element: { ...target, elem: added } } })
  }
  return delta
}
