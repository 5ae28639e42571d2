import { Worker } from "node:worker_threads"
import type { DnsQueryResult, DnsUpdate, DnsView } from "../../kernel-types.ts"
import type { EchoOutcome, Reply, Request } from "./protocol.ts"

/** what a probe's echo got, and how long it took on the measurement thread's clock */
export interface EchoResult {
  readonly outcome: EchoOutcome
  readonly ms: number
}

export interface QueryResult {
  readonly result: DnsQueryResult
  readonly ms: number
}

type Waiting = { readonly resolve: (reply: Reply) => void; readonly reject: (error: Error) => void }

/** a request without the id the plane gives it */
type Unnumbered<R> = R extends { readonly id: number } ? Omit<R, "id"> : R

/**
 * The control plane's side of the measurement thread (worker.ts): one per process, started on
 * first use and shared by every linux kernel instance in it (each its own scope). It keeps the
 * process alive only while a request is waiting for its reply: DNS servers alone do not.
 *
 * If the thread dies, everything waiting and everything after fails with the reason: its DNS
 * servers died with it, and starting a fresh one would hide that.
 */
export class MeasurementPlane {
  private worker: Worker | undefined
  private failure: Error | undefined
  private readonly waiting = new Map<number, Waiting>()
  private nextId = 1
  private nextScope = 1

  /** throws why the thread is gone, if it is (before a socket is made for it) */
  assertAlive(): void {
    if (this.failure) throw this.failure
  }

  /** a scope for one kernel instance */
  openScope(): number {
    return this.nextScope++
  }

  probe(request: Unnumbered<Extract<Request, { kind: "probe" }>>): Promise<EchoResult> {
    return this.ask(request).then((reply) => {
      if (reply.kind !== "probe") throw new Error(`measurement thread: a ${reply.kind} reply to a probe`)
      return { outcome: reply.outcome, ms: reply.ms }
    })
  }

  query(request: Unnumbered<Extract<Request, { kind: "query" }>>): Promise<QueryResult> {
    return this.ask(request).then((reply) => {
      if (reply.kind !== "query") throw new Error(`measurement thread: a ${reply.kind} reply to a query`)
      return { result: reply.result, ms: reply.ms }
    })
  }

  serve(scope: number, ns: string, fd: number, view: DnsView): void {
    this.post({ kind: "serve", scope, ns, fd, view })
  }

  update(scope: number, update: DnsUpdate): void {
    this.post({ kind: "update", scope, update })
  }

  /** closes the servers of `ns`; settles once their sockets are closed */
  async stop(scope: number, ns: string): Promise<void> {
    await this.ask({ kind: "stop", scope, ns })
  }

  /** the same without waiting (the namespace is about to go, and its servers with it) */
  stopSoon(scope: number, ns: string): void {
    this.post({ kind: "stop", scope, ns })
  }

  /** closes every server of the scope and forgets its resolvers */
  async closeScope(scope: number): Promise<void> {
    if (this.worker === undefined && this.failure === undefined) return
    await this.ask({ kind: "close", scope })
  }

  private ask(request: Unnumbered<Request>): Promise<Reply> {
    const id = this.nextId++
    return new Promise<Reply>((resolve, reject) => {
      this.post({ ...request, id } as Request)
      this.waiting.set(id, { resolve, reject })
      if (this.waiting.size === 1) this.worker?.ref()
    })
  }

  private post(request: Request): void {
    if (this.failure) throw this.failure
    this.started().postMessage(request)
  }

  private started(): Worker {
    if (this.worker) return this.worker
    const worker = new Worker(new URL("./worker-entry.mjs", import.meta.url))
    worker.on("message", (reply: Reply) => this.settle(reply))
    worker.on("error", (error) => this.fail(new Error(`the measurement thread failed: ${error.message}`)))
    worker.on("exit", (code) => this.fail(new Error(`the measurement thread exited (code ${code})`)))
    worker.unref()
    this.worker = worker
    return worker
  }

  private settle(reply: Reply): void {
    const waiting = this.waiting.get(reply.id)
    if (waiting === undefined) return
    this.waiting.delete(reply.id)
    if (this.waiting.size === 0) this.worker?.unref()
    waiting.resolve(reply)
  }

  private fail(error: Error): void {
    this.failure ??= error
    this.worker = undefined
    for (const waiting of this.waiting.values()) waiting.reject(this.failure)
    this.waiting.clear()
  }
}

let plane: MeasurementPlane | undefined

/** the process's measurement plane */
export const measurementPlane = (): MeasurementPlane => (plane ??= new MeasurementPlane())
