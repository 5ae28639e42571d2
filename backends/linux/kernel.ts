import { promises as fs } from "node:fs"
import { Effect } from "effect"
import { type KernelError, kernelError } from "../KernelError.ts"
import type { KernelShape } from "../Kernel.ts"
import type { KernelOp, NsState } from "../kernel-types.ts"
import { addon } from "./addon.ts"
import { applyOne, type ApplyContext } from "./apply.ts"
import { linuxAvailability } from "./availability.ts"
import { releaseOwnJournals } from "./ledger.ts"
import { capabilitiesFrom, kernelFeatures } from "./capabilities.ts"
import { DnsServers, queryDns } from "./dns.ts"
import { toKernelError } from "./errors.ts"
import { Firewall } from "./firewall.ts"
import { NamespaceTable } from "./namespaces.ts"
import { probe } from "./probe.ts"
import { makeRandom, randomBytes } from "./random.ts"
import { namesByIndex, readAddrs, readFdb, readLinks, readNeighs, readRoutes } from "./read.ts"
import { waitForSettledLinks } from "./settle.ts"
import { awaitTeardowns } from "./teardown.ts"
import { sysctlRead } from "./sysctl.ts"

export interface LinuxKernelOptions {
  /** seeds the values the backend invents (DNS query ids, ICMP payloads) */
  readonly seed?: number
  /** how long probe and queryDns wait for an answer; default 1000 ms */
  readonly timeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 1000
/** how long apply waits for the kernel to destroy deleted namespaces (and their veth peers) */
const TEARDOWN_MAX_MS = 3000
/** the kernel's linkwatch runs non-urgent events at most once a second */
const SETTLE_MAX_MS = 1500

/** runs backend code and turns whatever it throws into a KernelError */
const attempt = <A>(fn: () => Promise<A> | A): Effect.Effect<A, KernelError> =>
  Effect.tryPromise({ try: async () => fn(), catch: (cause) => toKernelError(cause) })

/**
 * The real kernel behind the Kernel interface: namespaces made in-process by the native helper,
 * rtnetlink through one socket per namespace, nftables through nft run inside the namespace,
 * probes as real ICMP echoes and DNS as real UDP, all from sockets opened inside the namespaces.
 */
export const makeLinuxKernel = async (options: LinuxKernelOptions = {}): Promise<KernelShape> => {
  const availability = linuxAvailability()
  if (!availability.ok) throw kernelError("PermissionDenied", availability.reason)
  // libuv creates its threadpool on first use, from whichever thread asks: make that happen now,
  // in our own namespace, and never inside a withNetns callback
  await fs.stat("/")
  const native = addon()
  const namespaces = new NamespaceTable(native)
  const firewall = new Firewall(native, namespaces)
  const dns = new DnsServers(native, namespaces)
  const sysctlKeys = new Map<string, Set<string>>()
  namespaces.onBeforeDelete((ns) => {
    dns.stop(ns)
    firewall.forget(ns)
  })
  const context: ApplyContext = { native, namespaces, firewall, sysctlKeys, teardowns: [] }
  const capabilities = capabilitiesFrom(await kernelFeatures(native))
  const random = makeRandom(options.seed)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  let closed = false

  // probes and DNS queries wait for link state changes made since the last of them to settle
  // (see settle.ts); concurrent ones share one wait, which starts only after an apply
  let linksChanged = true
  let settling: Promise<unknown> | undefined
  const linksSettled = (): Promise<unknown> => {
    if (!linksChanged) return settling ?? Promise.resolve()
    linksChanged = false
    settling = waitForSettledLinks(namespaces, () => namespaces.ours(), SETTLE_MAX_MS).finally(() => {
      settling = undefined
    })
    return settling
  }

  // nsDel's effects (veth peers elsewhere gone) are visible when apply returns, as every other op's are
  const teardownsDone = Effect.suspend(() =>
    context.teardowns.length === 0 ? Effect.void : Effect.promise(() => awaitTeardowns(namespaces, context.teardowns, TEARDOWN_MAX_MS)),
  )

  /**
   * The operations in order, stopping at the first refusal. Netlink requests are synchronous, so a
   * run of them costs no promise; an operation that has to wait (nft) continues the rest after it.
   */
  const applyAll = (ops: ReadonlyArray<KernelOp>): Effect.Effect<void, KernelError> =>
    Effect.suspend(() => {
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i] as KernelOp
        linksChanged = true
        let pending: Promise<void> | void
        try {
          pending = applyOne(context, op)
        } catch (cause) {
          return Effect.fail(toKernelError(cause, op))
        }
        if (pending) {
          const waited = pending
          return Effect.tryPromise({ try: () => waited, catch: (cause) => toKernelError(cause, op) }).pipe(
            Effect.andThen(applyAll(ops.slice(i + 1))),
          )
        }
      }
      return Effect.void
    })

  const readState = async (ns: string): Promise<NsState> => {
    const links = readLinks(namespaces, ns)
    const names = namesByIndex(links)
    const sysctls: Record<string, string> = {}
    for (const key of sysctlKeys.get(ns) ?? []) sysctls[key] = sysctlRead(native, namespaces, ns, key)
    return {
      ns,
      links,
      addrs: readAddrs(namespaces, ns, names),
      routes: readRoutes(namespaces, ns, names),
      neighs: readNeighs(namespaces, ns, names),
      fdb: readFdb(namespaces, ns, names),
      sysctls,
      firewall: await firewall.read(ns),
    }
  }

  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    dns.stopAll()
    for (const ns of namespaces.ours()) {
      try {
        namespaces.delete(ns)
      } catch {
        // already gone, or refused: keep closing the rest
      }
    }
    namespaces.closeAllChannels()
    releaseOwnJournals()
  }

  return {
    backend: "linux",
    capabilities,
    apply: (ops) => applyAll(ops).pipe(Effect.ensuring(teardownsDone)),
    namespaces: () => attempt(() => namespaces.ours()),
    read: (ns) => attempt(() => readState(ns)),
    probe: (from, address, probeOptions) =>
      attempt(async () => {
        await linksSettled()
        return probe(native, namespaces, from, address, randomBytes(random, 16), timeoutMs, probeOptions?.trace ?? false)
      }),
    serveDns: (ns, address, view) => attempt(() => dns.serve(ns, address, view)),
    updateDns: (update) => attempt(() => dns.update(update)),
    stopDns: (ns) =>
      attempt(() => {
        namespaces.path(ns)
        dns.stop(ns)
      }),
    queryDns: (ns, server, name) =>
      attempt(async () => {
        await linksSettled()
        return queryDns(native, namespaces, ns, server, name, Math.floor(random() * 0x10000), timeoutMs)
      }),
    close: () => Effect.promise(close),
  }
}
