import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import { type DnsEntry, type DnsQueryResult, EMBEDDED_DNS_ADDRESS, type ProbeResult } from "../backends/kernel-types.ts"
import type { Driver, HostContext, Step } from "../drivers/Driver.ts"
import { builtinDrivers } from "../drivers/registry.ts"
import { type CnmError, cnmError } from "../model/errors.ts"
import * as model from "../model/index.ts"
import type { AttachRequest, Container, ContainerRequest, DriverName, Endpoint, Network, NetworkRequest } from "../model/types.ts"
import { DnsPlan, dnsEntryOf, dnsPlan, withName } from "./dns-plan.ts"
import { type PlannedJoin, Sandbox, forgetJoin, joinedOn, keepSettled, noJoins, recordJoin, settle } from "./sandbox-policy.ts"
import { runSteps, type StepFailure } from "./steps.ts"
import { dnsFailure, execute, interleave, isRefusal, kernelFailure } from "./transaction.ts"

export interface ControllerOptions {
  /** the Docker host's name in the scenario */
  readonly host: string
  /** the host's network namespace (made by the controller) */
  readonly hostNs: string
  /** sandbox namespaces are named `${sandboxPrefix}${container}` */
  readonly sandboxPrefix: string
  readonly drivers?: ReadonlyMap<DriverName, Driver>
}

/**
 * libnetwork's job for one Docker host: the model decides (validation, IPAM) and the drivers
 * realize each decision in the kernel; the new model state is kept only when the kernel work
 * succeeded, and half-done kernel work is rolled back, so a refused operation changes nothing.
 */
export class Controller {
  private current: model.CnmState = model.initialState()
  private readonly drivers: ReadonlyMap<DriverName, Driver>
  private readonly sandboxes = new Map<string, Sandbox>()
  /** what networkIn looked up, valid while the networks stay those of networksVersion */
  private readonly networksByName = new Map<string, Network>()
  private networksVersion: object | undefined = undefined
  private hostIfSeq = 0

  private constructor(
    readonly kernel: KernelShape,
    readonly options: ControllerOptions,
  ) {
    this.drivers = options.drivers ?? builtinDrivers
  }

  get host(): string {
    return this.options.host
  }

  get hostNs(): string {
    return this.options.hostNs
  }

  get state(): model.CnmState {
    return this.current
  }

  /** make the host namespace and Docker's predefined networks in it */
  static make(kernel: KernelShape, options: ControllerOptions): Effect.Effect<Controller, CnmError> {
    const controller = new Controller(kernel, options)
    const ns = options.hostNs
    const hostSteps: Step[] = [
      {
        name: "host.namespace",
        do: [
          { op: "nsAdd", ns },
          { op: "linkSet", ns, name: "lo", up: true },
          { op: "sysctlSet", ns, key: "net.ipv4.ip_forward", value: "1" },
        ],
        undo: [{ op: "nsDel", ns }],
      },
    ]
    const context = controller.hostContext(controller.current)
    const predefined = model.networks(controller.current).flatMap((n) => controller.driverOf(n).createNetwork(n, context))
    return runSteps(kernel, [...hostSteps, ...predefined]).pipe(
      Effect.mapError(kernelFailure),
      Effect.as(controller),
    )
  }

  networks(): ReadonlyArray<Network> {
    return model.networks(this.current)
  }

  endpoints(): ReadonlyArray<Endpoint> {
    return model.endpoints(this.current)
  }

  /** the namespace a container's packets start from */
  sandboxOf(container: string): string | undefined {
    return this.sandboxes.get(container)?.ns
  }

  createNetwork(request: NetworkRequest): Effect.Effect<Network, CnmError> {
    return this.run(() => this.prepareCreateNetwork(request))
  }

  removeNetwork(name: string): Effect.Effect<Network, CnmError> {
    return this.run(() => this.prepareRemoveNetwork(name))
  }

  /** several containers, made together (see prepareCreateContainers); all or nothing */
  createContainers(requests: ReadonlyArray<ContainerRequest>): Effect.Effect<ReadonlyArray<Container>, CnmError> {
    return this.run(() => this.prepareCreateContainers(requests))
  }

  createContainer(request: ContainerRequest): Effect.Effect<Container, CnmError> {
    return this.run(() => this.prepareCreateContainer(request))
  }

  /**
   * On a kernel that applies asynchronously (linux) a removal goes the way of removeContainers: if
   * the kernel deleted the namespace and then failed (its teardown not finished in time), the
   * container is gone from the model too, as it is from the kernel.
   */
  removeContainer(name: string): Effect.Effect<Container, CnmError> {
    if (!this.kernel.applySync) return this.removeContainers([name]).pipe(Effect.map((removed) => removed[0] as Container))
    return this.run(() => this.prepareRemoveContainer(name))
  }

  /**
   * Remove several containers with one round of kernel work: their sandbox namespaces go in a
   * single apply, so the kernel destroys them together and the wait for their veth peers to go
   * (20-60 ms per namespace on Linux) is paid once. The model decides for all of them first, and
   * a refusal changes nothing. If the kernel refuses midway, the containers whose namespaces are
   * gone are removed and the others kept, so the model and the kernel still agree.
   */
  removeContainers(names: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Container>, CnmError> {
    return Effect.suspend(() => {
      const removals: Removal[] = []
      let state = this.current
      for (const name of names) {
        const removal = this.planRemoval(name, state)
        if (isRefusal(removal)) return Effect.fail(removal)
        removals.push(removal)
        state = removal.state
      }
      const deletions: Step = {
        name: "sandbox.namespace",
        do: removals.flatMap((r) => (r.namespace === undefined ? [] : [{ op: "nsDel", ns: r.namespace } as const])),
        undo: [],
      }
      return runSteps(this.kernel, [...removals.flatMap((r) => r.leaves), deletions]).pipe(
        Effect.map(() => {
          for (const removal of removals) removal.forget()
          this.current = state
          return removals.map((r) => r.container)
        }),
        Effect.catch((failure) => this.keepOnlyTheGone(removals, failure)),
        Effect.tap(() => this.forgetNames(removals)),
      )
    })
  }

  connect(container: string, attach: AttachRequest): Effect.Effect<Endpoint, CnmError> {
    return this.run(() => this.prepareConnect(container, attach))
  }

  disconnect(container: string, network: string): Effect.Effect<Endpoint, CnmError> {
    return this.run(() => this.prepareDisconnect(container, network))
  }

  probe(container: string, address: string, trace = false): Effect.Effect<ProbeResult, CnmError> {
    const sandbox = this.sandboxes.get(container)
    if (!sandbox) return Effect.fail(cnmError("ContainerNotFound", `no such container: ${container}`))
    return this.kernel.probe(sandbox.ns, address, { trace }).pipe(Effect.mapError((error) => kernelFailure({ step: "probe", error })))
  }

  /** a real query to the container's resolver (127.0.0.11); containers without one get no answer */
  resolve(container: string, name: string): Effect.Effect<DnsQueryResult, CnmError> {
    const sandbox = this.sandboxes.get(container)
    if (!sandbox) return Effect.fail(cnmError("ContainerNotFound", `no such container: ${container}`))
    return this.kernel
      .queryDns(sandbox.ns, EMBEDDED_DNS_ADDRESS, name)
      .pipe(Effect.mapError((error) => kernelFailure({ step: "dns.query", error })))
  }

  // -------------------------------------------------------------------------------------------

  private run<A>(prepare: () => HostPrepared<A> | CnmError): Effect.Effect<A, CnmError> {
    return execute(this.kernel, () => {
      const prepared = prepare()
      if (isRefusal(prepared)) return prepared
      const { steps, dns, commit } = prepared
      return dns === undefined ? { steps, commit } : { steps, dns: [{ resolver: this.hostNs, plan: dns }], commit }
    })
  }

  private prepareCreateNetwork(request: NetworkRequest): HostPrepared<Network> | CnmError {
    const outcome = model.createNetwork(this.current, request)
    if (!outcome.ok) {
      // a refusal Docker keeps a trace of (its pool cursor moved): nothing in the kernel, only the model state
      if (outcome.state !== undefined) this.current = outcome.state
      return outcome.error
    }
    const network = outcome.value
    const driver = this.drivers.get(network.driver)
    if (!driver) return cnmError("DriverNotFound", `driver "${network.driver}" is not available in this cnmlab version`)
    const refusal = driver.checkOptions?.(network)
    if (refusal) return cnmError("InvalidOption", refusal)
    return {
      steps: driver.createNetwork(network, this.hostContext(outcome.state)),
      commit: () => {
        this.current = outcome.state
        return network
      },
    }
  }

  private prepareRemoveNetwork(name: string): HostPrepared<Network> | CnmError {
    const outcome = model.removeNetwork(this.current, name)
    if (!outcome.ok) return outcome.error
    const network = outcome.value
    return {
      steps: this.driverOf(network).deleteNetwork(network, this.hostContext(outcome.state)),
      commit: () => {
        this.current = outcome.state
        return network
      },
    }
  }

  /**
   * Several containers at once, as a scenario's setup makes them. The model decides them one after
   * the other; the kernel work then goes step by step across all of them (every sandbox namespace,
   * then every veth, then every address …), which the real kernel does faster than container after
   * container (measured: 1.1–1.2 against 1.3–1.6 ms per container, bench/linux.ts). All or nothing:
   * a refusal anywhere rolls back every step done so far.
   */
  private prepareCreateContainers(requests: ReadonlyArray<ContainerRequest>): HostPrepared<ReadonlyArray<Container>> | CnmError {
    const before = this.current
    const each: Array<HostPrepared<Container>> = []
    for (const request of requests) {
      const prepared = this.prepareCreateContainer(request)
      if (isRefusal(prepared)) {
        this.current = before
        return prepared
      }
      each.push(prepared)
      // the next decision sees this one, as it would after its commit
      this.current = prepared.state as model.CnmState
    }
    this.current = before
    const steps = interleave(each.map((p) => p.steps))
    const plans = each.flatMap((p) => (p.dns === undefined ? [] : [p.dns]))
    return {
      steps,
      ...(plans.length > 0 ? { dns: DnsPlan.merge(plans) } : {}),
      commit: () => each.map((p) => p.commit()),
    }
  }

  private prepareCreateContainer(request: ContainerRequest): HostPrepared<Container> | CnmError {
    const outcome = model.createContainer(this.current, request)
    if (!outcome.ok) return outcome.error
    const { container, endpoints } = outcome.value
    let onHost = false
    for (let i = 0; i < endpoints.length; i++) {
      if (this.networkIn(outcome.state, (endpoints[i] as Endpoint).network).driver === "host") onHost = true
    }
    const sandbox = onHost ? new Sandbox(this.hostNs, false) : new Sandbox(`${this.options.sandboxPrefix}${container.name}`, true)
    const joins = new Array<PlannedJoin>(endpoints.length)
    for (let i = 0; i < endpoints.length; i++) joins[i] = this.planJoin(outcome.state, endpoints[i] as Endpoint, sandbox)
    const settled = settle(sandbox, joins, undefined)
    const steps: Step[] = []
    if (sandbox.own) {
      steps.push({
        name: "sandbox.namespace",
        do: [
          { op: "nsAdd", ns: sandbox.ns },
          { op: "linkSet", ns: sandbox.ns, name: "lo", up: true },
        ],
        undo: [{ op: "nsDel", ns: sandbox.ns }],
      })
    }
    for (const join of joins) for (const s of join.steps) steps.push(s)
    for (const s of settled.steps) steps.push(s)
    let dns = dnsPlan(sandbox, settled)
    for (const join of joins) dns = withName(dns, "add", join.network, join.endpoint)
    return {
      steps,
      ...(dns ? { dns } : {}),
      state: outcome.state,
      commit: () => {
        this.sandboxes.set(container.name, sandbox)
        for (const join of joins) recordJoin(sandbox, join)
        keepSettled(sandbox, settled)
        this.current = outcome.state
        return container
      },
    }
  }

  private prepareRemoveContainer(name: string): HostPrepared<Container> | CnmError {
    const removal = this.planRemoval(name, this.current)
    if (isRefusal(removal)) return removal
    const steps: Step[] = [...removal.leaves]
    if (removal.namespace !== undefined) steps.push({ name: "sandbox.namespace", do: [{ op: "nsDel", ns: removal.namespace }], undo: [] })
    // its server goes with its namespace
    const dns = removal.names.length > 0 ? new DnsPlan(undefined, undefined, undefined, undefined, [...removal.names]) : undefined
    return {
      steps,
      ...(dns ? { dns } : {}),
      commit: () => {
        removal.forget()
        this.current = removal.state
        return removal.container
      },
    }
  }

  /** removing one container, decided on `from` (not necessarily the current state); changes nothing yet */
  private planRemoval(name: string, from: model.CnmState): Removal | CnmError {
    const outcome = model.removeContainer(from, name)
    if (!outcome.ok) return outcome.error
    const sandbox = this.sandboxes.get(name) as Sandbox
    const { container, endpoints } = outcome.value
    const leaves: Step[] = []
    const names: DnsEntry[] = []
    for (let i = 0; i < endpoints.length; i++) {
      const endpoint = endpoints[i] as Endpoint
      for (const s of this.planLeave(from, endpoint, sandbox, sandbox.own)) leaves.push(s)
      const entry = dnsEntryOf(this.networkIn(from, endpoint.network), endpoint)
      if (entry) names.push(entry)
    }
    return {
      container,
      state: outcome.state,
      // the namespace takes its links, routes and DNS server along
      leaves,
      names,
      namespace: sandbox.own ? sandbox.ns : undefined,
      forget: () => {
        for (let i = 0; i < endpoints.length; i++) forgetJoin(sandbox, (endpoints[i] as Endpoint).network)
        this.sandboxes.delete(name)
      },
    }
  }

  /**
   * After removeContainers failed: a refused leave step was rolled back and nothing is kept; a
   * refused namespace deletion leaves the namespaces deleted before it gone, and those containers
   * (only those) are removed from the model.
   */
  private keepOnlyTheGone(removals: ReadonlyArray<Removal>, failure: StepFailure): Effect.Effect<never, CnmError> {
    const refused = Effect.fail(kernelFailure(failure))
    if (failure.step !== "sandbox.namespace") return refused
    return this.kernel.namespaces().pipe(
      Effect.map((existing) => {
        const left = new Set(existing)
        let state = this.current
        const gone: Removal[] = []
        for (const removal of removals) {
          if (removal.namespace === undefined || left.has(removal.namespace)) continue
          const outcome = model.removeContainer(state, removal.container.name)
          if (!outcome.ok) continue
          removal.forget()
          gone.push(removal)
          state = outcome.state
        }
        this.current = state
        return gone
      }),
      Effect.flatMap((gone) => this.forgetNames(gone)),
      Effect.ignore,
      Effect.andThen(refused),
    )
  }

  /** the names of removed containers leave the embedded DNS */
  private forgetNames(removals: ReadonlyArray<Removal>): Effect.Effect<void, CnmError> {
    const remove = removals.flatMap((r) => r.names)
    if (remove.length === 0) return Effect.void
    return this.kernel.updateDns({ resolver: this.hostNs, remove }).pipe(Effect.mapError(dnsFailure))
  }

  private prepareConnect(container: string, attach: AttachRequest): HostPrepared<Endpoint> | CnmError {
    const outcome = model.connect(this.current, container, attach)
    if (!outcome.ok) return outcome.error
    const sandbox = this.sandboxes.get(container) as Sandbox
    const join = this.planJoin(outcome.state, outcome.value, sandbox)
    const settled = settle(sandbox, [join], undefined)
    const dns = withName(dnsPlan(sandbox, settled), "add", join.network, join.endpoint)
    return {
      steps: settled.steps.length === 0 ? join.steps : [...join.steps, ...settled.steps],
      ...(dns ? { dns } : {}),
      commit: () => {
        recordJoin(sandbox, join)
        keepSettled(sandbox, settled)
        this.current = outcome.state
        return outcome.value
      },
    }
  }

  private prepareDisconnect(container: string, network: string): HostPrepared<Endpoint> | CnmError {
    const outcome = model.disconnect(this.current, container, network)
    if (!outcome.ok) return outcome.error
    const endpoint = outcome.value
    const sandbox = this.sandboxes.get(container) as Sandbox
    const leave = this.planLeave(this.current, endpoint, sandbox)
    // the kernel drops the default route together with the interface it used
    const routeGone = sandbox.gateway?.network === network
    const settled = settle(sandbox, noJoins, network, routeGone)
    const dns = withName(dnsPlan(sandbox, settled), "remove", this.networkIn(this.current, network), endpoint)
    return {
      steps: settled.steps.length === 0 ? leave : [...leave, ...settled.steps],
      ...(dns ? { dns } : {}),
      commit: () => {
        forgetJoin(sandbox, endpoint.network)
        keepSettled(sandbox, settled)
        this.current = outcome.state
        return endpoint
      },
    }
  }

  private hostContext(state: model.CnmState): HostContext {
    return new LazyHostContext(this.hostNs, this.host, state)
  }

  /** a network of `state` by name; looked up a dozen times per container operation, so kept at hand */
  private networkIn(state: model.CnmState, name: string): Network {
    const version = model.networksVersion(state)
    if (version !== this.networksVersion) {
      this.networksByName.clear()
      this.networksVersion = version
    }
    let network = this.networksByName.get(name)
    if (network === undefined) {
      network = model.network(state, name) as Network
      if (network !== undefined) this.networksByName.set(name, network)
    }
    return network
  }

  private driverOf(network: Network): Driver {
    return this.drivers.get(network.driver) as Driver
  }

  private planJoin(state: model.CnmState, endpoint: Endpoint, sandbox: Sandbox): PlannedJoin {
    const network = this.networkIn(state, endpoint.network)
    const hostIf = `vethc${(this.hostIfSeq++).toString(16)}`
    const plan = this.driverOf(network).join(network, endpoint, this.hostContext(state), { sandboxNs: sandbox.ns, hostIf })
    return { endpoint, network, hostIf, steps: plan.steps, gateway: plan.gateway || undefined }
  }

  private planLeave(state: model.CnmState, endpoint: Endpoint, sandbox: Sandbox, sandboxClosing = false): ReadonlyArray<Step> {
    const network = this.networkIn(state, endpoint.network)
    const hostIf = joinedOn(sandbox, endpoint.network)?.hostIf ?? ""
    return this.driverOf(network).leave(network, endpoint, this.hostContext(state), { sandboxNs: sandbox.ns, hostIf, sandboxClosing })
  }
}

/**
 * The host as a driver sees it, with the network list made only when a driver asks: joins and
 * leaves never do, and they are the hot path. A class, not an object literal with a getter: V8
 * keeps such a literal in dictionary mode, and its accessor outlives young-generation collections
 * together with everything the getter captured, the model state included (measured on the bench:
 * 4 MB promoted per scavenge, 40% of the run in GC; with the class, under 1 MB).
 */
class LazyHostContext implements HostContext {
  private listed: ReadonlyArray<Network> | undefined

  constructor(
    readonly ns: string,
    readonly host: string,
    private readonly state: model.CnmState,
  ) {}

  get networks(): ReadonlyArray<Network> {
    return (this.listed ??= model.networks(this.state))
  }
}

/** an operation of this host, decided and planned: its DNS part is the host resolver's */
interface HostPrepared<A> {
  readonly steps: ReadonlyArray<Step>
  readonly dns?: DnsPlan
  /** the model state the commit keeps, for a batch that decides its next operation on it */
  readonly state?: model.CnmState
  readonly commit: () => A
}

/** one container's removal, planned: the kernel work, and the bookkeeping to drop once it is done */
interface Removal {
  readonly container: Container
  /** the model state once this container (and those planned before it) are gone */
  readonly state: model.CnmState
  readonly leaves: ReadonlyArray<Step>
  /** its names in the embedded DNS, removed with it */
  readonly names: ReadonlyArray<DnsEntry>
  /** its own sandbox namespace, deleted last */
  readonly namespace?: string
  readonly forget: () => void
}

