import { promises as fs } from "node:fs"
import { Effect } from "effect"
import { type KernelError, kernelError } from "../KernelError.ts"
import type { KernelShape } from "../Kernel.ts"
import type { ConnectResult, DnsQueryResult, KernelOp, NsState, ProbeResult } from "../kernel-types.ts"
import { checkConnect, checkListen, checkProxy, checkSocketRef } from "../socket-checks.ts"
import { addon } from "./addon.ts"
import { applyOne, type ApplyContext } from "./apply.ts"
import { linuxAvailability } from "./availability.ts"
import { releaseOwnJournals } from "./ledger.ts"
import { capabilitiesFrom, kernelFeatures } from "./capabilities.ts"
import { DnsServers, queryDns } from "./dns.ts"
import { toKernelError } from "./errors.ts"
import { Firewall } from "./firewall.ts"
import { IpvsServices } from "./ipvs.ts"
import { measurementPlane } from "./measurement/plane.ts"
import { NamespaceTable } from "./namespaces.ts"
import { probe } from "./probe.ts"
import { makeRandom, randomBytes } from "./random.ts"
import { namesByIndex, readAddrs, readFdb, readLinks, readNeighs, readRoutes } from "./read.ts"
import { SettleWatch } from "./settle.ts"
import { SandboxSockets } from "./sockets.ts"
import { awaitTeardowns, type Teardown } from "./teardown.ts"
import { sysctlRead } from "./sysctl.ts"
import { readXfrm } from "./xfrm.ts"

/** one echo or DNS query as the measurement helper timed it */
export interface RoundTrip {
  readonly kind: "probe" | "dns"
  /** an echo reply or a DNS answer came back */
  readonly answered: boolean
  /** from the send to the answer; when unanswered, how long it waited */
  readonly ms: number
}

export interface LinuxKernelOptions {
  /** seeds the values the backend invents (DNS query ids, ICMP payloads) */
  readonly seed?: number
  /** how long probe and queryDns wait for an answer; default 1000 ms */
  readonly timeoutMs?: number
  /** how long connect waits for what comes back; default 4000 ms (see DEFAULT_CONNECT_TIMEOUT_MS) */
  readonly connectTimeoutMs?: number
  /** sees every round trip the measurement helper timed (benchmarks and the stress test) */
  readonly onRoundTrip?: (roundTrip: RoundTrip) => void
  /** how long apply waits for deleted namespaces to be destroyed; default 60 s (TEARDOWN_MAX_MS) */
  readonly teardownMaxMs?: number
  /** how long a probe waits for links to settle; default 10 s (SETTLE_MAX_MS) */
  readonly settleMaxMs?: number
}

const DEFAULT_TIMEOUT_MS = 1000
/**
 * A connection waits longer than an echo: an unanswered ARP ends it as Linux ends it, with
 * EHOSTUNREACH (unreachable) after three requests a second apart, and that must not read as a
 * timeout. A connection that gets nothing back costs this much.
 */
const DEFAULT_CONNECT_TIMEOUT_MS = 4000
/**
 * How long apply waits for the kernel to destroy deleted namespaces (and their veth peers) before
 * it fails with TimedOut: tens of ms usually, seconds while other processes destroy hundreds of
 * namespaces (the kernel destroys them in batches, one batch at a time).
 */
const TEARDOWN_MAX_MS = 60_000
/**
 * How long a probe waits for links to settle before it goes anyway and says so (unsettled): the
 * kernel's linkwatch runs non-urgent events once a second, later when rtnl is contended.
 */
const SETTLE_MAX_MS = 10_000

/** the namespaces whose links' settling an operation can start (see settle.ts) */
const linksTouchedBy = (namespaces: NamespaceTable, op: KernelOp): ReadonlyArray<string> => {
  switch (op.op) {
    case "linkAdd": {
      const link = op.link
      if (link.kind === "veth") return [op.ns, link.peer.ns ?? op.ns]
      if (link.kind === "macvlan" || link.kind === "ipvlan") return [op.ns, link.targetNs ?? op.ns]
      return [op.ns]
    }
    // up or down changes the carrier of a veth's peer, wherever it lives
    case "linkSet":
      return op.up === undefined ? [op.ns] : [op.ns, ...namespaces.joinedTo(op.ns)]
    default:
      return []
  }
}

const teardownFailure = (left: ReadonlyArray<Teardown>, waitedMs: number): KernelError => {
  const first = left[0] as Teardown
  const links = left.map((t) => `${t.observer}#${t.index}`).join(", ")
  return kernelError(
    "TimedOut",
    `the kernel had not destroyed ${[...new Set(left.map((t) => t.ns))].join(", ")} after ${waitedMs / 1000} s: the veth peers ${links} are still there`,
    { op: "nsDel", ns: first.ns },
    "ETIMEDOUT",
  )
}

/** runs backend code and turns whatever it throws into a KernelError */
const attempt = <A>(fn: () => Promise<A> | A): Effect.Effect<A, KernelError> =>
  Effect.tryPromise({ try: async () => fn(), catch: (cause) => toKernelError(cause) })

/**
 * The real kernel behind the Kernel interface: namespaces made in-process by the native helper,
 * rtnetlink through one socket per namespace, nftables through a libnftables context per namespace,
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
  const capabilities = capabilitiesFrom(await kernelFeatures(native))
  const sysctlKeys = new Map<string, Set<string>>()
  // IPVS's own sysctls read back as if set through sysctlSet, as the simulator shows them
  const ipvsSysctl = (ns: string, key: string): void => void sysctlKeys.set(ns, (sysctlKeys.get(ns) ?? new Set<string>()).add(key))
  // where the kernel has ip_vs, balancing rules are carried out by IPVS (backends/ipvs-form.ts), else by nftables' numgen
  const firewall = new Firewall(native, namespaces, capabilities.ipvs ? new IpvsServices(native, namespaces, ipvsSysctl) : undefined)
  const plane = measurementPlane()
  const scope = plane.openScope()
  const dns = new DnsServers(namespaces, plane, scope)
  const sockets = new SandboxSockets(namespaces, plane, scope)
  namespaces.onBeforeDelete((ns) => {
    dns.forget(ns)
    sockets.forget(ns)
  })
  const context: ApplyContext = { native, namespaces, firewall, sysctlKeys, teardowns: [] }
  const random = makeRandom(options.seed)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  const onRoundTrip = options.onRoundTrip
  let closed = false

  // probes and DNS queries first wait for the links changed before them to settle (settle.ts)
  const settleMaxMs = options.settleMaxMs ?? SETTLE_MAX_MS
  const teardownMaxMs = options.teardownMaxMs ?? TEARDOWN_MAX_MS
  const settle = new SettleWatch(namespaces, settleMaxMs)

  /**
   * nsDel's effects (veth peers elsewhere gone) are visible when apply returns, as every other
   * op's are; when the kernel has not got there within the bound, apply fails with TimedOut (an
   * apply refused for another reason keeps that reason, and says this too)
   */
  const withTeardowns = (applied: Effect.Effect<void, KernelError>): Effect.Effect<void, KernelError> =>
    Effect.exit(applied).pipe(
      Effect.flatMap((exit) =>
        context.teardowns.length === 0
          ? exit
          : Effect.promise(() => awaitTeardowns(namespaces, context.teardowns, teardownMaxMs)).pipe(
              Effect.flatMap((left) => {
                if (left.length === 0) return exit
                const late = teardownFailure(left, teardownMaxMs)
                if (exit._tag === "Success") return Effect.fail(late)
                return Effect.failCause(exit.cause).pipe(
                  Effect.mapError((error) => kernelError(error.reason, `${error.detail}; and ${late.detail}`, error.op, error.errno)),
                )
              }),
            ),
      ),
    )

  /**
   * The operations in order, stopping at the first refusal. Netlink requests are synchronous, so a
   * run of them costs no promise; an operation that has to wait (nft) continues the rest after it.
   */
  const applyAll = (ops: ReadonlyArray<KernelOp>): Effect.Effect<void, KernelError> =>
    Effect.suspend(() => {
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i] as KernelOp
        for (const ns of linksTouchedBy(namespaces, op)) settle.touched(ns)
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
    const xfrm = readXfrm(native, namespaces, ns)
    const sysctls: Record<string, string> = {}
    for (const key of sysctlKeys.get(ns) ?? []) sysctls[key] = sysctlRead(native, namespaces, ns, key)
    const ipvs = firewall.ipvsServices(ns)
    return {
      ns,
      links,
      addrs: readAddrs(namespaces, ns, names),
      routes: readRoutes(namespaces, ns, names),
      neighs: readNeighs(namespaces, ns, names),
      fdb: readFdb(namespaces, ns, names),
      sysctls,
      firewall: await firewall.read(ns),
      xfrmStates: xfrm.states,
      xfrmPolicies: xfrm.policies,
      ...(ipvs === undefined ? {} : { ipvs }),
    }
  }

  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await dns.stopAll().catch(() => {
      // the measurement helper is gone, and its servers with it
    })
    for (const ns of namespaces.ours()) {
      try {
        namespaces.delete(ns)
      } catch {
        // already gone, or refused: keep closing the rest
      }
    }
    firewall.close()
    namespaces.closeAllChannels()
    releaseOwnJournals()
  }

  return {
    backend: "linux",
    capabilities,
    apply: (ops) => withTeardowns(applyAll(ops)),
    namespaces: () => attempt(() => namespaces.ours()),
    read: (ns) => attempt(() => readState(ns)),
    probe: (from, address, probeOptions) =>
      attempt(async (): Promise<ProbeResult> => {
        const unsettled = await settle.settled()
        const token = randomBytes(random, 16)
        const result = await probe(namespaces, plane, from, address, token, timeoutMs, probeOptions?.trace ?? false, (echo) =>
          onRoundTrip?.({ kind: "probe", answered: echo.outcome.kind === "reply", ms: echo.ms }),
        )
        return unsettled.length === 0 ? result : withUnsettled(result, unsettled, settleMaxMs)
      }),
    serveDns: (ns, address, view) => attempt(() => dns.serve(ns, address, view)),
    updateDns: (update) => attempt(() => dns.update(update)),
    stopDns: (ns) => attempt(() => dns.stop(ns)),
    queryDns: (ns, server, name) =>
      attempt(async (): Promise<DnsQueryResult> => {
        const unsettled = await settle.settled()
        const { result, ms } = await queryDns(namespaces, plane, ns, server, name, Math.floor(random() * 0x10000), timeoutMs)
        onRoundTrip?.({ kind: "dns", answered: result.rcode !== "TIMEOUT", ms })
        return unsettled.length === 0 ? result : { ...result, unsettled }
      }),
    listen: (spec) => checked(checkListen(spec), () => sockets.bind(spec, { kind: "listen", answer: spec.answer })),
    unlisten: (socket) => checked(checkSocketRef(socket), () => sockets.unbind(socket, "listen")),
    proxy: (spec) => checked(checkProxy(spec), () => sockets.bind(spec, { kind: "proxy", to: { address: spec.to.address, port: spec.to.port } })),
    unproxy: (socket) => checked(checkSocketRef(socket), () => sockets.unbind(socket, "proxy")),
    connect: (spec) =>
      checked(checkConnect(spec), async (): Promise<ConnectResult> => {
        const unsettled = await settle.settled()
        const result = await sockets.connect(spec, connectTimeoutMs)
        return unsettled.length === 0 ? result : { ...result, unsettled }
      }),
    close: () => Effect.promise(close),
  }
}

/** input the socket checks refused fails at once; otherwise the backend code runs */
const checked = <A>(refused: KernelError | undefined, fn: () => Promise<A> | A): Effect.Effect<A, KernelError> =>
  refused === undefined ? attempt(fn) : Effect.fail(refused)

/** a probe sent before the wait for settling links gave up says so, in its detail too */
const withUnsettled = (result: ProbeResult, unsettled: ReadonlyArray<string>, waitedMs: number): ProbeResult => {
  const said = `sent while ${unsettled.join(", ")} had not settled (the wait gave up after ${waitedMs / 1000} s)`
  return { ...result, unsettled, detail: result.detail === undefined ? said : `${result.detail}; ${said}` }
}
