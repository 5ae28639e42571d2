import { Effect, type Layer, ManagedRuntime } from "effect"
import { expect } from "vitest"
import { Kernel, type KernelShape } from "../../backends/Kernel.ts"
import type { KernelError, KernelReason } from "../../backends/KernelError.ts"
import type {
  ConnectResult,
  ConnectSpec,
  DnsQueryResult,
  DnsUpdate,
  DnsView,
  KernelOp,
  ListenSpec,
  NsState,
  ProbeResult,
  ProxySpec,
  SocketRef,
} from "../../backends/kernel-types.ts"

/**
 * What every conformance case gets: a freshly built kernel (one layer build per case), a unique
 * namespace prefix so that cases never collide with each other or with anything else on the
 * machine, and small promise-returning wrappers around the kernel's Effects.
 */
export interface Harness {
  readonly kernel: KernelShape
  /** a namespace name unique to this case: cnm-cf-<random>-<suffix> */
  readonly ns: (suffix: string) => string
  readonly apply: (...ops: ReadonlyArray<KernelOp | ReadonlyArray<KernelOp>>) => Promise<void>
  /** applies the operations and returns the refusal; fails the case if they all went through */
  readonly refusal: (...ops: ReadonlyArray<KernelOp | ReadonlyArray<KernelOp>>) => Promise<KernelError>
  readonly expectRefused: (reason: KernelReason, ...ops: ReadonlyArray<KernelOp | ReadonlyArray<KernelOp>>) => Promise<void>
  readonly read: (ns: string) => Promise<NsState>
  readonly namespaces: () => Promise<ReadonlyArray<string>>
  readonly probe: (from: string, address: string) => Promise<ProbeResult>
  readonly reachable: (from: string, address: string) => Promise<boolean>
  readonly serveDns: (ns: string, address: string, view: DnsView) => Promise<void>
  readonly serveDnsRefusal: (ns: string, address: string, view: DnsView) => Promise<KernelError>
  readonly stopDns: (ns: string) => Promise<void>
  readonly updateDns: (update: DnsUpdate) => Promise<void>
  readonly updateDnsRefusal: (update: DnsUpdate) => Promise<KernelError>
  readonly queryDns: (ns: string, server: string, name: string) => Promise<DnsQueryResult>
  readonly listen: (spec: ListenSpec) => Promise<void>
  readonly unlisten: (socket: SocketRef) => Promise<void>
  readonly proxy: (spec: ProxySpec) => Promise<void>
  readonly unproxy: (socket: SocketRef) => Promise<void>
  readonly connect: (spec: ConnectSpec) => Promise<ConnectResult>
  /** the refusal of a socket operation; fails the case if it went through */
  readonly socketRefusal: (operation: Effect.Effect<unknown, KernelError>, what: string) => Promise<KernelError>
}

const flatten = (ops: ReadonlyArray<KernelOp | ReadonlyArray<KernelOp>>): Array<KernelOp> =>
  ops.flatMap((op): ReadonlyArray<KernelOp> => ("op" in op ? [op as KernelOp] : (op as ReadonlyArray<KernelOp>)))

const randomTag = (): string => Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, "0")

export interface HarnessHandle {
  readonly harness: Harness
  /** kernel.close(), then the layer is released */
  readonly dispose: () => Promise<void>
}

export const openHarness = async (layer: Layer.Layer<Kernel>): Promise<HarnessHandle> => {
  const runtime = ManagedRuntime.make(layer)
  const kernel = await runtime.runPromise(Kernel.useSync((service) => service))
  const run = <A>(effect: Effect.Effect<A, KernelError>): Promise<A> => runtime.runPromise(effect)
  const failureOf = async <A>(effect: Effect.Effect<A, KernelError>, what: string): Promise<KernelError> => {
    const result = await runtime.runPromise(Effect.result(effect))
    if (result._tag === "Success") throw new Error(`expected a refusal, but ${what} went through`)
    return result.failure
  }
  const prefix = `cnm-cf-${randomTag()}`
  const refusal = (...ops: ReadonlyArray<KernelOp | ReadonlyArray<KernelOp>>): Promise<KernelError> => {
    const all = flatten(ops)
    return failureOf(kernel.apply(all), all.map((op) => op.op).join(", "))
  }
  const harness: Harness = {
    kernel,
    ns: (suffix) => `${prefix}-${suffix}`,
    apply: (...ops) => run(kernel.apply(flatten(ops))),
    refusal,
    expectRefused: async (reason, ...ops) => {
      const error = await refusal(...ops)
      expect(error.reason, error.message).toBe(reason)
    },
    read: (ns) => run(kernel.read(ns)),
    namespaces: () => run(kernel.namespaces()),
    probe: (from, address) => run(kernel.probe(from, address)),
    reachable: async (from, address) => (await run(kernel.probe(from, address))).reachable,
    serveDns: (ns, address, view) => run(kernel.serveDns(ns, address, view)),
    serveDnsRefusal: (ns, address, view) => failureOf(kernel.serveDns(ns, address, view), "serveDns"),
    stopDns: (ns) => run(kernel.stopDns(ns)),
    updateDns: (update) => run(kernel.updateDns(update)),
    updateDnsRefusal: (update) => failureOf(kernel.updateDns(update), "updateDns"),
    queryDns: (ns, server, name) => run(kernel.queryDns(ns, server, name)),
    listen: (spec) => run(kernel.listen(spec)),
    unlisten: (socket) => run(kernel.unlisten(socket)),
    proxy: (spec) => run(kernel.proxy(spec)),
    unproxy: (socket) => run(kernel.unproxy(socket)),
    connect: (spec) => run(kernel.connect(spec)),
    socketRefusal: (operation, what) => failureOf(operation, what),
  }
  return {
    harness,
    dispose: async () => {
      try {
        await runtime.runPromise(kernel.close())
      } finally {
        await runtime.dispose()
      }
    },
  }
}
