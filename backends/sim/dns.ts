import { DnsRecords } from "../dns-records.ts"
import type { DnsQueryResult, DnsUpdate, DnsView } from "../kernel-types.ts"
import { isLocalAddress } from "./addresses.ts"
import { sendFromNamespace } from "./forwarding.ts"
import { INVALID, isLoopbackAddress, parseIpv4 } from "./ipv4.ts"
import { namespaceOf, noNamespace, type Outcome, refuse } from "./refusal.ts"
import type { SimMachine, SimNamespace } from "./state.ts"
import { Failure, newPacket, Walk } from "./walk.ts"

/**
 * DNS over the simulated network: a server is a view of a resolver's names bound to address:53
 * in a namespace, as a UDP socket would be. bind() accepts a local address (whatever the state of
 * its link) or any 127/8 address, and refuses others with EADDRNOTAVAIL (measured); a second bind
 * on the same address is EADDRINUSE. A question is walked like a probe, UDP to port 53.
 */

const DNS_PORT = 53
/** the client's source port: answers are addressed to it */
const CLIENT_PORT = 53_535
const ANY = 0

const TIMEOUT: DnsQueryResult = { rcode: "TIMEOUT", addresses: [] }

export const serveDns = (machine: SimMachine, nsName: string, address: string, view: DnsView): Outcome => {
  const ns = namespaceOf(machine, nsName)
  if (ns === undefined) return noNamespace(undefined, nsName)
  const bound = address === "0.0.0.0" ? ANY : parseIpv4(address)
  if (bound === INVALID) return refuse(undefined, "EINVAL", `invalid address "${address}"`)
  if (bound !== ANY && !isLoopbackAddress(bound) && !isLocalAddress(ns, bound)) {
    return refuse(undefined, "EADDRNOTAVAIL", `${address} is not an address of namespace "${nsName}"`)
  }
  const servers = ns.dns ?? (ns.dns = new Map())
  if (servers.has(bound) || servers.has(ANY) || (bound === ANY && servers.size > 0)) {
    return refuse(undefined, "EADDRINUSE", `${address}:53 is already served in "${nsName}"`)
  }
  servers.set(bound, view)
  return undefined
}

export const stopDns = (machine: SimMachine, nsName: string): Outcome => {
  const ns = namespaceOf(machine, nsName)
  if (ns === undefined) return noNamespace(undefined, nsName)
  ns.dns = undefined
  return undefined
}

/** all or nothing: a namespace listed without a server refuses the whole update */
export const updateDns = (machine: SimMachine, update: DnsUpdate): Outcome => {
  const served: Array<readonly [SimNamespace, ReadonlyArray<string>]> = []
  for (const { ns: nsName, networks } of update.networks ?? []) {
    const ns = namespaceOf(machine, nsName)
    if (ns === undefined || ns.dns === undefined) return refuse(undefined, "ENOENT", `no DNS server runs in "${nsName}"`)
    served.push([ns, networks])
  }
  let records = machine.resolvers.get(update.resolver)
  if (records === undefined) machine.resolvers.set(update.resolver, (records = new DnsRecords()))
  records.update(update)
  for (const [ns, networks] of served) {
    for (const [bound, view] of ns.dns as Map<number, DnsView>) ns.dns?.set(bound, { resolver: view.resolver, networks })
  }
  return undefined
}

const viewAt = (ns: SimNamespace, address: number): DnsView | undefined => ns.dns?.get(address) ?? ns.dns?.get(ANY)

export const queryDns = (
  machine: SimMachine,
  nsName: string,
  server: string,
  name: string,
): DnsQueryResult | Exclude<Outcome, undefined> => {
  const ns = namespaceOf(machine, nsName)
  if (ns === undefined) return noNamespace(undefined, nsName)
  const serverAddress = parseIpv4(server)
  if (serverAddress === INVALID) return refuse(undefined, "EINVAL", `invalid server address "${server}"`)
  const walk = new Walk(false, machine.generation)
  const question = newPacket(0, serverAddress, "udp", CLIENT_PORT, DNS_PORT, false, false, name)
  const serving = sendFromNamespace(walk, ns, question)
  if (serving instanceof Failure) return TIMEOUT
  const view = question.dport === DNS_PORT ? viewAt(serving, question.dst) : undefined
  // nothing listens: an ICMP port unreachable, which the resolver sees as no answer
  if (view === undefined) return TIMEOUT
  const answer = answerFrom(machine, view, name)
  const response = newPacket(question.dst, question.src, "udp", DNS_PORT, CLIENT_PORT, true, false, undefined)
  const home = sendFromNamespace(walk, serving, response)
  if (home instanceof Failure || home !== ns) return TIMEOUT
  return answer
}

const answerFrom = (machine: SimMachine, view: DnsView, name: string) =>
  machine.resolvers.get(view.resolver)?.answer(view.networks, name) ?? { rcode: "NXDOMAIN" as const, addresses: [] }
