import { createRequire } from "node:module"

/**
 * The native helper (native/netns.c, built into build/cnmlab_netns.node by `npm install`).
 * Every function that takes a namespace path enters it on the calling thread, creates its socket
 * synchronously and comes back before returning; the socket stays in that namespace for life.
 * Failures throw an Error carrying `errno`, `code` and `syscall`.
 */
export interface NetnsAddon {
  /**
   * creates /run/netns/<name> holding a new network namespace (as `ip netns add`) and writes
   * `settings` ([file, value] under /proc/sys/; a file that does not exist is skipped) from inside
   * it before returning; returns the path
   */
  readonly createNetns: (name: string, settings?: ReadonlyArray<readonly [string, string]>) => string
  /** unmounts and unlinks /run/netns/<name> (as `ip netns del`); the kernel frees it once unused */
  readonly deleteNetns: (name: string) => void
  /** runs a synchronous function with the calling thread inside the namespace at `path` */
  readonly withNetns: <T>(path: string, fn: () => T) => T
  /** a netlink socket (rtnetlink unless `protocol` says otherwise) opened inside the namespace at `path` (null: the current one) */
  readonly openNetlink: (path: string | null, receiveBufferBytes: number, timeoutMs: number, protocol?: number) => number
  /** sends netlink messages numbered firstSeq..lastSeq and returns every reply up to lastSeq's end */
  readonly netlinkTransact: (fd: number, request: Uint8Array, firstSeq: number, lastSeq: number) => Buffer
  /**
   * an AF_INET datagram socket (UDP, or an ICMP "ping" socket), or a TCP socket with SO_REUSEADDR
   * (to listen on), created and bound inside `path`;
   * with `expectedInode`, only in that namespace (ESTALE when the name now stands for another)
   */
  readonly openInetSocket: (
    path: string | null,
    kind: "udp" | "icmp" | "tcp",
    bindAddress: string | null,
    bindPort: number,
    freebind: boolean,
    expectedInode?: number,
    /** IP_RECVERR: report every ICMP error about the flow (net and host unreachable too) */
    recverr?: boolean,
  ) => number
  readonly closeFd: (fd: number) => void
  /**
   * a TCP socket made inside `path` whose non-blocking connect to address:port has started;
   * throws what connect() refuses at once (ENETUNREACH), ESTALE as openInetSocket does
   */
  readonly connectTcp: (path: string, address: string, port: number, expectedInode?: number) => number
  /** the thread (by id; the calling thread without one) runs under SCHED_RR at `priority`; its children do not inherit it */
  readonly setRealtime: (priority: number, thread?: number) => void
  /** null when libnftables.so.1 loads, otherwise why not */
  readonly nftAvailable: () => string | null
  /**
   * a libnftables context made inside the namespace at `path` (native/nftables.c); throws ENOENT
   * when libnftables.so.1 is not installed
   */
  readonly nftOpen: (path: string) => NftContext
  /** one run of nft input (JSON or nft syntax) in one transaction, with the thread inside `path` */
  readonly nftRun: (context: NftContext, path: string, commands: string) => NftRunResult
  /** frees the context and its netlink socket (which would keep a deleted namespace alive) */
  readonly nftClose: (context: NftContext) => void
}

/** an open libnftables context: opaque */
export type NftContext = { readonly __nftContext: unique symbol }

/** what `nft -j` would have printed: standard output and standard error */
export interface NftRunResult {
  readonly ok: boolean
  readonly output: string
  readonly error: string
}

export type AddonLoad = { readonly ok: true; readonly addon: NetnsAddon } | { readonly ok: false; readonly reason: string }

let loaded: AddonLoad | undefined

/** loads the addon once; a missing build is reported, not thrown */
export const loadAddon = (): AddonLoad => {
  if (loaded) return loaded
  if (process.platform !== "linux") {
    loaded = { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
    return loaded
  }
  try {
    const require = createRequire(import.meta.url)
    loaded = { ok: true, addon: require("../../build/cnmlab_netns.node") as NetnsAddon }
  } catch (error) {
    loaded = {
      ok: false,
      reason: `the native helper build/cnmlab_netns.node did not load (run npm install to build it): ${(error as Error).message}`,
    }
  }
  return loaded
}

/** the addon, or an exception saying why it is not there */
export const addon = (): NetnsAddon => {
  const load = loadAddon()
  if (!load.ok) throw new Error(load.reason)
  return load.addon
}
