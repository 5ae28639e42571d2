/**
 * Reading and writing a LabState: a host's CnmState in and out (with the lab-wide counters), the
 * one address book of a swarm network copied to every host, and refusals with Docker's traces.
 * The lab operations are written with these; tests use them to build broken labs on purpose.
 */
import { replaced } from "./arrays.ts"
import { cnmError, type ErrorCode } from "./errors.ts"
import { type AddressBook, withCursor } from "./ipam.ts"
import type { LabOutcome, LabRefusal, LabState, SwarmState } from "./lab-types.ts"
import { type CnmState, type NetworkRecord, NetworkRecordValue, networkRecord, putNetworkRecord } from "./representation.ts"
import * as StringMap from "./string-map.ts"

/**
 * A lab state as operations build it: a class, not an object literal, for the reason arrays.ts
 * gives (a literal's allocation site is pretenured once the standing labs of a run survive a young
 * collection, and every later operation's short-lived copy then lands in the old generation).
 * Every copy goes through `labWith`, whose fields are written out because object spread is slow
 * on hot paths.
 */
export class LabStateValue implements LabState {
  constructor(
    readonly underlay: LabState["underlay"],
    readonly hosts: LabState["hosts"],
    readonly swarm: LabState["swarm"],
    readonly hostStates: LabState["hostStates"],
    readonly placement: LabState["placement"],
    readonly containerOrder: LabState["containerOrder"],
    readonly nextNetworkSeq: number,
    readonly nextContainerSeq: number,
    readonly vlans: LabState["vlans"],
    readonly gatewayLegs: LabState["gatewayLegs"],
    readonly ports: LabState["ports"],
    readonly services: LabState["services"],
  ) {}
}

/** the lab with the fields of `patch` changed */
export const labWith = (lab: LabState, patch: Partial<LabState>): LabState =>
  new LabStateValue(
    patch.underlay ?? lab.underlay,
    patch.hosts ?? lab.hosts,
    "swarm" in patch ? patch.swarm : lab.swarm,
    patch.hostStates ?? lab.hostStates,
    patch.placement ?? lab.placement,
    patch.containerOrder ?? lab.containerOrder,
    patch.nextNetworkSeq ?? lab.nextNetworkSeq,
    patch.nextContainerSeq ?? lab.nextContainerSeq,
    patch.vlans ?? lab.vlans,
    patch.gatewayLegs ?? lab.gatewayLegs,
    patch.ports ?? lab.ports,
    patch.services ?? lab.services,
  )

export const labSucceed = <A>(lab: LabState, value: A): LabOutcome<A> => ({ ok: true, lab, value })

export const labFail = (code: ErrorCode, message: string): LabRefusal => ({ ok: false, error: cnmError(code, message) })

/** the host's index, or undefined for a name no host has */
export const hostIndex = (lab: LabState, name: string): number | undefined => {
  const index = lab.hosts.findIndex((host) => host.name === name)
  return index < 0 ? undefined : index
}

export const hostState = (lab: LabState, index: number): CnmState => lab.hostStates[index] as CnmState

/**
 * The host's state with the lab's counters, ready for an operation: whatever it creates takes
 * the next lab-wide sequence number.
 */
export const hostStateForOperation = (lab: LabState, index: number): CnmState => {
  const state = hostState(lab, index)
  return state.nextNetworkSeq === lab.nextNetworkSeq && state.nextContainerSeq === lab.nextContainerSeq
    ? state
    : { ...state, nextNetworkSeq: lab.nextNetworkSeq, nextContainerSeq: lab.nextContainerSeq }
}

/** the lab with the host's new state; the lab's counters move on to the state's */
export const withHostState = (lab: LabState, index: number, state: CnmState): LabState => {
  const hostStates = replaced(lab.hostStates, index, state)
  return new LabStateValue(
    lab.underlay,
    lab.hosts,
    lab.swarm,
    hostStates,
    lab.placement,
    lab.containerOrder,
    state.nextNetworkSeq > lab.nextNetworkSeq ? state.nextNetworkSeq : lab.nextNetworkSeq,
    state.nextContainerSeq > lab.nextContainerSeq ? state.nextContainerSeq : lab.nextContainerSeq,
    lab.vlans,
    lab.gatewayLegs,
    lab.ports,
    lab.services,
  )
}

export const withSwarm = (lab: LabState, swarm: SwarmState): LabState => labWith(lab, { swarm })

/**
 * After an endpoint of a swarm network came or went on one host: the network's book as that
 * host's copy holds it becomes the swarm's, and every other host's copy takes it too (the
 * manager's IPAM is one for all hosts; each copy keeps its own host's endpoints).
 */
export const syncSwarmBook = (lab: LabState, name: string, from: number): LabState => {
  const swarm = lab.swarm
  const entry = swarm === undefined ? undefined : StringMap.get(swarm.networks, name)
  if (swarm === undefined || entry === undefined) return lab
  const book = networkRecord(hostState(lab, from), name)?.addresses as AddressBook
  if (book === entry.addresses) return lab
  const hostStates = lab.hostStates.map((state, index) => {
    if (index === from) return state
    const record = networkRecord(state, name) as NetworkRecord
    return putNetworkRecord(state, new NetworkRecordValue(record.network, book, record.endpoints))
  })
  const networks = StringMap.set(swarm.networks, name, { ...entry, addresses: book })
  return labWith(lab, { hostStates, swarm: { ...swarm, networks } })
}

/**
 * What Docker keeps of an operation that failed part-way: the cursors its allocators moved (the
 * local and swarm pool cursors, a swarm book's serial cursor, the VNI cursor) go on from where the
 * attempt left them; everything else is as before. Undefined when the attempt moved none.
 */
const tracesOf = (before: LabState, attempt: LabState): LabState | undefined => {
  let changed = false
  const hostStates = before.hostStates.map((state, index) => {
    const cursor = hostState(attempt, index).poolCursor
    if (cursor === state.poolCursor) return state
    changed = true
    return { ...state, poolCursor: cursor }
  })
  let swarm = before.swarm
  const tried = attempt.swarm
  if (swarm !== undefined && tried !== undefined) {
    let networks = swarm.networks
    StringMap.forEach(swarm.networks, (entry, name) => {
      const next = StringMap.get(tried.networks, name)?.addresses.next
      if (next === undefined || next === entry.addresses.next) return
      changed = true
      networks = StringMap.set(networks, name, { ...entry, addresses: withCursor(entry.addresses, next) })
    })
    if (tried.poolCursor !== swarm.poolCursor || tried.vniCursor !== swarm.vniCursor) changed = true
    swarm = { ...swarm, networks, poolCursor: tried.poolCursor, vniCursor: tried.vniCursor }
  }
  if (!changed) return undefined
  const kept = labWith(before, { hostStates, swarm })
  // the copies of a swarm network on the hosts hold the swarm's book
  return swarm === undefined ? kept : copySwarmBooks(kept)
}

/** every host's copy of every swarm network gets the swarm's book */
const copySwarmBooks = (lab: LabState): LabState => {
  const swarm = lab.swarm as SwarmState
  const hostStates = lab.hostStates.map((state) => {
    let next = state
    StringMap.forEach(swarm.networks, (entry, name) => {
      const record = networkRecord(next, name)
      if (record !== undefined && record.addresses !== entry.addresses) {
        next = putNetworkRecord(next, new NetworkRecordValue(record.network, entry.addresses, record.endpoints))
      }
    })
    return next
  })
  return labWith(lab, { hostStates })
}

/** a refusal that keeps Docker's traces of the attempt (see tracesOf) */
export const labRefuse = (before: LabState, attempt: LabState, refusal: LabRefusal): LabRefusal => {
  const kept = tracesOf(before, attempt)
  return kept === undefined ? { ok: false, error: refusal.error } : { ok: false, error: refusal.error, lab: kept }
}

/** the names of the sandboxes Docker makes for itself: no container name can start with `#` */
export const ingressSandbox = "#ingress-sbox"
export const loadBalancerSandbox = (network: string): string => `#lb-${network}`
export const isSystemSandbox = (name: string): boolean => name.startsWith("#")

/** Docker's names for the swarm's own networks */
export const ingressNetwork = "ingress"
export const gatewayBridgeNetwork = "docker_gwbridge"
