/**
 * The sockets a lab change needs on each host, next to its kernel steps: the docker-proxy of
 * every published port (dockerd starts one per port, userland-proxy on) and each container's
 * servers (`listen`, answering with the container's name). Not kernel ops: they run after the
 * steps, and a refused one takes back those started before it.
 */
import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import type { KernelError } from "../backends/KernelError.ts"
import type { ListenSpec, ProxySpec, SocketRef } from "../backends/kernel-types.ts"
import { dockerProxies } from "../drivers/bridge/proxies.ts"
import type { PublishedPort } from "../drivers/Driver.ts"
import { stripPrefix } from "../model/cidr.ts"
import { hostState } from "../model/lab-store.ts"
import type { LabState } from "../model/lab-types.ts"
import type { CnmState } from "../model/index.ts"
import { containerRecord } from "../model/representation.ts"
import * as StringMap from "../model/string-map.ts"
import type { StepFailure } from "./steps.ts"

/** every port published on host `host` (its index) in this lab state, as the bridge driver writes its rules */
export const publishedOn = (lab: LabState, host: number): Array<PublishedPort> => {
  const ports: Array<PublishedPort> = []
  StringMap.forEach(lab.ports.bindings, (bindings, container) => {
    for (const binding of bindings) {
      // the kernel's sockets and rules carry TCP and UDP; an SCTP publication has neither here
      if (binding.host !== host || binding.proto === "sctp") continue
      const address = containerRecord(hostState(lab, host), container)?.endpoints.find((e) => e.network === binding.network)?.address
      if (address === undefined) continue
      const { network, hostIp, hostPort, containerPort } = binding
      ports.push({ network, hostIp, hostPort, proto: binding.proto, containerAddress: stripPrefix(address), containerPort })
    }
  })
  return ports
}

/** one socket started or stopped, with its inverse */
export interface SocketStep {
  readonly name: string
  readonly do: Effect.Effect<void, KernelError>
  readonly undo: Effect.Effect<void, KernelError>
}

/** a host as the socket work sees it */
export interface SocketHost {
  readonly index: number
  readonly ns: string
  /** the namespace a container's sandbox has in a host state (the host's own for `network: host`); undefined when it has none */
  readonly namespaceOf: (state: CnmState, container: string) => string | undefined
}

const sameProxy = (a: ProxySpec, b: ProxySpec): boolean =>
  a.address === b.address && a.port === b.port && a.proto === b.proto && a.to.address === b.to.address && a.to.port === b.to.port

const refOf = (spec: ProxySpec): SocketRef => ({ ns: spec.ns, ...(spec.address !== undefined && { address: spec.address }), port: spec.port, proto: spec.proto })

const sameListener = (a: ListenSpec, b: ListenSpec): boolean =>
  a.ns === b.ns && a.address === b.address && a.port === b.port && a.proto === b.proto && a.answer === b.answer

/**
 * A container's servers in a lab state, on every address of its sandbox; but 53/udp in a sandbox of
 * its own on each of its endpoints' addresses and on 127.0.0.1: the embedded DNS holds
 * 127.0.0.11:53 there, where Docker's resolver takes a random port that the sandbox's iptables
 * DNAT 127.0.0.11:53 to, so a server bound to every address answers everything but 127.0.0.11:53
 * (only the container's own connections to the rest of 127/8 on 53/udp differ).
 */
const listenersOf = (host: SocketHost, lab: LabState, state: CnmState, container: string): Array<ListenSpec> => {
  const ns = host.namespaceOf(state, container)
  if (ns === undefined) return []
  const addresses = (containerRecord(state, container)?.endpoints ?? []).flatMap((e) => (e.address === undefined ? [] : [stripPrefix(e.address)]))
  return (StringMap.get(lab.ports.serving, container)?.listen ?? []).flatMap((entry): Array<ListenSpec> => {
    if (entry.proto === "sctp") return []
    const base = { ns, port: entry.port, proto: entry.proto, answer: container }
    return ns !== host.ns && entry.proto === "udp" && entry.port === EMBEDDED_DNS_PORT ? [...addresses, LOOPBACK].map((address) => ({ ...base, address })) : [base]
  })
}

/** the port the embedded DNS serves on in every sandbox */
const EMBEDDED_DNS_PORT = 53
const LOOPBACK = "127.0.0.1"

/**
 * The socket steps from `before` to `after` on each host: proxies that go, listeners of
 * host-network containers that go and of addresses that go, then new proxies and listeners.
 */
export const socketSteps = (kernel: KernelShape, hosts: ReadonlyArray<SocketHost>, before: LabState, after: LabState): Array<SocketStep> => {
  if (before.ports === after.ports && before.ports.serving.size === 0) return []
  const stopping: Array<SocketStep> = []
  const starting: Array<SocketStep> = []
  const proxy = (spec: ProxySpec): SocketStep => ({ name: "ports.proxy", do: kernel.proxy(spec), undo: kernel.unproxy(refOf(spec)) })
  const unproxy = (spec: ProxySpec): SocketStep => ({ name: "ports.proxy", do: kernel.unproxy(refOf(spec)), undo: kernel.proxy(spec) })
  for (const host of hosts) {
    const was = before.ports.bindings === after.ports.bindings ? [] : dockerProxies(host.ns, publishedOn(before, host.index))
    const is = before.ports.bindings === after.ports.bindings ? [] : dockerProxies(host.ns, publishedOn(after, host.index))
    for (const spec of was) if (!is.some((other) => sameProxy(spec, other))) stopping.push(unproxy(spec))
    for (const spec of is) if (!was.some((other) => sameProxy(spec, other))) starting.push(proxy(spec))
    const wasState = hostState(before, host.index)
    const isState = hostState(after, host.index)
    for (const container of new Set([...StringMap.keys(before.ports.serving), ...StringMap.keys(after.ports.serving)])) {
      const was = listenersOf(host, before, wasState, container)
      const is = listenersOf(host, after, isState, container)
      // a sandbox of its own takes its sockets with it when it goes
      const gone = host.namespaceOf(isState, container) === undefined && host.namespaceOf(wasState, container) !== host.ns
      for (const spec of gone ? [] : was) {
        if (!is.some((other) => sameListener(spec, other))) stopping.push({ name: "sandbox.listen", do: kernel.unlisten(spec), undo: kernel.listen(spec) })
      }
      for (const spec of is) {
        if (!was.some((other) => sameListener(spec, other))) starting.push({ name: "sandbox.listen", do: kernel.listen(spec), undo: kernel.unlisten(spec) })
      }
    }
  }
  return [...stopping, ...starting]
}

/** run the socket steps in order; a refused one takes back those before it (last first) and fails with its name */
export const runSocketSteps = (steps: ReadonlyArray<SocketStep>): Effect.Effect<void, StepFailure> =>
  Effect.suspend(() => {
    const done: Array<SocketStep> = []
    return Effect.forEach(
      steps,
      (step) =>
        step.do.pipe(
          Effect.tap(() => Effect.sync(() => done.push(step))),
          Effect.mapError((error): StepFailure => ({ step: step.name, error })),
        ),
      { discard: true },
    ).pipe(
      Effect.tapError(() =>
        Effect.forEach(done.reverse(), (step) => Effect.ignore(step.undo), { discard: true }),
      ),
    )
  })
