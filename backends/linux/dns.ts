import type { DnsUpdate, DnsView } from "../kernel-types.ts"
import type { NetnsAddon } from "./addon.ts"
import type { MeasurementPlane } from "./measurement/plane.ts"
import type { NamespaceTable } from "./namespaces.ts"

const DNS_PORT = 53

/**
 * The control plane's side of the embedded DNS: sockets bound inside namespaces here, in order
 * with everything else, then handed to the measurement thread, which answers on them from its
 * mirror of the resolvers' names. This side knows which namespaces have servers, so an update
 * naming one without is refused before anything changes.
 */
export class DnsServers {
  /** namespace → how many servers run in it */
  private readonly running = new Map<string, number>()

  constructor(
    private readonly native: NetnsAddon,
    private readonly namespaces: NamespaceTable,
    private readonly plane: MeasurementPlane,
    private readonly scope: number,
  ) {}

  /**
   * Binds address:53 inside `ns` (the addon creates and binds the socket there: dgram's own bind
   * resolves the address asynchronously and would escape the namespace). A plain bind, so the
   * kernel decides: EADDRNOTAVAIL for an address the namespace does not have, EADDRINUSE for a
   * second server. (In a namespace whose lo was never up there is no local table yet, and the
   * kernel lets any address be bound: measured, and what the conformance suite expects.)
   */
  serve(ns: string, address: string, view: DnsView): void {
    this.plane.assertAlive()
    const fd = this.native.openInetSocket(this.namespaces.path(ns), "udp", address, DNS_PORT, false)
    this.plane.serve(this.scope, ns, fd, view)
    this.running.set(ns, (this.running.get(ns) ?? 0) + 1)
  }

  /** all or nothing: a namespace listed without a server refuses the whole update */
  update(update: DnsUpdate): void {
    for (const { ns } of update.networks ?? []) {
      if (!this.running.has(ns)) throw Object.assign(new Error(`no DNS server runs in ${ns}`), { code: "ENOENT" })
    }
    this.plane.update(this.scope, update)
  }

  /** settles once the servers' sockets are closed */
  async stop(ns: string): Promise<void> {
    this.namespaces.path(ns)
    if (!this.running.delete(ns)) return
    await this.plane.stop(this.scope, ns)
  }

  /** the namespace is going: its servers are closed on the measurement thread's next turn */
  forget(ns: string): void {
    if (this.running.delete(ns)) this.plane.stopSoon(this.scope, ns)
  }

  async stopAll(): Promise<void> {
    this.running.clear()
    await this.plane.closeScope(this.scope)
  }
}

/** one A query from a socket inside `ns` to server:53, sent and timed by the measurement thread */
export const queryDns = (
  native: NetnsAddon,
  namespaces: NamespaceTable,
  plane: MeasurementPlane,
  ns: string,
  server: string,
  name: string,
  queryId: number,
  timeoutMs: number,
) => {
  plane.assertAlive()
  const fd = native.openInetSocket(namespaces.path(ns), "udp", null, 0, false)
  return plane.query({ kind: "query", fd, server, name, queryId, timeoutMs })
}
