import type { DnsUpdate, DnsView } from "../kernel-types.ts"
import type { MeasurementPlane } from "./measurement/plane.ts"
import type { NamespaceTable } from "./namespaces.ts"

/**
 * The control plane's side of the embedded DNS: the measurement helper binds the servers inside
 * their namespaces and answers from its mirror of the resolvers' names, which this side keeps up
 * to date in order with everything else. This side knows which namespaces have servers, so an
 * update naming one without is refused before anything changes.
 */
export class DnsServers {
  /** namespace → how many servers run in it */
  private readonly running = new Map<string, number>()

  constructor(
    private readonly namespaces: NamespaceTable,
    private readonly plane: MeasurementPlane,
    private readonly scope: number,
  ) {}

  /** binds address:53 inside `ns`; the kernel's refusal (EADDRINUSE, EADDRNOTAVAIL) is thrown */
  async serve(ns: string, address: string, view: DnsView): Promise<void> {
    await this.plane.serve(this.scope, this.namespaces.ref(ns), address, view)
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
    await this.plane.stop(this.scope, ns, "dns")
  }

  /** the namespace is going: its servers are closed on the measurement helper's next turn */
  forget(ns: string): void {
    if (this.running.delete(ns)) this.plane.stopSoon(this.scope, ns, "dns")
  }

  async stopAll(): Promise<void> {
    this.running.clear()
    await this.plane.closeScope(this.scope)
  }
}

/** one A query from a socket inside `ns` to server:53, sent and timed by the measurement helper */
export const queryDns = (
  namespaces: NamespaceTable,
  plane: MeasurementPlane,
  ns: string,
  server: string,
  name: string,
  queryId: number,
  timeoutMs: number,
) => plane.query(namespaces.ref(ns), { server, name, queryId, timeoutMs })
