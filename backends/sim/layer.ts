import { Effect, Layer } from "effect"
import { Kernel, type KernelShape } from "../Kernel.ts"
import { KernelError } from "../KernelError.ts"
import type { Capabilities, DnsUpdate, KernelOp } from "../kernel-types.ts"
import { checkConnect, checkListen, checkProxy, checkSocketRef } from "../socket-checks.ts"
import { applyAll } from "./apply.ts"
import { connect } from "./connect.ts"
import { parseIpv4 } from "./ipv4.ts"
import { queryDns, serveDns, stopDns, updateDns } from "./dns.ts"
import { destroyNamespace } from "./namespaces.ts"
import { probe } from "./probe.ts"
import { seededRandom } from "./random.ts"
import { bindSocket, closeSocket, FIRST_EPHEMERAL_PORT } from "./sockets.ts"
import { readNamespace } from "./read.ts"
import { noNamespace } from "./refusal.ts"
import type { SimMachine } from "./state.ts"

/**
 * The simulated kernel: an in-memory Linux network stack behind the Kernel interface. Everything
 * inside is synchronous; the Effects only wrap results (Effect.sync / Effect.fail).
 */

export interface SimKernelOptions {
  /** seeds the MAC generator, so that a run can be replayed exactly */
  readonly seed?: number
  /** what this simulated kernel supports; all but ipvs by default (with ipvs, balancing is carried out by IPVS: sim/ipvs.ts) */
  readonly capabilities?: Partial<Capabilities>
}

export interface SimKernel extends KernelShape {
  /** the fast path of `apply`: throws the KernelError instead of failing an Effect */
  readonly applySync: (ops: ReadonlyArray<KernelOp>) => void
  readonly updateDnsSync: (update: DnsUpdate) => void
}

export const allCapabilities: Capabilities = {
  veth: true,
  bridge: true,
  vxlan: true,
  macvlan: true,
  ipvlan: true,
  dummy: true,
  vlan: true,
  firewall: true,
  esp: true,
  // by default the simulator balances as this kernel does, by nftables' numgen; given ipvs, as a
  // kernel with ip_vs does (the IPVS form, fwmark services: sim/ipvs.ts)
  ipvs: false,
}

/** an operation that changes the machine or says why not, as an Effect */
const outcomeOf = (run: () => KernelError | undefined): Effect.Effect<void, KernelError> =>
  Effect.suspend(() => {
    const refused = run()
    return refused === undefined ? Effect.void : Effect.fail(refused)
  })

const DEFAULT_SEED = 0x636e6c62

const resultOf = <A>(value: A | KernelError): Effect.Effect<A, KernelError> =>
  value instanceof KernelError ? Effect.fail(value) : Effect.succeed(value)

export const makeSimKernel = (options: SimKernelOptions = {}): SimKernel => {
  const machine: SimMachine = {
    namespaces: new Map(),
    recent: [undefined, undefined],
    generation: 0,
    random: seededRandom(options.seed ?? DEFAULT_SEED),
    capabilities: { ...allCapabilities, ...options.capabilities },
    resolvers: new Map(),
    nextPort: FIRST_EPHEMERAL_PORT,
  }
  const close = (): void => {
    for (const ns of [...machine.namespaces.values()]) destroyNamespace(machine, ns)
    machine.resolvers.clear()
  }
  return {
    backend: "sim",
    capabilities: machine.capabilities,
    applySync: (ops) => {
      const refused = applyAll(machine, ops)
      if (refused !== undefined) throw refused
    },
    apply: (ops) =>
      Effect.suspend(() => {
        const refused = applyAll(machine, ops)
        return refused === undefined ? Effect.void : Effect.fail(refused)
      }),
    namespaces: () => Effect.sync(() => [...machine.namespaces.keys()]),
    read: (name) =>
      Effect.suspend(() => {
        const ns = machine.namespaces.get(name)
        return ns === undefined ? Effect.fail(noNamespace(undefined, name)) : Effect.succeed(readNamespace(ns))
      }),
    probe: (from, address, probeOptions) =>
      Effect.suspend(() => resultOf(probe(machine, from, address, probeOptions?.trace === true))),
    serveDns: (ns, address, view) =>
      Effect.suspend(() => {
        const refused = serveDns(machine, ns, address, view)
        return refused === undefined ? Effect.void : Effect.fail(refused)
      }),
    stopDns: (ns) =>
      Effect.suspend(() => {
        const refused = stopDns(machine, ns)
        return refused === undefined ? Effect.void : Effect.fail(refused)
      }),
    updateDnsSync: (update) => {
      const refused = updateDns(machine, update)
      if (refused !== undefined) throw refused
    },
    updateDns: (update) =>
      Effect.suspend(() => {
        const refused = updateDns(machine, update)
        return refused === undefined ? Effect.void : Effect.fail(refused)
      }),
    queryDns: (ns, server, name) => Effect.suspend(() => resultOf(queryDns(machine, ns, server, name))),
    listen: (spec) => outcomeOf(() => checkListen(spec) ?? bindSocket(machine, spec, { kind: "listen", answer: spec.answer })),
    unlisten: (socket) => outcomeOf(() => checkSocketRef(socket) ?? closeSocket(machine, socket, "listen")),
    proxy: (spec) =>
      outcomeOf(() => {
        const checked = checkProxy(spec)
        if (checked !== undefined) return checked
        return bindSocket(machine, spec, { kind: "proxy", to: parseIpv4(spec.to.address), toPort: spec.to.port })
      }),
    unproxy: (socket) => outcomeOf(() => checkSocketRef(socket) ?? closeSocket(machine, socket, "proxy")),
    connect: (spec) => Effect.suspend(() => resultOf(checkConnect(spec) ?? connect(machine, spec))),
    close: () => Effect.sync(close),
  }
}

/** a simulated kernel with options (a seed, missing capabilities), fresh for every build */
export const layerWith = (options: SimKernelOptions): Layer.Layer<Kernel> => Layer.sync(Kernel, () => makeSimKernel(options))

/** a fresh simulated machine per layer build */
export const layer: Layer.Layer<Kernel> = layerWith({})
