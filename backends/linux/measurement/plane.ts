import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { DnsQueryResult, DnsUpdate, DnsView, Proto } from "../../kernel-types.ts"
import type { EchoOutcome, NamespaceRef, Reply, Request, StopWhat } from "./protocol.ts"
import type { ConnectReply, Serve } from "./sockets.ts"

/** what a probe's echo got, and how long it took on the helper's clock */
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
type Unnumbered<R> = R extends { readonly id?: number } ? Omit<R, "id"> : R

/** a refusal the helper reports: carries the errno name, as the addon's own errors do */
class HelperRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * The control plane's side of the measurement helper (helper.ts): one per process, started on
 * first use and shared by every linux kernel instance in it (each its own scope). It keeps this
 * process alive only while a request waits for its reply: DNS servers alone do not.
 *
 * If the helper dies, everything waiting and everything after fails with the reason: its DNS
 * servers died with it, and starting a fresh one would hide that.
 */
export class MeasurementPlane {
  private child: ChildProcess | undefined
  private failure: Error | undefined
  private readonly waiting = new Map<number, Waiting>()
  private nextId = 1
  private nextScope = 1
  private scheduled: Promise<string> | undefined
  private announceScheduling: ((scheduling: string) => void) | undefined

  /** a scope for one kernel instance */
  openScope(): number {
    return this.nextScope++
  }

  /** the helper's process id, once it has started */
  helperPid(): number | undefined {
    return this.child?.pid
  }

  /** how the helper runs (SCHED_RR, or the fallback and why), once it has started */
  scheduling(): Promise<string> {
    this.started()
    return this.scheduled as Promise<string>
  }

  async probe(from: NamespaceRef, request: Omit<Extract<Request, { kind: "probe" }>, "id" | "kind" | "from">): Promise<EchoResult> {
    const reply = await this.ask({ kind: "probe", from, ...request })
    if (reply.kind !== "probe") throw new Error(`measurement helper: a ${reply.kind} reply to a probe`)
    return { outcome: reply.outcome, ms: reply.ms }
  }

  async query(from: NamespaceRef, request: Omit<Extract<Request, { kind: "query" }>, "id" | "kind" | "from">): Promise<QueryResult> {
    const reply = await this.ask({ kind: "query", from, ...request })
    if (reply.kind !== "query") throw new Error(`measurement helper: a ${reply.kind} reply to a query`)
    return { result: reply.result, ms: reply.ms }
  }

  async connect(from: NamespaceRef, request: Omit<Extract<Request, { kind: "connect" }>, "id" | "kind" | "from">): Promise<{ readonly result: ConnectReply; readonly ms: number }> {
    const reply = await this.ask({ kind: "connect", from, ...request })
    if (reply.kind !== "connect") throw new Error(`measurement helper: a ${reply.kind} reply to a connect`)
    return { result: reply.result, ms: reply.ms }
  }

  /** a server or proxy bound in `at`; rejects with the kernel's refusal (EADDRINUSE, EADDRNOTAVAIL …) */
  async bind(scope: number, at: NamespaceRef, proto: Proto, address: string, port: number, serve: Serve): Promise<void> {
    await this.ask({ kind: "bind", scope, at, proto, address, port, serve })
  }

  /** closes one bound socket; rejects ENOENT when there is none */
  async unbind(scope: number, ns: string, serves: Serve["kind"], proto: Proto, address: string, port: number): Promise<void> {
    await this.ask({ kind: "unbind", scope, ns, serves, proto, address, port })
  }

  /** a DNS server bound in `at`; rejects with the kernel's refusal (EADDRINUSE, EADDRNOTAVAIL …) */
  async serve(scope: number, at: NamespaceRef, address: string, view: DnsView): Promise<void> {
    await this.ask({ kind: "serve", scope, at, address, view })
  }

  update(scope: number, update: DnsUpdate): void {
    this.post({ kind: "update", scope, update })
  }

  /** closes the DNS servers or the bound sockets of `ns` (protocol.ts); settles once they are closed */
  async stop(scope: number, ns: string, what: StopWhat): Promise<void> {
    await this.ask({ kind: "stop", scope, ns, what })
  }

  /** the same without waiting (the namespace is about to go, and its servers with it) */
  stopSoon(scope: number, ns: string, what: StopWhat): void {
    this.post({ kind: "stop", scope, ns, what })
  }

  /** closes every server of the scope and forgets its resolvers */
  async closeScope(scope: number): Promise<void> {
    if (this.child === undefined && this.failure === undefined) return
    await this.ask({ kind: "close", scope })
  }

  private ask(request: Unnumbered<Request>): Promise<Reply> {
    const id = this.nextId++
    return new Promise<Reply>((resolve, reject) => {
      this.post({ ...request, id } as Request)
      this.waiting.set(id, { resolve, reject })
      if (this.waiting.size === 1) this.hold(true)
    })
  }

  private post(request: Request): void {
    if (this.failure) throw this.failure
    this.started().send(request)
  }

  private started(): ChildProcess {
    if (this.child) return this.child
    this.scheduled = new Promise((resolve) => {
      this.announceScheduling = resolve
    })
    // its own execArgv: whatever flags this process was started with (an inspector, a test
    // runner's loader) are not the helper's business; it registers the TypeScript loader itself
    const child = fork(fileURLToPath(new URL("./helper-entry.mjs", import.meta.url)), [], {
      execArgv: [],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    })
    child.on("message", (reply: Reply) => this.settle(reply))
    child.on("error", (error) => this.fail(new Error(`the measurement helper failed: ${error.message}`)))
    child.on("exit", (code, signal) => this.fail(new Error(`the measurement helper exited (${signal ?? `code ${code}`})`)))
    this.child = child
    this.hold(false)
    return child
  }

  /** whether the helper (its process and channel) keeps this process alive */
  private hold(keep: boolean): void {
    const child = this.child
    if (child === undefined) return
    const channel = child.channel as { ref(): void; unref(): void } | undefined
    if (keep) {
      child.ref()
      channel?.ref()
    } else {
      child.unref()
      channel?.unref()
    }
  }

  private settle(reply: Reply): void {
    if (reply.kind === "ready") {
      this.announceScheduling?.(reply.scheduling)
      return
    }
    const waiting = this.waiting.get(reply.id)
    if (waiting === undefined) return
    this.waiting.delete(reply.id)
    if (this.waiting.size === 0) this.hold(false)
    if (reply.kind === "failed") waiting.reject(new HelperRefusal(reply.code, reply.message))
    else waiting.resolve(reply)
  }

  private fail(error: Error): void {
    this.failure ??= error
    this.child = undefined
    this.announceScheduling?.(`not running: ${this.failure.message}`)
    for (const waiting of this.waiting.values()) waiting.reject(this.failure)
    this.waiting.clear()
  }
}

let plane: MeasurementPlane | undefined

/** the process's measurement plane */
export const measurementPlane = (): MeasurementPlane => (plane ??= new MeasurementPlane())
