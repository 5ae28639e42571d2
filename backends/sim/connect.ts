import type { ConnectOutcome, ConnectResult, ConnectSpec, ProbeHop, Proto } from "../kernel-types.ts"
import { sendFromNamespace } from "./forwarding.ts"
import { formatIpv4, parseIpv4 } from "./ipv4.ts"
import { namespaceOf, noNamespace, type Outcome } from "./refusal.ts"
import { ephemeralPort, socketFor } from "./sockets.ts"
import type { SimMachine, SimNamespace } from "./state.ts"
import { Failure, newPacket, type Packet, Walk } from "./walk.ts"

/**
 * One TCP connection or UDP exchange, walked as Linux carries it. The client's first packet (a
 * SYN, a datagram) is walked to wherever routing, the firewall and NAT take it; what comes back
 * is walked home as an answer of the same flow, through every conntrack entry it made:
 * - a socket bound there: a SYN-ACK (TCP) or the answer (UDP) from the address the server
 *   answers from; the client takes it only from the address and port it sent to (a connected
 *   socket), after conntrack has undone the NAT on the way;
 * - no socket: a reset (TCP) or an ICMP port unreachable (UDP): refused, if it makes it home;
 * - dropped by a firewall, not forwarded, a link down: nothing comes back (timeout);
 * - no route, or an unanswered ARP: the client's own kernel says unreachable, or the router that
 *   gave up sends an ICMP error home, which is walked back as well.
 * A docker-proxy accepts the connection first, then makes its own from its namespace.
 */

/** a proxy relaying to a proxy relaying … : Linux would run out of ports, the walk stops here */
const MAX_PROXY_DEPTH = 8

interface Exchange {
  readonly outcome: ConnectOutcome
  readonly answeredBy?: string
  readonly seenFrom?: string
  readonly detail?: string
}

const outcome = (kind: ConnectOutcome, detail: string): Exchange => ({ outcome: kind, detail })

class Connection {
  readonly trace: Array<ProbeHop> | undefined

  constructor(
    readonly machine: SimMachine,
    trace: boolean,
  ) {
    this.trace = trace ? [] : undefined
  }

  /** one exchange from `origin` to target:port, on a walk (a conntrack flow) of its own */
  exchange(origin: SimNamespace, target: number, port: number, proto: Proto, depth: number): Exchange {
    const walk = new Walk(this.trace !== undefined, this.machine.generation)
    try {
      return this.walked(walk, origin, target, port, proto, depth)
    } finally {
      if (this.trace !== undefined && walk.trace !== undefined) this.trace.push(...walk.trace)
    }
  }

  private walked(walk: Walk, origin: SimNamespace, target: number, port: number, proto: Proto, depth: number): Exchange {
    const sport = ephemeralPort(this.machine)
    const request = newPacket(0, target, proto, sport, port, false, false, undefined)
    const reached = sendFromNamespace(walk, origin, request)
    if (reached instanceof Failure) return this.failed(walk, origin, request, reached)
    const server = formatIpv4(request.dst)
    const socket = socketFor(reached, proto, request.dst, request.dport)
    if (socket === undefined) {
      const nobody = `${reached.name}: nothing listens on ${server}:${request.dport}/${proto}`
      if (walk.trace !== undefined) walk.hop(reached, undefined, `${nobody}: ${proto === "tcp" ? "reset" : "icmp port unreachable"}`)
      // the reset is an answer of the flow; the ICMP error is related to it
      const back = newPacket(request.dst, request.src, proto, request.dport, request.sport, true, false, undefined, proto === "udp")
      const home = this.backHome(walk, reached, origin, back, target, port)
      return home === undefined ? outcome("refused", nobody) : outcome("timeout", `${nobody}; ${home}`)
    }
    const seenFrom = formatIpv4(request.src)
    const serve = socket.serve
    if (proto === "tcp") {
      // the handshake: a SYN-ACK from the address the SYN was for
      if (walk.trace !== undefined) walk.hop(reached, undefined, `accept ${server}:${request.dport} from ${seenFrom}:${request.sport}`)
      const synAck = newPacket(request.dst, request.src, "tcp", request.dport, request.sport, true, false, undefined)
      const lost = this.backHome(walk, reached, origin, synAck, target, port)
      if (lost !== undefined) return outcome("timeout", `the SYN-ACK from ${reached.name}: ${lost}`)
      if (serve.kind === "listen") return { outcome: "answer", answeredBy: serve.answer, seenFrom }
      const relayed = this.relay(reached, serve.to, serve.toPort, proto, depth)
      if (relayed.outcome === "answer" || relayed.outcome === "timeout") return relayed
      return outcome("closed", `the proxy in ${reached.name} accepted, then its own connection ended ${relayed.outcome}: ${relayed.detail ?? ""}`)
    }
    let answer: Exchange = { outcome: "answer", answeredBy: serve.kind === "listen" ? serve.answer : "", seenFrom }
    if (serve.kind === "proxy") {
      answer = this.relay(reached, serve.to, serve.toPort, proto, depth)
      if (answer.outcome !== "answer") return outcome("timeout", `the proxy in ${reached.name} got no answer to relay: ${answer.outcome}`)
    }
    // a socket bound to 0.0.0.0 answers from the address routing picks for the client, which
    // need not be the one the datagram was sent to
    const from = socket.bound === 0 ? 0 : socket.bound
    const back = newPacket(from, request.src, "udp", request.dport, request.sport, true, false, undefined)
    const lost = this.backHome(walk, reached, origin, back, target, port)
    return lost === undefined ? answer : outcome("timeout", `the answer from ${reached.name}: ${lost}`)
  }

  /** docker-proxy's own connection; a loop of proxies ends as a timeout */
  private relay(proxyNs: SimNamespace, to: number, toPort: number, proto: Proto, depth: number): Exchange {
    if (depth >= MAX_PROXY_DEPTH) return outcome("timeout", `${proxyNs.name}: proxies relay to proxies ${MAX_PROXY_DEPTH} deep`)
    this.trace?.push({ ns: proxyNs.name, event: `proxy connects to ${formatIpv4(to)}:${toPort}/${proto}` })
    return this.exchange(proxyNs, to, toPort, proto, depth + 1)
  }

  /**
   * walks an answer of the flow from `at`; undefined when the client's socket takes it (it
   * arrived home from the address and port the client sent to), else why not
   */
  private backHome(walk: Walk, at: SimNamespace, origin: SimNamespace, back: Packet, target: number, port: number): string | undefined {
    const home = sendFromNamespace(walk, at, back)
    if (home instanceof Failure) return home.detail
    if (home !== origin) return `it was delivered in ${home.name}, not ${origin.name}`
    if (back.src !== target || back.sport !== port) {
      const seen = `${formatIpv4(back.src)}:${back.sport}`
      if (walk.trace !== undefined) walk.hop(home, undefined, `no socket expects ${seen}`)
      return `it came from ${seen}, not ${formatIpv4(target)}:${port}, and the client's socket does not take it`
    }
    return undefined
  }

  /** the first packet got nowhere: unreachable when the client hears of it, else timeout */
  private failed(walk: Walk, origin: SimNamespace, request: Packet, failure: Failure): Exchange {
    const at = failure.at
    if (at === undefined) return outcome("timeout", failure.detail)
    if (at === origin) return outcome("unreachable", failure.detail)
    // the router's ICMP error travels as related to the flow, so conntrack undoes its NAT
    if (walk.trace !== undefined) walk.hop(at, undefined, `icmp unreachable to ${formatIpv4(request.src)}`)
    const error = newPacket(request.dst, request.src, request.proto, request.dport, request.sport, true, false, undefined, true)
    const home = sendFromNamespace(walk, at, error)
    if (home === origin) return outcome("unreachable", failure.detail)
    const lost = home instanceof Failure ? home.detail : `it went to ${home.name}`
    return outcome("timeout", `${failure.detail}; the ICMP error from ${at.name} did not come back: ${lost}`)
  }
}

export const connect = (machine: SimMachine, spec: ConnectSpec): ConnectResult | Exclude<Outcome, undefined> => {
  const origin = namespaceOf(machine, spec.from)
  if (origin === undefined) return noNamespace(undefined, spec.from)
  const connection = new Connection(machine, spec.trace === true)
  const result = connection.exchange(origin, parseIpv4(spec.address), spec.port, spec.proto, 0)
  const trace = connection.trace
  const answered = result.outcome === "answer" ? { answeredBy: result.answeredBy as string, seenFrom: result.seenFrom as string } : {}
  return {
    outcome: result.outcome,
    ...answered,
    ...(result.detail === undefined ? {} : { detail: result.detail }),
    ...(trace === undefined ? {} : { trace }),
  }
}
