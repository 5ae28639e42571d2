/**
 * The global-scope store: what libnetwork kept in a distributed key-value store (etcd, Consul or
 * ZooKeeper through libkv) before swarm mode, and swarm's NetworkDB keeps since: records shared by
 * every host, each change numbered, and watches by key prefix through which a host learns what
 * the others did. Global-scope drivers learn remote endpoints from it (peer events).
 *
 * The interface is the part of libkv's Store that cnmlab uses: put, delete, get, list and watch
 * by prefix, with one version per change (etcd's revision). `MemoryStore` holds it in this
 * process, for a lab whose hosts are namespaces of one machine. An etcd-backed implementation
 * can replace it when hosts are separate machines: `put`/`delete` become etcd Put/Delete (the
 * returned version the response's header revision), `watch(prefix, from)` an etcd Watch with
 * WithPrefix and WithRev(from), whose events arrive on another host some time later; callers
 * already treat a watch's events as arriving after the change, never as part of it.
 */

/** one record, with the version of the change that wrote it */
export interface StoreEntry<V> {
  readonly key: string
  readonly value: V
  readonly version: number
}

export type StoreEvent<V> =
  | { readonly kind: "put"; readonly key: string; readonly value: V; readonly version: number }
  | { readonly kind: "delete"; readonly key: string; readonly previous: V; readonly version: number }

/** a change to apply, as a batch (etcd: one transaction) */
export type StoreChange<V> = { readonly kind: "put"; readonly key: string; readonly value: V } | { readonly kind: "delete"; readonly key: string }

export interface GlobalStore<V> {
  /** the version of the last change (0 for an empty store) */
  readonly version: () => number
  readonly get: (key: string) => StoreEntry<V> | undefined
  /** every record under the prefix, by key */
  readonly list: (prefix: string) => ReadonlyArray<StoreEntry<V>>
  /** the changes in order, all or none; returns the version of the last (the current one when empty) */
  readonly apply: (changes: ReadonlyArray<StoreChange<V>>) => number
  /**
   * Events for the keys under the prefix, from the change after `fromVersion` on (earlier ones
   * are replayed first, as etcd's WithRev does); returns a function that stops the watch.
   */
  readonly watch: (prefix: string, fromVersion: number, onEvent: (event: StoreEvent<V>) => void) => () => void
}

interface Watcher<V> {
  readonly prefix: string
  readonly onEvent: (event: StoreEvent<V>) => void
}

/** the store in this process's memory; events are delivered synchronously, in version order */
export class MemoryStore<V> implements GlobalStore<V> {
  private readonly entries = new Map<string, StoreEntry<V>>()
  private readonly history: Array<StoreEvent<V>> = []
  private readonly watchers = new Set<Watcher<V>>()
  private current = 0

  readonly version = (): number => this.current

  readonly get = (key: string): StoreEntry<V> | undefined => this.entries.get(key)

  readonly list = (prefix: string): ReadonlyArray<StoreEntry<V>> =>
    [...this.entries.values()].filter((entry) => entry.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))

  readonly apply = (changes: ReadonlyArray<StoreChange<V>>): number => {
    for (const change of changes) {
      let event: StoreEvent<V>
      if (change.kind === "put") {
        const version = ++this.current
        this.entries.set(change.key, { key: change.key, value: change.value, version })
        event = { kind: "put", key: change.key, value: change.value, version }
      } else {
        const previous = this.entries.get(change.key)
        if (previous === undefined) continue
        const version = ++this.current
        this.entries.delete(change.key)
        event = { kind: "delete", key: change.key, previous: previous.value, version }
      }
      this.history.push(event)
      for (const watcher of this.watchers) if (event.key.startsWith(watcher.prefix)) watcher.onEvent(event)
    }
    return this.current
  }

  readonly watch = (prefix: string, fromVersion: number, onEvent: (event: StoreEvent<V>) => void): (() => void) => {
    for (const event of this.history) if (event.version > fromVersion && event.key.startsWith(prefix)) onEvent(event)
    const watcher = { prefix, onEvent }
    this.watchers.add(watcher)
    return () => {
      this.watchers.delete(watcher)
    }
  }
}
