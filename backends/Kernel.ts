import { Context, type Effect } from "effect"
import type { KernelError } from "./KernelError.ts"
import type {
  Capabilities,
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
} from "./kernel-types.ts"

/**
 * The one kernel interface every driver is written against. Two layers implement it:
 * backends/sim (an in-memory Linux network stack) and backends/linux (rtnetlink + nftables inside
 * namespaces cnmlab creates). One conformance suite (test/conformance) runs on both.
 */
export interface KernelShape {
  readonly backend: "sim" | "linux"
  readonly capabilities: Capabilities
  /**
   * Run the operations in order; stop at the first refusal with the reason Linux gives. Operations
   * before the refused one stay applied: callers roll back with their own undo steps.
   */
  readonly apply: (ops: ReadonlyArray<KernelOp>) => Effect.Effect<void, KernelError>
  /**
   * `apply` without an effect, for a kernel that works synchronously (the simulator): throws the
   * KernelError. Callers on a hot path use it when present; absent on the real kernel.
   */
  readonly applySync?: (ops: ReadonlyArray<KernelOp>) => void
  /** the namespaces this kernel instance made and that still exist */
  readonly namespaces: () => Effect.Effect<ReadonlyArray<string>, KernelError>
  readonly read: (ns: string) => Effect.Effect<NsState, KernelError>
  /** one ICMP echo from namespace `from` to `address`; `trace` asks for the hop-by-hop walk */
  readonly probe: (
    from: string,
    address: string,
    options?: { readonly trace?: boolean },
  ) => Effect.Effect<ProbeResult, KernelError>
  /**
   * serve DNS on address:53 (UDP) inside namespace `ns`, answering from `view`, until stopDns or
   * the namespace goes
   */
  readonly serveDns: (ns: string, address: string, view: DnsView) => Effect.Effect<void, KernelError>
  readonly stopDns: (ns: string) => Effect.Effect<void, KernelError>
  /**
   * Changes a resolver's names, then the networks of running servers (NotFound, changing
   * nothing, when a namespace listed has no server). Every query sent after it returns is
   * answered from the new names.
   */
  readonly updateDns: (update: DnsUpdate) => Effect.Effect<void, KernelError>
  /** `updateDns` without an effect (the simulator), for the same hot path as applySync: throws the KernelError */
  readonly updateDnsSync?: (update: DnsUpdate) => void
  /** send one A query for `name` from inside `ns` to server:53 */
  readonly queryDns: (ns: string, server: string, name: string) => Effect.Effect<DnsQueryResult, KernelError>
  /**
   * a server socket in `spec.ns` answering every connection (TCP) or datagram (UDP) with
   * `spec.answer` and the source address it saw; until unlisten or the namespace goes. Refused
   * as the kernel refuses the bind: Busy (EADDRINUSE), NotFound (EADDRNOTAVAIL, no namespace)
   */
  readonly listen: (spec: ListenSpec) => Effect.Effect<void, KernelError>
  /** closes a listen socket (NotFound when there is none) */
  readonly unlisten: (socket: SocketRef) => Effect.Effect<void, KernelError>
  /** docker-proxy: bound in `spec.ns`, relaying to `spec.to` over a connection of its own */
  readonly proxy: (spec: ProxySpec) => Effect.Effect<void, KernelError>
  /** closes a proxy (NotFound when there is none); connections it relays end with it */
  readonly unproxy: (socket: SocketRef) => Effect.Effect<void, KernelError>
  /**
   * one TCP connection or UDP exchange from inside `spec.from`: who answered, the source it saw,
   * or what came back instead (ConnectOutcome). Failing only for bad input (no such namespace, an
   * invalid address or port), never for an unanswered connection.
   */
  readonly connect: (spec: ConnectSpec) => Effect.Effect<ConnectResult, KernelError>
  /** remove everything this instance made (namespaces, DNS servers); safe to call twice */
  readonly close: () => Effect.Effect<void>
}

export class Kernel extends Context.Service<Kernel, KernelShape>()("cnmlab/backends/Kernel") {}
