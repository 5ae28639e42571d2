import type { ProbeResult } from "../kernel-types.ts"
import { sendFromNamespace } from "./forwarding.ts"
import { formatIpv4, INVALID, parseIpv4 } from "./ipv4.ts"
import { namespaceOf, noNamespace, type Outcome, refuse } from "./refusal.ts"
import type { SimMachine } from "./state.ts"
import { Failure, newPacket, Walk } from "./walk.ts"

/**
 * One ICMP echo: the request is walked to wherever the routing takes it, the namespace that
 * takes it answers (unless net.ipv4.icmp_echo_ignore_all), and the reply is walked back. Reachable
 * means the reply came home.
 */

const ECHO_ID = 0x636e

const failed = (failure: Failure, trace: ProbeResult["trace"]): ProbeResult =>
  trace === undefined
    ? { reachable: false, reason: failure.reason, detail: failure.detail }
    : { reachable: false, reason: failure.reason, detail: failure.detail, trace }

export const probe = (
  machine: SimMachine,
  from: string,
  address: string,
  trace: boolean,
): ProbeResult | Exclude<Outcome, undefined> => {
  const origin = namespaceOf(machine, from)
  if (origin === undefined) return noNamespace(undefined, from)
  const target = parseIpv4(address)
  if (target === INVALID) return refuse(undefined, "EINVAL", `invalid address "${address}"`)
  const walk = new Walk(trace, machine.generation)
  const request = newPacket(0, target, "icmp", ECHO_ID, 0, false, false, undefined)
  const answering = sendFromNamespace(walk, origin, request)
  if (answering instanceof Failure) return failed(answering, walk.trace)
  if (answering.echoIgnoreAll) {
    return failed(new Failure("no-answer", `${answering.name}: icmp_echo_ignore_all is set`), walk.trace)
  }
  if (walk.trace !== undefined) walk.hop(answering, undefined, `echo reply ${formatIpv4(request.dst)} -> ${formatIpv4(request.src)}`)
  const reply = newPacket(request.dst, request.src, "icmp", 0, ECHO_ID, true, false, undefined)
  const home = sendFromNamespace(walk, answering, reply)
  if (home instanceof Failure) return failed(home, walk.trace)
  if (home !== origin) {
    return failed(new Failure("no-answer", `the echo reply went to ${home.name}, not ${origin.name}`), walk.trace)
  }
  return walk.trace === undefined ? ANSWERED : { reachable: true, reason: "answered", trace: walk.trace }
}

const ANSWERED: ProbeResult = { reachable: true, reason: "answered" }
