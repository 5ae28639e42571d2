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

/**
 * The table's commands after the link `port` came to be on `bridge` (null: on no bridge), and the
 * elements to send for it: added to that bridge's set, deleted from every other set holding it.
 * Known from the operation alone, so no dump of the namespace's links: on a docker_gwbridge with
 * hundreds of gateway legs, dumping them for every new leg made attaches grow with the host.
 * A set can still hold the name of a link that is gone (a veth whose far end's namespace was
 * deleted); such a name matches nothing, and the link that next takes it passes through here.
 */
export const movePort = (before: ReadonlyArray<Json>, port: string, bridge: string | null): { commands: Json[]; delta: Json[] } => {
  const delta: Json[] = []
  const commands = before.map((command) => {
    const set = portSetOf(command)
    if (set === undefined) return command
    const elem = set.elem ?? []
    const holds = elem.includes(port)
    const belongs = set.name === `${PORT_SET_PREFIX}${bridge}`
    if (holds === belongs) return command
    const target = { family: set.family, table: set.table, name: set.name }
    delta.push({ [belongs ? "add" : "delete"]: { element: { ...target, elem: [port] } } })
    const next = belongs ? [...elem, port].sort() : elem.filter((p) => p !== port)
    const { elem: _elem, ...rest } = set
    return { add: { set: next.length > 0 ? { ...rest, elem: next } : rest } }
  })
  return { commands, delta }
}
