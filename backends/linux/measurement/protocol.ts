import type { DnsQueryResult, DnsUpdate, DnsView, Proto } from "../../kernel-types.ts"
import type { ConnectReply, Serve } from "./sockets.ts"

/**
 * Messages between the control plane (the cnmlab process) and the measurement helper
 * (helper.ts, a process of its own). The helper makes each socket inside its namespace itself,
 * named by path and identified by inode: the control plane looked the namespace up when it sent
 * the request, so a name deleted and made again since is refused (ESTALE), never measured in the
 * wrong namespace. A scope is one linux kernel instance: its servers and resolvers are apart from
 * another instance's in the same process.
 */

/** a namespace as the control plane saw it */
export interface NamespaceRef {
  readonly ns: string
  readonly path: string
  readonly inode: number
}

export type Request =
  /**
   * One ICMP echo from a ping socket in `from`, waiting `timeoutMs` for its reply, plus
   * `inheritedMs` when the next hop was still being resolved by an earlier probe (probe.ts); with
   * `inheritedMs` an unanswered echo is sent once more, as a fresh resolution.
   */
  | {
      readonly kind: "probe"
      readonly id: number
      readonly from: NamespaceRef
      readonly address: string
      readonly token: Uint8Array
      readonly timeoutMs: number
      readonly inheritedMs: number
    }
  /** one A query from a UDP socket in `from` to server:53, waiting `timeoutMs` for the answer */
  | {
      readonly kind: "query"
      readonly id: number
      readonly from: NamespaceRef
      readonly server: string
      readonly name: string
      readonly queryId: number
      readonly timeoutMs: number
    }
  /** a DNS server bound to address:53 in `at`, answering from `view` */
  | { readonly kind: "serve"; readonly id: number; readonly scope: number; readonly at: NamespaceRef; readonly address: string; readonly view: DnsView }
  /** an update of the scope's resolvers and servers; the control plane checked it beforehand */
  | { readonly kind: "update"; readonly scope: number; readonly update: DnsUpdate }
  /** one TCP connection or UDP exchange from `from`, waiting `timeoutMs` for what comes back */
  | {
      readonly kind: "connect"
      readonly id: number
      readonly from: NamespaceRef
      readonly address: string
      readonly port: number
      readonly proto: Proto
      readonly timeoutMs: number
    }
  /** a server or docker-proxy bound to address:port in `at` (answered done, or failed with the bind's errno) */
  | {
      readonly kind: "bind"
      readonly id: number
      readonly scope: number
      readonly at: NamespaceRef
      readonly proto: Proto
      readonly address: string
      readonly port: number
      readonly serve: Serve
    }
  /** closes one bound socket (failed ENOENT when there is none) */
  | {
      readonly kind: "unbind"
      readonly id: number
      readonly scope: number
      readonly ns: string
      readonly serves: Serve["kind"]
      readonly proto: Proto
      readonly address: string
      readonly port: number
    }
  /**
   * closes the DNS servers (`dns`) or the bound sockets (`sockets`: servers, proxies) of `ns`,
   * never both: a sandbox whose DNS stops (its last user network gone) keeps its servers, as a
   * process listening on 0.0.0.0 in a container does; answered (done) when `id` is given
   */
  | { readonly kind: "stop"; readonly scope: number; readonly ns: string; readonly what: StopWhat; readonly id?: number }
  /** closes every server of the scope and forgets its resolvers; answered (done) */
  | { readonly kind: "close"; readonly scope: number; readonly id: number }

/** which of a namespace's sockets a stop closes */
export type StopWhat = "dns" | "sockets"

/** why an echo got no reply: its reply, an error the socket reported, or nothing in time */
export type EchoOutcome =
  | { readonly kind: "reply" }
  | { readonly kind: "error"; readonly code: string }
  | { readonly kind: "timeout" }

export type Reply =
  /** how the helper's scheduling was set up, sent once when it starts */
  | { readonly kind: "ready"; readonly scheduling: string }
  /** `ms`: from the answered echo's send to its reply; otherwise how long the probe waited */
  | { readonly kind: "probe"; readonly id: number; readonly outcome: EchoOutcome; readonly ms: number }
  | { readonly kind: "query"; readonly id: number; readonly result: DnsQueryResult; readonly ms: number }
  /** `ms`: from the start of the connection to its outcome */
  | { readonly kind: "connect"; readonly id: number; readonly result: ConnectReply; readonly ms: number }
  | { readonly kind: "done"; readonly id: number }
  /** a request the kernel refused (a socket that could not be made or bound): errno name and message */
  | { readonly kind: "failed"; readonly id: number; readonly code: string; readonly message: string }
