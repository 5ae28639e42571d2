import type { ConnectResult } from "../../backends/kernel-types.ts"
import type * as model from "../../model/index.ts"

/**
 * What the model can say about the order in which a balancer hands out connections, and what it
 * cannot.
 *
 * A balancing rule (a VIP in a host's load-balancer sandbox, a port of the routing mesh in a
 * host's ingress sandbox) keeps one counter, which starts at 0 when the rule's table is set and
 * moves on with every new flow the rule matches. The model cannot name a connection's answerer:
 * the counter is shared with every connection through the same rule since the controller last
 * set the table (earlier measurements, the other askers, the mesh asked from outside and from a
 * host), and when the controller sets it again (any change to a service or to its networks on
 * that host) is the controller's business, not the model's. So the answerer is compared exactly
 * between the two backends only, and against the model by membership.
 *
 * What the model does know is the turn order: the rule's backends are the tasks in replica
 * order, the order of the model's answerers. So within one measurement, where the balanced
 * connections go one at a time and nothing else takes a turn in between, two connections in a
 * row through the same rule are answered by two tasks in a row of that order.
 */
export interface BalancedConnection {
  readonly describe: string
  /** the rule whose turn the connection takes: connections with the same key share its counter */
  readonly counter: string
  /** the model's answerers (every task listens: only then is each turn an answer) */
  readonly answerers: ReadonlyArray<string>
  readonly everyTaskListens: boolean
}

/** an answerer outside the model's set, for a connection the model spreads over several */
export const outsideTheModelsSet = (what: string, answerers: ReadonlyArray<string>, result: ConnectResult, backend: string): string[] =>
  result.answeredBy === undefined || answerers.length === 0 || answerers.includes(result.answeredBy)
    ? []
    : [`${what}: ${backend} answered by ${result.answeredBy}, which the model does not count among [${answerers.join(", ")}]`]

/**
 * The turn order against the model's, on connections asked in this order one at a time; the
 * number of pairs checked, and what broke the order.
 */
export const checkTurnOrder = (
  connections: ReadonlyArray<BalancedConnection>,
  results: ReadonlyArray<ConnectResult>,
): { readonly pairs: number; readonly lines: ReadonlyArray<string> } => {
  const last = new Map<string, { readonly index: number; readonly answeredBy: string }>()
  const lines: string[] = []
  let pairs = 0
  connections.forEach((connection, index) => {
    const answeredBy = (results[index] as ConnectResult).answeredBy
    const before = last.get(connection.counter)
    // a connection nobody answered took a turn whose task nobody knows: the order starts again after it
    if (answeredBy === undefined || !connection.everyTaskListens) {
      last.delete(connection.counter)
      return
    }
    last.set(connection.counter, { index, answeredBy })
    if (before === undefined) return
    const order = connection.answerers
    const expected = order[(order.indexOf(before.answeredBy) + 1) % order.length]
    pairs++
    if (answeredBy !== expected) {
      lines.push(
        `turn order through ${connection.counter}: ${connection.describe} answered by ${answeredBy} after ${before.answeredBy} (${(connections[before.index] as BalancedConnection).describe}); the model's order [${order.join(", ")}] says ${expected}`,
      )
    }
  })
  return { pairs, lines }
}

/** the rule a round-robin connection takes its turn from, as the model routes it (connections.ts) */
export const counterOf = (predicted: model.ConnectPrediction, question: model.ConnectQuestion, clientHost: string | undefined, address: string): string =>
  predicted.path === "VIP"
    ? // the VIP's rule is in the load-balancer sandbox on the client's own host, whatever the port
      `VIP ${address} on ${clientHost ?? "?"}`
    : // the routing mesh's rule is in the ingress sandbox of the host whose address was asked, one per published port
      `mesh ${address}:${question.port}/${question.proto}`
