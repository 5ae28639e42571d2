/**
 * Peer events: how a global-scope driver on one host learns the endpoints on the others. Each
 * endpoint on a swarm network is published in the global-scope store under
 * `network/<network id>/peer/<address>` (libnetwork's overlay_peer_table) by the lab, from the
 * model's overlayPeers, so that the store always holds what the model says; every host watches
 * `network/` and turns the records of other hosts' endpoints on networks it holds into peerAdd
 * and peerDelete steps of its driver, and into the names its embedded DNS answers for them.
 */
import type { DnsEntry } from "../backends/kernel-types.ts"
import type { Peer, Step } from "../drivers/Driver.ts"
import { parseCidr, stripPrefix } from "../model/cidr.ts"
import * as model from "../model/index.ts"
import type { LabState } from "../model/lab-types.ts"
import * as IntTrie from "../model/int-trie.ts"
import { networkRecord } from "../model/representation.ts"
import * as StringMap from "../model/string-map.ts"
import type { DriverName, Network } from "../model/types.ts"
import type { Controller } from "./Controller.ts"
import { DnsPlan } from "./dns-plan.ts"
import type { GlobalStore, StoreChange, StoreEvent } from "./global-store.ts"

/** one endpoint on a swarm network, as its host publishes it */
export interface PeerRecord {
  readonly network: string
  readonly networkId: string
  /** plain address */
  readonly address: string
  readonly prefix: number
  readonly mac: string
  readonly host: string
  /** the host's underlay address: where VXLAN traffic for this endpoint goes */
  readonly vtep: string
  readonly sandbox: string
  /** the names the embedded DNS gives it on the network (container and aliases); none for Docker's own sandboxes */
  readonly names: ReadonlyArray<string>
}

export const peerPrefix = "network/"

export const peerKey = (networkId: string, address: string): string => `${peerPrefix}${networkId}/peer/${address}`

/** one host's endpoints on one swarm network as records, and what they were made from */
interface HostPeers {
  readonly networkId: string
  readonly prefix: number
  readonly vtep: string
  readonly records: ReadonlyArray<readonly [string, PeerRecord]>
}

/**
 * Per network record of a host's model state: its endpoints as peer records. A record the next
 * lab state still holds (the model copies only what changes) gives the same peers, so a change
 * rebuilds the records of the networks it touched only; before, every attach rebuilt every
 * endpoint's record twice, which grew with the lab (0.6 ms of a 5 ms overlay attach at 300 containers).
 */
const peersByRecord = new WeakMap<object, HostPeers>()

const hostPeers = (lab: LabState, index: number, network: Network, networkId: string, prefix: number): ReadonlyArray<readonly [string, PeerRecord]> => {
  const state = lab.hostStates[index] as model.CnmState
  const record = networkRecord(state, network.name)
  if (record === undefined) return []
  const host = lab.hosts[index] as (typeof lab.hosts)[number]
  const known = peersByRecord.get(record)
  if (known !== undefined && known.networkId === networkId && known.prefix === prefix && known.vtep === host.address) return known.records
  const records: Array<readonly [string, PeerRecord]> = []
  for (const endpoint of IntTrie.values(record.endpoints)) {
    if (endpoint.address === undefined || endpoint.mac === undefined) continue
    const address = stripPrefix(endpoint.address)
    const sandbox = endpoint.container
    const names = model.embeddedDnsNames(lab, endpoint)
    records.push([
      peerKey(networkId, address),
      { network: network.name, networkId, address, prefix, mac: endpoint.mac, host: host.name, vtep: host.address, sandbox, names },
    ])
  }
  peersByRecord.set(record, { networkId, prefix, vtep: host.address, records })
  return records
}

type Slice = ReadonlyArray<readonly [string, PeerRecord]>

/** each swarm network's peer records per host, in the order the hosts' own peer lists would first name them: host 1's, …, then host 0's */
const peerSlices = (lab: LabState): Array<{ readonly network: string; readonly slices: ReadonlyArray<Slice> }> => {
  if (lab.swarm === undefined || lab.hosts.length < 2) return []
  const networks: Array<{ network: string; slices: Slice[] }> = []
  for (const { network } of StringMap.values(lab.swarm.networks)) {
    const prefix = network.subnet === undefined ? 32 : (parseCidr(network.subnet)?.prefix ?? 32)
    const slices: Slice[] = []
    for (let k = 1; k <= lab.hosts.length; k++) slices.push(hostPeers(lab, k % lab.hosts.length, network, network.id, prefix))
    networks.push({ network: network.name, slices })
  }
  return networks
}

const recordsOf = (slices: ReadonlyArray<Slice>, into = new Map<string, PeerRecord>()): Map<string, PeerRecord> => {
  for (const slice of slices) for (const [key, record] of slice) if (!into.has(key)) into.set(key, record)
  return into
}

/**
 * every endpoint of every swarm network, keyed as the store keeps them: what the model says the
 * store holds (model.overlayPeers, whose union over the hosts is every endpoint; one host has no peers)
 */
export const peerRecords = (lab: LabState): Map<string, PeerRecord> => {
  const records = new Map<string, PeerRecord>()
  for (const { slices } of peerSlices(lab)) recordsOf(slices, records)
  return records
}

const samePeer = (a: PeerRecord, b: PeerRecord): boolean =>
  a.mac === b.mac && a.host === b.host && a.vtep === b.vtep && a.sandbox === b.sandbox && a.names.join() === b.names.join()

const diff = (was: ReadonlyMap<string, PeerRecord>, is: ReadonlyMap<string, PeerRecord>, changes: Array<StoreChange<PeerRecord>>): void => {
  for (const [key] of was) if (!is.has(key)) changes.push({ kind: "delete", key })
  for (const [key, record] of is) {
    const old = was.get(key)
    if (old === undefined || !samePeer(old, record)) changes.push({ kind: "put", key, value: record })
  }
}

/**
 * the store changes that take the published peers from one lab state to the next. A host's
 * slice of a network that is the same object in both states holds the same records, so only the
 * slices that changed are compared (an address is on one host only: swarm's IPAM is global).
 */
export const peerChanges = (before: LabState, after: LabState): Array<StoreChange<PeerRecord>> => {
  if (before.swarm === undefined && after.swarm === undefined) return []
  const was = peerSlices(before)
  const is = peerSlices(after)
  const changes: Array<StoreChange<PeerRecord>> = []
  const sameShape = was.length === is.length && was.every((w, i) => w.network === is[i]?.network && w.slices.length === is[i]?.slices.length)
  if (!sameShape) {
    diff(recordsOf(was.flatMap((w) => w.slices)), recordsOf(is.flatMap((w) => w.slices)), changes)
    return changes
  }
  for (let i = 0; i < was.length; i++) {
    const old = (was[i] as (typeof was)[number]).slices
    const next = (is[i] as (typeof is)[number]).slices
    const changed = old.flatMap((slice, h) => (slice === next[h] ? [] : [h]))
    if (changed.length > 0) diff(recordsOf(changed.map((h) => old[h] as Slice)), recordsOf(changed.map((h) => next[h] as Slice)), changes)
  }
  return changes
}

/** the changes that undo `changes` on the store as it is now */
export const inverseOf = <V>(store: GlobalStore<V>, changes: ReadonlyArray<StoreChange<V>>): Array<StoreChange<V>> =>
  changes
    .map((change): StoreChange<V> | undefined => {
      const previous = store.get(change.key)
      if (previous !== undefined) return { kind: "put", key: change.key, value: previous.value }
      return change.kind === "put" ? { kind: "delete", key: change.key } : undefined
    })
    .filter((change): change is StoreChange<V> => change !== undefined)
    .reverse()

/** a host's kernel work for the peer events it received: deletions before its other steps, additions after */
export interface PeerWork {
  readonly deletes: ReadonlyArray<Step>
  readonly adds: ReadonlyArray<Step>
  readonly dns: DnsPlan | undefined
  readonly commit: () => void
}

const asPeer = (record: PeerRecord): Peer => ({ address: record.address, prefix: record.prefix, mac: record.mac, vtep: record.vtep })

const dnsEntryOf = (record: PeerRecord): DnsEntry | undefined =>
  record.names.length === 0 ? undefined : { network: record.network, names: record.names, address: record.address }

/**
 * One host's watch on the store. Events queue until the lab asks for the work they mean
 * (`take`): with a store on other machines they would arrive later, on their own; here they
 * arrive during the change and are carried out in the same transaction.
 */
export class PeerRelay {
  private readonly pending: Array<StoreEvent<PeerRecord>> = []
  /** the peers this host has programmed, by key */
  private readonly programmed = new Map<string, PeerRecord>()
  private readonly stop: () => void

  constructor(
    private readonly controller: Controller,
    store: GlobalStore<PeerRecord>,
  ) {
    this.stop = store.watch(peerPrefix, store.version(), (event) => {
      const record = event.kind === "put" ? event.value : event.previous
      if (record.host !== controller.host) this.pending.push(event)
    })
  }

  /** the peers programmed on this host for a network, by address */
  peersOf(network: string): ReadonlyArray<PeerRecord> {
    return [...this.programmed.values()].filter((p) => p.network === network).sort((a, b) => (a.address < b.address ? -1 : 1))
  }

  /** drop the events queued so far (their change was undone) */
  discard(): void {
    this.pending.length = 0
  }

  close(): void {
    this.stop()
  }

  /** the kernel and DNS work for the events queued so far */
  take(before: LabState, after: LabState): PeerWork {
    const events = this.pending.splice(0)
    const deletes: Step[] = []
    const adds: Step[] = []
    let dns: DnsPlan | undefined
    const done: Array<() => void> = []
    const host = this.controller.host
    for (const event of events) {
      if (event.kind === "put") {
        const record = event.value
        const network = heldNetwork(after, host, record.network)
        const old = this.programmed.get(event.key)
        if (network === undefined) continue
        const context = this.controller.context(before, after, model.hostStateOf(after, host) as model.CnmState)
        const driver = this.controller.driver(network.driver)
        if (old !== undefined) {
          for (const s of driver?.peerDelete?.(network, asPeer(old), context) ?? []) deletes.push(s)
          const entry = dnsEntryOf(old)
          if (entry) (dns ??= new DnsPlan()).remove.push(entry)
        }
        for (const s of driver?.peerAdd?.(network, asPeer(record), context) ?? []) adds.push(s)
        const entry = dnsEntryOf(record)
        if (entry) (dns ??= new DnsPlan()).add.push(entry)
        done.push(() => this.programmed.set(event.key, record))
      } else {
        const record = this.programmed.get(event.key)
        if (record === undefined) continue
        const network = heldNetwork(before, host, record.network) ?? heldNetwork(after, host, record.network)
        if (network !== undefined) {
          const context = this.controller.context(before, after, model.hostStateOf(after, host) as model.CnmState)
          for (const s of this.controller.driver(network.driver)?.peerDelete?.(network, asPeer(record), context) ?? []) deletes.push(s)
        }
        const entry = dnsEntryOf(record)
        if (entry) (dns ??= new DnsPlan()).remove.push(entry)
        done.push(() => this.programmed.delete(event.key))
      }
    }
    for (const change of secureVtepChanges(before, after, host)) {
      const context = this.controller.context(before, after, model.hostStateOf(after, host) as model.CnmState)
      const driver = this.controller.driver(change.driver)
      if (change.kind === "add") for (const s of driver?.secureVtepAdd?.(change.vtep, context) ?? []) adds.push(s)
      else for (const s of driver?.secureVtepDelete?.(change.vtep, context) ?? []) deletes.push(s)
    }
    return {
      deletes,
      adds,
      dns,
      commit: () => {
        for (const keep of done) keep()
      },
    }
  }
}

const heldNetwork = (lab: LabState, host: string, name: string): Network | undefined => {
  const state = model.hostStateOf(lab, host)
  return state === undefined ? undefined : networkRecord(state, name)?.network
}

/** one remote host starts or stops sharing an encrypted network with this host */
interface VtepChange {
  readonly kind: "add" | "delete"
  readonly vtep: string
  readonly driver: DriverName
}

const hasEndpoints = (lab: LabState, host: string, network: string): boolean => {
  const state = model.hostStateOf(lab, host)
  const record = state === undefined ? undefined : networkRecord(state, network)
  return record !== undefined && record.endpoints.size > 0
}

/**
 * The remote hosts (their VTEPs) this host must talk IPsec with: those holding an endpoint of an
 * encrypted network this host holds an endpoint of too. In Docker a host learns the peers of a
 * network only once it has an endpoint there itself (it joins the network's gossip), and sets up
 * encryption with the VTEPs of those peers; a pair stays secured while one such network links it
 * (libnetwork's overlay keeps its secMap per remote node the same way).
 */
export const secureVteps = (lab: LabState, host: string): Map<string, DriverName> => {
  const vteps = new Map<string, DriverName>()
  if (lab.swarm === undefined) return vteps
  for (const { network, overlay } of StringMap.values(lab.swarm.networks)) {
    if (!overlay.encrypted || !hasEndpoints(lab, host, network.name)) continue
    for (const remote of lab.hosts) {
      if (remote.name !== host && hasEndpoints(lab, remote.name, network.name)) vteps.set(remote.address, network.driver)
    }
  }
  return vteps
}

const anyEncrypted = (lab: LabState): boolean =>
  lab.swarm !== undefined && StringMap.values(lab.swarm.networks).some((entry) => entry.overlay.encrypted)

/** the pairs a change secures and unsecures on this host */
const secureVtepChanges = (before: LabState, after: LabState, host: string): ReadonlyArray<VtepChange> => {
  if (!anyEncrypted(before) && !anyEncrypted(after)) return []
  const was = secureVteps(before, host)
  const is = secureVteps(after, host)
  const changes: VtepChange[] = []
  for (const [vtep, driver] of was) if (!is.has(vtep)) changes.push({ kind: "delete", vtep, driver })
  for (const [vtep, driver] of is) if (!was.has(vtep)) changes.push({ kind: "add", vtep, driver })
  return changes
}
