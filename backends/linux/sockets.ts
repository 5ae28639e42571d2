import { boundAddress } from "../socket-checks.ts"
import type { ConnectResult, ConnectSpec, SocketRef } from "../kernel-types.ts"
import type { MeasurementPlane } from "./measurement/plane.ts"
import type { Serve } from "./measurement/sockets.ts"
import type { NamespaceTable } from "./namespaces.ts"

/**
 * The control plane's side of the sandboxes' sockets: the measurement helper binds servers and
 * docker-proxies inside their namespaces and makes the connections (measurement/sockets.ts).
 * This side remembers which namespaces hold sockets, so that a namespace about to be deleted has
 * them closed too.
 */
export class SandboxSockets {
  private readonly holding = new Map<string, number>()

  constructor(
    private readonly namespaces: NamespaceTable,
    private readonly plane: MeasurementPlane,
    private readonly scope: number,
  ) {}

  async bind(socket: SocketRef, serve: Serve): Promise<void> {
    await this.plane.bind(this.scope, this.namespaces.ref(socket.ns), socket.proto, boundAddress(socket), socket.port, serve)
    this.holding.set(socket.ns, (this.holding.get(socket.ns) ?? 0) + 1)
  }

  async unbind(socket: SocketRef, kind: Serve["kind"]): Promise<void> {
    this.namespaces.path(socket.ns)
    await this.plane.unbind(this.scope, socket.ns, kind, socket.proto, boundAddress(socket), socket.port)
    const left = (this.holding.get(socket.ns) ?? 1) - 1
    if (left > 0) this.holding.set(socket.ns, left)
    else this.holding.delete(socket.ns)
  }

  /** the namespace is going: its sockets are closed on the measurement helper's next turn */
  forget(ns: string): void {
    if (this.holding.delete(ns)) this.plane.stopSoon(this.scope, ns, "sockets")
  }

  async connect(spec: ConnectSpec, timeoutMs: number): Promise<ConnectResult> {
    const { result } = await this.plane.connect(this.namespaces.ref(spec.from), {
      address: spec.address,
      port: spec.port,
      proto: spec.proto,
      timeoutMs,
    })
    return result
  }
}
