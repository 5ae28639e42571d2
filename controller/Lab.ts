import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import type { ConnectResult, DnsQueryResult, ProbeResult, Proto } from "../backends/kernel-types.ts"
import type { Driver, Step } from "../drivers/Driver.ts"
import { stripPrefix } from "../model/cidr.ts"
import { type CnmError, cnmError } from "../model/errors.ts"
import * as model from "../model/index.ts"
import type { HostRequest, LabContainerRequest, LabHost, LabNetworkRequest, LabOutcome, LabState } from "../model/lab-types.ts"
import * as IntTrie from "../model/int-trie.ts"
import * as StringMap from "../model/string-map.ts"
import type { AttachRequest, Container, DriverName, Endpoint, Network } from "../model/types.ts"
import { Controller, type HostPlan } from "./Controller.ts"
import { changeDns } from "./dns-plan.ts"
import { type GlobalStore, MemoryStore } from "./global-store.ts"
import { rotateKeys, type SwarmKeys, swarmKeys } from "./keys.ts"
import { hostUplinkOps, OUTSIDE, outsideOps, underlayOps } from "./lab-underlay.ts"
import { transitionWork } from "./lab-transition.ts"
import type { SocketHost } from "./sockets.ts"
import { tasksTouched, withoutMovedTasks } from "./services.ts"
import { PeerRelay, type PeerRecord, type PeerWork, inverseOf, peerChanges, secureVteps } from "./peers.ts"
import { runSteps, type StepFailure } from "./steps.ts"
import { execute, isRefusal, kernelFailure, type Prepared } from "./transaction.ts"

export { OUTSIDE } from "./lab-underlay.ts"

export interface LabOptions {
  /** Docker hosts, in order (a name, or a name and an underlay address); the first is the default for containers */
  readonly hosts: ReadonlyArray<string | HostRequest>
  /** a short tag in every namespace name, so concurrent runs never collide and `clean` finds them */
  readonly runId: string
  /** the underlay's subnet, default 192.168.99.0/24; host N gets its Nth address unless given one */
  readonly underlay?: string
  /** the hosts form a swarm (ingress, docker_gwbridge, overlay networks) */
  readonly swarm?: boolean
  readonly drivers?: ReadonlyMap<DriverName, Driver>
  /** the global-scope store; default one in this process's memory */
  readonly store?: GlobalStore<PeerRecord>
  /** the seed of the swarm's data-path encryption keys (default: the run id), so a run can be repeated */
  readonly keySeed?: string
  /** a machine beyond the hosts (address with prefix, e.g. 203.0.113.1/24), routed to from every host's default route */
  readonly outside?: string
}

/** what a lab operation touched: the networks, and the containers on each host, whose kernel work may have changed */
interface Touched {
  readonly networks: ReadonlyArray<string>
  readonly containers: (host: number, after: LabState) => ReadonlyArray<string>
}

const noNames: ReadonlyArray<string> = []

/**
 * Several Docker hosts on one underlay, as one model LabState (model/lab*.ts) decides them: the
 * lab's operation decides for every host at once, each host's controller plans what that means
 * in its kernel, the global-scope store carries the endpoints of swarm networks to the other
 * hosts (peer events), and all of it runs as one transaction: a refusal anywhere changes
 * nothing on any host. Container names are unique across the lab.
 */
export class Lab {
  private current: LabState
  private readonly relays: ReadonlyArray<PeerRelay>

  private constructor(
    readonly kernel: KernelShape,
    readonly controllers: ReadonlyArray<Controller>,
    readonly underlayNs: string,
    readonly store: GlobalStore<PeerRecord>,
    state: LabState,
    private readonly keyring: { current: SwarmKeys },
    private readonly keySeed: string,
    /** the outside machine's namespace and address, when the lab has one */
    readonly outsideNs?: string,
    private readonly outside?: string,
  ) {
    this.current = state
    this.relays = controllers.map((controller) => new PeerRelay(controller, store))
  }

  static make(kernel: KernelShape, options: LabOptions): Effect.Effect<Lab, CnmError> {
    const prefix = `cnm-${options.runId}`
    const underlayNs = `${prefix}-underlay`
    const hosts = options.hosts.map((host) => (typeof host === "string" ? { name: host } : host))
    // swarm's key manager: one set of keys for every host
    const keyring = { current: swarmKeys(options.keySeed ?? options.runId) }
    const request = { hosts, ...(options.underlay === undefined ? {} : { underlay: options.underlay }) }
    return Effect.gen(function* () {
      const base = model.createLab(request)
      if (!base.ok) return yield* Effect.fail(base.error)
      const target = options.swarm === true ? model.createLab({ ...request, swarm: true }) : base
      if (!target.ok) return yield* Effect.fail(target.error)
      yield* kernel
        .apply(underlayOps(underlayNs))
        .pipe(Effect.mapError((e) => cnmError("KernelError", `underlay: ${e.message}`)))
      const controllers: Controller[] = []
      for (const [index, host] of base.value.hosts.entries()) {
        const hostNs = `${prefix}-${host.name}`
        const controller = yield* Controller.make(
          kernel,
          {
            host: host.name,
            hostNs,
            sandboxPrefix: `${prefix}-c-`,
            systemPrefix: `${hostNs}-sb-`,
            ...(options.drivers === undefined ? {} : { drivers: options.drivers }),
            swarmKeys: () => keyring.current,
          },
          base.value,
        )
        yield* kernel
          .apply(hostUplinkOps(underlayNs, index, hostNs, host))
          .pipe(Effect.mapError((e) => cnmError("KernelError", `underlay of ${host.name}: ${e.message}`)))
        controllers.push(controller)
      }
      const outsideNs = options.outside === undefined ? undefined : `${prefix}-outside`
      if (options.outside !== undefined && outsideNs !== undefined) {
        yield* kernel
          .apply(outsideOps(outsideNs, underlayNs, options.outside, base.value.hosts, controllers.map((c) => c.hostNs)))
          .pipe(Effect.mapError((e) => cnmError("KernelError", `outside: ${e.message}`)))
      }
      const lab = new Lab(kernel, controllers, underlayNs, options.store ?? new MemoryStore<PeerRecord>(), base.value, keyring, options.keySeed ?? options.runId, outsideNs, options.outside)
      if (target.value !== base.value) {
        // `docker swarm init` and `join`: ingress and docker_gwbridge on every host, each host's ingress sandbox
        yield* lab.transition(
          target.value,
          { networks: [model.ingressNetwork, model.gatewayBridgeNetwork], containers: (host, after) => lab.systemSandboxesOn(host, after) },
          () => undefined,
        )
      }
      return lab
    })
  }

  /** the lab as the model holds it: for the report's queries and the predictions */
  get state(): LabState {
    return this.current
  }

  get hosts(): ReadonlyArray<string> {
    return this.controllers.map((c) => c.host)
  }

  /** each host's name and underlay address */
  hostAddresses(): ReadonlyArray<LabHost> {
    return this.current.hosts
  }

  controllerOf(container: string): Controller | undefined {
    const index = StringMap.get(this.current.placement, container)
    return index === undefined ? undefined : this.controllers[index]
  }

  hostOf(container: string): string | undefined {
    return model.hostOf(this.current, container)
  }

  /** networks as the first host holds them (for a lab whose hosts hold the same ones) */
  networks(): ReadonlyArray<Network> {
    return (this.controllers[0] as Controller).networks()
  }

  /** every network as the report lists it: a local one once per host it is on, with the host; a swarm one once */
  networkRows(): ReadonlyArray<model.LabNetworkRow> {
    return model.labNetworks(this.current)
  }

  /** user containers in creation order */
  containers(): ReadonlyArray<string> {
    return IntTrie.values(this.current.containerOrder)
  }

  /** every listed endpoint (no gateway legs, no load balancers), with its host: container creation order, then attach order */
  endpoints(): ReadonlyArray<model.LabEndpoint> {
    if (this.listed?.[0] !== this.current) this.listed = [this.current, model.labEndpoints(this.current)]
    return this.listed[1]
  }

  /** what endpoints() listed, for the state it listed */
  private listed: readonly [LabState, ReadonlyArray<model.LabEndpoint>] | undefined

  /** the peers a host has programmed for a swarm network, as its peer events told it */
  peersOf(host: string, network: string): ReadonlyArray<PeerRecord> {
    const index = this.hosts.indexOf(host)
    return index < 0 ? [] : (this.relays[index] as PeerRelay).peersOf(network)
  }

  /** the swarm's data-path encryption keys, as every host has them */
  swarmKeys(): SwarmKeys {
    return this.keyring.current
  }

  /**
   * Swarm's key rotation: the oldest key goes, a new one comes, and the primary (the one that
   * seals outbound traffic) moves on. Every pair of hosts talking IPsec gets the new key's
   * inbound states, its outbound state and policy for the new primary, and loses the oldest
   * key's states, all in one transaction (on a refusal the old keys stay, on every host).
   */
  rotateKeys(): Effect.Effect<SwarmKeys, CnmError> {
    return Effect.suspend(() => {
      const old = this.keyring.current
      const next = rotateKeys(old, this.keySeed)
      const lab = this.current
      const stepsWith = (keys: SwarmKeys, event: "secureVtepAdd" | "secureVtepDelete"): Step[] => {
        this.keyring.current = keys
        return this.controllers.flatMap((controller) => {
          const context = controller.context(lab, lab, model.hostStateOf(lab, controller.host) as model.CnmState)
          return [...secureVteps(lab, controller.host)].flatMap(([vtep, driver]) => controller.driver(driver)?.[event]?.(vtep, context) ?? [])
        })
      }
      const steps = [...stepsWith(old, "secureVtepDelete"), ...stepsWith(next, "secureVtepAdd")]
      this.keyring.current = old
      return execute(this.kernel, () => ({
        steps,
        commit: () => {
          this.keyring.current = next
          return next
        },
      }))
    })
  }

  /**
   * The swarm networks whose data path this kernel cannot build as Docker does: an encrypted
   * overlay needs IPsec ESP between hosts. Docker attaches such a network on a kernel without ESP
   * and cross-host traffic is silently lost; cnmlab's report can say why instead.
   */
  dataPathGaps(): ReadonlyArray<{ readonly network: string; readonly capability: "esp"; readonly message: string }> {
    const swarm = this.current.swarm
    if (swarm === undefined || this.kernel.capabilities.esp) return []
    return StringMap.values(swarm.networks)
      .filter((entry) => entry.overlay.encrypted)
      .map((entry) => ({
        network: entry.network.name,
        capability: "esp" as const,
        message: `network ${entry.network.name} is encrypted: its traffic between hosts needs IPsec ESP states (rfc4106(gcm(aes)), transport mode), which this kernel refuses (capability esp off; on Linux: CONFIG_INET_ESP and CONFIG_CRYPTO_GCM), so Docker's unencrypted VXLAN is dropped by the receiving host`,
      }))
  }

  /** the namespaces of Docker's own sandboxes on a host (ingress, load balancers), by sandbox name */
  systemNamespaces(host: string): ReadonlyArray<readonly [string, string]> {
    const controller = this.controllers.find((c) => c.host === host)
    return controller === undefined ? [] : controller.ownSandboxes().filter(([name]) => model.isSystemSandbox(name))
  }

  /** `docker network create`: an overlay network across the swarm, a local one on each of its hosts (default all) */
  createNetwork(request: LabNetworkRequest): Effect.Effect<Network, CnmError> {
    return this.decide(
      (lab) => model.createLabNetwork(lab, request),
      () => ({ networks: [request.name], containers: () => noNames }),
      (rows) => (rows[0] as model.LabNetworkRow).network,
    )
  }

  /** `docker network rm`: with `host`, a local network on that host; without, the network wherever it is */
  removeNetwork(name: string, host?: string): Effect.Effect<Network, CnmError> {
    return this.decide(
      (lab) => model.removeLabNetwork(lab, name, host),
      () => ({ networks: [name], containers: () => noNames }),
      (rows) => (rows[0] as model.LabNetworkRow).network,
    )
  }

  createContainer(request: LabContainerRequest): Effect.Effect<Container, CnmError> {
    return this.decide(
      (lab) => model.createLabContainer(lab, request),
      (made) => this.touching([made.host], [request.name]),
      (made) => made.container,
    )
  }

  /**
   * Several containers made together, as a scenario's setup makes them. The model decides them
   * one after the other; the kernel work then goes step by step across all of them (every sandbox
   * namespace, then every veth, then every address …), which the real kernel does faster than
   * container after container (measured: 1.1–1.2 against 1.3–1.6 ms per container, bench/linux.ts).
   * All or nothing across hosts.
   */
  createContainers(requests: ReadonlyArray<LabContainerRequest>): Effect.Effect<ReadonlyArray<Container>, CnmError> {
    return Effect.suspend(() => {
      let lab = this.current
      const made: Array<model.LabContainer> = []
      for (const request of requests) {
        const outcome = model.createLabContainer(lab, request)
        if (!outcome.ok) return Effect.fail(outcome.error)
        made.push(outcome.value)
        lab = outcome.lab
      }
      const touched = this.touching(
        made.map((m) => m.host),
        made.map((m) => m.container.name),
      )
      return this.transition(lab, touched, () => made.map((m) => m.container))
    })
  }

  removeContainer(name: string): Effect.Effect<Container, CnmError> {
    return this.removeContainers([name]).pipe(Effect.map((removed) => removed[0] as Container))
  }

  /**
   * Remove several containers with one round of kernel work: their sandbox namespaces go in a
   * single apply, so the kernel destroys them together and the wait for their veth peers to go
   * (20-60 ms per namespace on Linux) is paid once. Unknown or repeated names are refused before
   * anything is removed. If the kernel refuses midway, the containers whose namespaces are gone
   * are removed and the others kept, so the model and the kernel still agree.
   */
  removeContainers(names: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Container>, CnmError> {
    return Effect.suspend(() => {
      const before = this.current
      let lab = before
      const removed: Array<model.LabContainer> = []
      for (const name of names) {
        const outcome = model.removeLabContainer(lab, name)
        if (!outcome.ok) return Effect.fail(outcome.error)
        removed.push(outcome.value)
        lab = outcome.lab
      }
      const touched = this.touching(
        removed.map((r) => r.host),
        removed.map((r) => r.container.name),
      )
      return this.transition(lab, touched, () => removed.map((r) => r.container), (failure) =>
        this.keepOnlyTheGone(before, removed, failure),
      )
    })
  }

  connect(container: string, attach: AttachRequest): Effect.Effect<Endpoint, CnmError> {
    return this.decide(
      (lab) => model.connectLab(lab, container, attach),
      () => this.touching([this.hostOf(container) as string], [container]),
      (endpoint) => endpoint,
    )
  }

  disconnect(container: string, network: string): Effect.Effect<Endpoint, CnmError> {
    return this.decide(
      (lab) => model.disconnectLab(lab, container, network),
      () => this.touching([this.hostOf(container) as string], [container]),
      (endpoint) => endpoint,
    )
  }

  /** `docker service create`: the tasks on their placed hosts, the service's names and load balancing on every host */
  createService(request: model.ServiceRequest): Effect.Effect<model.ServiceRecord, CnmError> {
    return this.changeService((lab) => model.createLabService(lab, request))
  }

  /** `docker service rm` */
  removeService(name: string): Effect.Effect<model.ServiceRecord, CnmError> {
    return this.changeService((lab) => model.removeLabService(lab, name))
  }

  /** `docker service scale` to the placement's replicas */
  scaleService(name: string, placement: ReadonlyArray<string>): Effect.Effect<model.ServiceRecord, CnmError> {
    return this.changeService((lab) => model.scaleLabService(lab, name, placement))
  }

  /**
   * One service change as the model decided it. A task that moves to another host goes first, in
   * a transition of its own (its sandbox's name is taken until then); if the rest is refused, the
   * moved tasks come back where they were (best effort, as every recovery).
   */
  private changeService(operation: (lab: LabState) => LabOutcome<model.ServiceRecord>): Effect.Effect<model.ServiceRecord, CnmError> {
    return Effect.suspend(() => {
      const start = this.current
      const outcome = operation(start)
      if (!outcome.ok) {
        if (outcome.lab !== undefined) this.keep(outcome.lab)
        return Effect.fail(outcome.error)
      }
      const to = (from: LabState, target: LabState): Touched => {
        const tasks = tasksTouched(from, target)
        return this.touching(
          tasks.map((task) => task.host),
          tasks.map((task) => task.name),
        )
      }
      const interim = withoutMovedTasks(start, outcome.lab)
      if (interim === undefined) return this.transition(outcome.lab, to(start, outcome.lab), () => outcome.value)
      return this.transition(interim, to(start, interim), () => undefined).pipe(
        Effect.andThen(Effect.suspend(() => this.transition(outcome.lab, to(interim, outcome.lab), () => outcome.value))),
        Effect.tapError(() => (this.current === interim ? Effect.ignore(this.transition(start, to(interim, start), () => undefined)) : Effect.void)),
      )
    })
  }

  probe(from: string, address: string, trace = false): Effect.Effect<ProbeResult, CnmError> {
    return this.on(from, (c) => c.probe(from, address, trace)).pipe(Effect.map((result) => this.withGap(from, address, result)))
  }

  /**
   * A probe that failed towards an endpoint of an encrypted network on another host, on a kernel
   * without ESP: the probe says why (the kernel only says nothing came back), as Docker does not.
   */
  private withGap(from: string, address: string, result: ProbeResult): ProbeResult {
    if (result.reachable || this.kernel.capabilities.esp || this.current.swarm === undefined) return result
    const fromHost = this.hostOf(from)
    const target = this.endpoints().find((e) => e.host !== fromHost && e.address !== undefined && model.stripPrefix(e.address) === address)
    const gap = target === undefined ? undefined : this.dataPathGaps().find((g) => g.network === target.network)
    if (gap === undefined) return result
    return { ...result, detail: result.detail === undefined ? gap.message : `${gap.message}; ${result.detail}` }
  }

  /** a real probe from the container to the host's underlay address (its eth0) */
  probeHost(from: string, host: string, trace = false): Effect.Effect<ProbeResult, CnmError> {
    return Effect.suspend(() => {
      const found = this.current.hosts.find((h) => h.name === host)
      if (found === undefined) return Effect.fail(cnmError("InvalidName", `no such host: ${host}`))
      return this.probe(from, found.address, trace)
    })
  }

  resolve(from: string, name: string): Effect.Effect<DnsQueryResult, CnmError> {
    return this.on(from, (c) => c.resolve(from, name))
  }

  /**
   * One connection from a container's sandbox, a host's namespace or the outside machine, through
   * the kernel (real sockets on linux). The outside machine's server for this port and protocol
   * is started on first use.
   */
  connectFrom(from: string, address: string, port: number, proto: Proto): Effect.Effect<ConnectResult, CnmError> {
    return Effect.suspend(() => {
      const ns =
        from === OUTSIDE
          ? this.outsideNs
          : (this.controllers.find((c) => c.host === from)?.hostNs ?? this.controllerOf(from)?.sandboxOf(from))
      if (ns === undefined) return Effect.fail(cnmError(from === OUTSIDE ? "InvalidName" : "ContainerNotFound", `No such container: ${from}`))
      return this.kernel.connect({ from: ns, address, port, proto }).pipe(Effect.mapError((e) => cnmError("KernelError", `connect from ${from}: ${e.message}`)))
    })
  }

  /** the outside machine's server on this port and protocol (answering `outside`), started once */
  listenOutside(port: number, proto: Proto): Effect.Effect<void, CnmError> {
    return Effect.suspend(() => {
      const key = `${port}/${proto}`
      if (this.outsideNs === undefined || this.outsideListening.has(key)) return Effect.void
      this.outsideListening.add(key)
      return this.kernel
        .listen({ ns: this.outsideNs, port, proto, answer: OUTSIDE })
        .pipe(Effect.mapError((e) => cnmError("KernelError", `outside listen ${key}: ${e.message}`)))
    })
  }

  private readonly outsideListening = new Set<string>()

  /** the outside machine's address (plain), when the lab has one */
  get outsideAddress(): string | undefined {
    return this.outside === undefined ? undefined : stripPrefix(this.outside)
  }

  close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      for (const relay of this.relays) relay.close()
      return this.kernel.close()
    })
  }

  // -------------------------------------------------------------------------------------------

  /** route a query to the container's host (Docker looks the container up first) */
  private on<A>(container: string, operation: (controller: Controller) => Effect.Effect<A, CnmError>): Effect.Effect<A, CnmError> {
    // looked up when the effect runs, not when it is built: a composed create-then-connect must work
    return Effect.suspend(() => {
      const controller = this.controllerOf(container)
      return controller ? operation(controller) : Effect.fail(cnmError("ContainerNotFound", `No such container: ${container}`))
    })
  }

  /**
   * One lab operation: the model decides on the lab as it is when the effect runs; a refusal
   * changes nothing but Docker's traces (cursors the attempt moved, which the kernel does not hold).
   */
  private decide<V, A>(
    operation: (lab: LabState) => LabOutcome<V>,
    touched: (value: V) => Touched,
    result: (value: V) => A,
  ): Effect.Effect<A, CnmError> {
    return Effect.suspend(() => {
      const outcome = operation(this.current)
      if (!outcome.ok) {
        if (outcome.lab !== undefined) this.keep(outcome.lab)
        return Effect.fail(outcome.error)
      }
      const value = outcome.value
      return this.transition(outcome.lab, touched(value), () => result(value))
    })
  }

  private keep(lab: LabState): void {
    this.current = lab
    for (const controller of this.controllers) controller.keep(lab)
  }

  /** the containers given on their hosts, with Docker's own sandboxes there (a join or leave can make or take them) */
  private touching(hosts: ReadonlyArray<string>, names: ReadonlyArray<string>): Touched {
    const byHost = new Map<number, Array<string>>()
    const hostNames = this.hosts
    hosts.forEach((host, i) => {
      const index = hostNames.indexOf(host)
      const list = byHost.get(index) ?? []
      list.push(names[i] as string)
      byHost.set(index, list)
    })
    const swarm = this.current.swarm !== undefined
    return {
      networks: noNames,
      containers: (host, after) => {
        const own = byHost.get(host) ?? noNames
        return swarm ? [...own, ...this.systemSandboxesOn(host, after)] : own
      },
    }
  }

  /** Docker's own sandboxes on a host, before the change or after it */
  private systemSandboxesOn(host: number, after: LabState): ReadonlyArray<string> {
    const name = (this.current.hosts[host] as LabHost).name
    const names = new Set<string>()
    for (const lab of [this.current, after]) for (const sandbox of model.systemSandboxes(lab, name)) names.add(sandbox.name)
    return [...names]
  }

  /**
   * Carry the lab from its current state to `after` on every host: each host's controller plans
   * its part, the peer records go to the global-scope store (whose watchers turn them into the
   * other hosts' peer steps), and everything runs as one transaction; on a refusal the kernel
   * work is rolled back and the store restored, and nothing is kept.
   */
  private transition<A>(
    after: LabState,
    touched: Touched,
    result: () => A,
    recover?: (failure: StepFailure) => Effect.Effect<never, CnmError>,
  ): Effect.Effect<A, CnmError> {
    const before = this.current
    let undoStore: () => void = () => undefined
    return execute(
      this.kernel,
      (): Prepared<A> | CnmError => {
        const plans: Array<HostPlan | undefined> = []
        for (let i = 0; i < this.controllers.length; i++) {
          const controller = this.controllers[i] as Controller
          if (model.hostStateOf(before, controller.host) === model.hostStateOf(after, controller.host)) {
            plans.push(undefined)
            continue
          }
          const plan = controller.plan({ before, after, networks: touched.networks, containers: touched.containers(i, after) })
          if (isRefusal(plan)) return plan
          plans.push(plan)
        }
        const work = this.publish(before, after)
        undoStore = work.undo
        const { steps, dns, sockets } = transitionWork(this.kernel, this.transitionHosts(), plans, work.hosts, before, after)
        return {
          steps,
          ...(dns.length > 0 ? { dns } : {}),
          ...(sockets.length > 0 ? { sockets } : {}),
          commit: () => {
            this.controllers.forEach((controller, i) => {
              const plan = plans[i]
              if (plan) plan.commit()
              else controller.keep(after)
            })
            for (const w of work.hosts) w.commit()
            this.current = after
            return result()
          },
        }
      },
      (failure) => {
        undoStore()
        return recover === undefined ? Effect.fail(kernelFailure(failure)) : recover(failure)
      },
    )
  }

  private transitionHosts(): ReadonlyArray<SocketHost> {
    return this.controllers.map((controller, index) => ({ index, ns: controller.hostNs, namespaceOf: (state, name) => controller.namespaceIn(state, name) }))
  }

  /** the peer records the change publishes, and the work each host's watch makes of them */
  private publish(before: LabState, after: LabState): { hosts: ReadonlyArray<PeerWork>; undo: () => void } {
    const changes = peerChanges(before, after)
    if (changes.length === 0) return { hosts: [], undo: () => undefined }
    const inverse = inverseOf(this.store, changes)
    this.store.apply(changes)
    const hosts = this.relays.map((relay) => relay.take(before, after))
    return {
      hosts,
      undo: () => {
        this.store.apply(inverse)
        for (const relay of this.relays) relay.discard()
      },
    }
  }

  /**
   * The gone containers' endpoints on swarm networks leave the global-scope store, and the other
   * hosts withdraw them (peerDelete, their resolvers' names), as after a removal that succeeded.
   * The failed transaction rolled its own peer work back; the store is published anew from the
   * model's lab as kept. Best effort, as the rest of the recovery: a refusal here restores the store.
   */
  private withdrawPeers(before: LabState, after: LabState): Effect.Effect<void, unknown> {
    return Effect.suspend(() => {
      const work = this.publish(before, after)
      if (work.hosts.length === 0) return Effect.void
      const steps = work.hosts.flatMap((w) => [...w.deletes, ...w.adds])
      const names = this.controllers.flatMap((controller, i) => {
        const plan = work.hosts[i]?.dns
        return plan === undefined ? [] : [changeDns(this.kernel, controller.hostNs, plan)]
      })
      return runSteps(this.kernel, steps).pipe(
        Effect.andThen(Effect.all(names, { discard: true })),
        Effect.tap(() =>
          Effect.sync(() => {
            for (const w of work.hosts) w.commit()
          }),
        ),
        Effect.tapError(() => Effect.sync(work.undo)),
      )
    })
  }

  /**
   * After removeContainers failed: a refused leave step was rolled back and nothing is kept; a
   * refused namespace deletion leaves the namespaces deleted before it gone, and those containers
   * (only those) are removed from the model, their names from the embedded DNS.
   */
  private keepOnlyTheGone(
    before: LabState,
    removed: ReadonlyArray<model.LabContainer>,
    failure: StepFailure,
  ): Effect.Effect<never, CnmError> {
    const refused = Effect.fail(kernelFailure(failure))
    if (failure.step !== "sandbox.namespace") return refused
    return this.kernel.namespaces().pipe(
      Effect.flatMap((existing) => {
        const left = new Set(existing)
        let lab = before
        const gone: Array<model.LabContainer> = []
        for (const r of removed) {
          const controller = this.controllerOf(r.container.name) as Controller
          const ns = controller.sandboxOf(r.container.name)
          if (ns === undefined || ns === controller.hostNs || left.has(ns)) continue
          const outcome = model.removeLabContainer(lab, r.container.name)
          if (!outcome.ok) continue
          gone.push(r)
          lab = outcome.lab
        }
        const updates = this.controllers.flatMap((controller) => {
          const mine = gone.filter((r) => r.host === controller.host).map((r) => r.container.name)
          const remove = mine.flatMap((name) => controller.namesOf(name, before))
          controller.forgetGone(mine, lab)
          return remove.length === 0 ? [] : [this.kernel.updateDns({ resolver: controller.hostNs, remove })]
        })
        this.current = lab
        return Effect.all(updates, { discard: true }).pipe(Effect.andThen(this.withdrawPeers(before, lab)))
      }),
      Effect.ignore,
      Effect.andThen(refused),
    )
  }
}
