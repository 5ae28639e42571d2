import type { DnsQueryResult, DnsUpdate, DnsView } from "../../kernel-types.ts"

/**
 * Messages between the control plane (the main thread) and the measurement thread (worker.ts).
 * Sockets travel as file descriptors: the main thread creates each one inside its namespace (the
 * addon enters the namespace on the calling thread), in the order of the control plane's other
 * work, and the measurement thread adopts it. A scope is one linux kernel instance: its servers
 * and resolvers are apart from another instance's in the same process.
 */

export type Request =
  /**
   * One ICMP echo on the ping socket `fd`, waiting `timeoutMs` for its reply, plus `inheritedMs`
   * when the next hop was still being resolved by an earlier probe (probe.ts); with `inheritedMs`
   * an unanswered echo is sent once more, as a fresh resolution.
   */
  | {
      readonly kind: "probe"
      readonly id: number
      readonly fd: number
      readonly address: string
      readonly token: Uint8Array
      readonly timeoutMs: number
      readonly inheritedMs: number
    }
  /** one A query on the UDP socket `fd` to server:53, waiting `timeoutMs` for the answer */
  | {
      readonly kind: "query"
      readonly id: number
      readonly fd: number
      readonly server: string
      readonly name: string
      readonly queryId: number
      readonly timeoutMs: number
    }
  /** a DNS server on the bound UDP socket `fd`, in namespace `ns`, answering from `view` */
  | { readonly kind: "serve"; readonly scope: number; readonly ns: string; readonly fd: number; readonly view: DnsView }
  /** an update of the scope's resolvers and servers; the control plane checked it beforehand */
  | { readonly kind: "update"; readonly scope: number; readonly update: DnsUpdate }
  /** closes the servers of `ns`; answered (done) when `id` is given */
  | { readonly kind: "stop"; readonly scope: number; readonly ns: string; readonly id?: number }
  /** closes every server of the scope and forgets its resolvers; answered (done) */
  | { readonly kind: "close"; readonly scope: number; readonly id: number }

/** why an echo got no reply: its reply, an error the socket reported, or nothing in time */
export type EchoOutcome =
  | { readonly kind: "reply" }
  | { readonly kind: "error"; readonly code: string }
  | { readonly kind: "timeout" }

export type Reply =
  /** `ms`: from the answered echo's send to its reply; otherwise how long the probe waited */
  | { readonly kind: "probe"; readonly id: number; readonly outcome: EchoOutcome; readonly ms: number }
  | { readonly kind: "query"; readonly id: number; readonly result: DnsQueryResult; readonly ms: number }
  | { readonly kind: "done"; readonly id: number }
