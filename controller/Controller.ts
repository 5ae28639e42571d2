import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import type { KernelError } from "../backends/KernelError.ts"
import { type DnsEntry, type DnsQueryResult, type DnsUpdate, EMBEDDED_DNS_ADDRESS, type KernelOp, type ProbeResult } from "../backends/kernel-types.ts"
import type { Driver, HostContext, Step } from "../drivers/Driver.ts"
import { builtinDrivers } from "../drivers/registry.ts"
import { type CnmError, cnmError } from "../model/errors.ts"
import * as model from "../model/index.ts"
import type { AttachRequest, Container, ContainerRequest, DriverName, Endpoint, Network, NetworkRequest } from "../model/types.ts"
import { runSteps, runStepsSync, type StepFailure, undo } from "./steps.ts"

export interface ControllerOptions {
  /** the Docker host's name in the scenario */
  readonly host: string
  /** the host's network namespace (made by the controller) */
  readonly hostNs: string
  /** sandbox namespaces are named `${sandboxPrefix}${container}` */
  readonly sandboxPrefix: string
  readonly drivers?: ReadonlyMap<DriverName, Driver>
}

/*
 * Two V8 costs shape the container paths below (measured on the controller benchmark, see
 * model/arrays.ts and model/container-ops.ts): what the controller keeps per container is made
 * of class instances, not object or array literals, whose allocations V8 moves to the old
 * generation for good once those of a lab's standing containers survived; and the model's
 * arrays, which are frozen, are walked by index, as for-of and the array builtins take a slow
 * path on frozen arrays.
 */

class Sandbox {
  /** the networks its embedded DNS answers for, in sandbox order; undefined while it runs none */
  dnsNetworks: ReadonlyArray<string> | undefined = undefined
  gateway: GatewayRoute | undefined = undefined
  /** the container's endpoints as the kernel holds them, one per network (a container has a few) */
  readonly joined: Array<Joined> = noJoined.slice()

  constructor(
    readonly ns: string,
    /** false for host-network containers, whose sandbox is the host's namespace */
    readonly own: boolean,
  ) {}
}

/** never changed, only copied (not frozen: slicing a frozen array is ten times slower) */
const noJoined: ReadonlyArray<Joined> = []

/** what the controller remembers of one endpoint once it is in the kernel */
class Joined {
  constructor(
    /** networks are immutable, and one cannot go while it has endpoints: this one stays as it is */
    readonly network: Network,
    /** its interface in the sandbox (none on host and none) */
    readonly ifname: string | undefined,
    /** the host side of its veth, needed to take it out again */
    readonly hostIf: string,
    /** the gateway its network offers the sandbox, if any */
    readonly gateway: string | undefined,
  ) {}
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
    return this.execute(() => this.prepareCreateNetwork(request))
  }

  removeNetwork(name: string): Effect.Effect<Network, CnmError> {
    return this.execute(() => this.prepareRemoveNetwork(name))
  }

  /** several containers, made together (see prepareCreateContainers); all or nothing */
  createContainers(requests: ReadonlyArray<ContainerRequest>): Effect.Effect<ReadonlyArray<Container>, CnmError> {
    return this.execute(() => this.prepareCreateContainers(requests))
  }

  createContainer(request: ContainerRequest): Effect.Effect<Container, CnmError> {
    return this.execute(() => this.prepareCreateContainer(request))
  }

  /**
   * On a kernel that applies asynchronously (linux) a removal goes the way of removeContainers: if
   * the kernel deleted the namespace and then failed (its teardown not finished in time), the
   * container is gone from the model too, as it is from the kernel.
   */
  removeContainer(name: string): Effect.Effect<Container, CnmError> {
    if (!this.kernel.applySync) return this.removeContainers([name]).pipe(Effect.map((removed) => removed[0] as Container))
    return this.execute(() => this.prepareRemoveContainer(name))
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
    return this.execute(() => this.prepareConnect(container, attach))
  }

  disconnect(container: string, network: string): Effect.Effect<Endpoint, CnmError> {
    return this.execute(() => this.prepareDisconnect(container, network))
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

  /**
   * Carry out a prepared operation: run its steps, then the embedded DNS's part (servers started
   * or stopped, names added or removed), then keep the decision. A refused step rolls back what
   * ran before it and nothing is kept. A kernel that can apply synchronously (the simulator) runs
   * the steps without an effect per step.
   */
  private execute<A>(prepare: () => Prepared<A> | CnmError): Effect.Effect<A, CnmError> {
    return Effect.suspend(() => {
      const prepared = prepare()
      if (isRefusal(prepared)) return Effect.fail(prepared)
      const { steps, dns } = prepared
      const applySync = this.kernel.applySync
      if (applySync) {
        const failure = runStepsSync(applySync, steps)
        if (failure) return Effect.fail(kernelFailure(failure))
        if (!dns) return Effect.succeed(prepared.commit())
        const updateDnsSync = this.kernel.updateDnsSync
        if (updateDnsSync && dns.serve.length === 0 && dns.stop.length === 0) {
          try {
            updateDnsSync(this.dnsUpdateOf(dns) as DnsUpdate)
          } catch (error) {
            return undo(this.kernel, steps).pipe(Effect.andThen(Effect.fail(dnsFailure(error as KernelError))))
          }
          return Effect.succeed(prepared.commit())
        }
        // the one effect left on the fast path (every new container on a user network starts its server)
        return this.changeDns(dns).pipe(
          Effect.matchEffect({
            onFailure: (error) => undo(this.kernel, steps).pipe(Effect.andThen(Effect.fail(dnsFailure(error)))),
            onSuccess: () => Effect.succeed(prepared.commit()),
          }),
        )
      }
      const dnsDone = dns
        ? this.changeDns(dns).pipe(
            Effect.mapError((error): StepFailure => ({ step: "sandbox.dns", error })),
            Effect.tapError(() => undo(this.kernel, steps)),
          )
        : Effect.void
      return runSteps(this.kernel, steps).pipe(
        Effect.andThen(dnsDone),
        Effect.mapError(kernelFailure),
        Effect.map(() => prepared.commit()),
      )
    })
  }

  private prepareCreateNetwork(request: NetworkRequest): Prepared<Network> | CnmError {
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

  private prepareRemoveNetwork(name: string): Prepared<Network> | CnmError {
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
  private prepareCreateContainers(requests: ReadonlyArray<ContainerRequest>): Prepared<ReadonlyArray<Container>> | CnmError {
    const before = this.current
    const each: Array<Prepared<Container>> = []
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
    const steps: Step[] = []
    for (let column = 0; each.some((p) => column < p.steps.length); column++) {
      for (const p of each) if (column < p.steps.length) steps.push(p.steps[column] as Step)
    }
    const plans = each.flatMap((p) => (p.dns === undefined ? [] : [p.dns]))
    return {
      steps,
      ...(plans.length > 0 ? { dns: DnsPlan.merge(plans) } : {}),
      commit: () => each.map((p) => p.commit()),
    }
  }

  private prepareCreateContainer(request: ContainerRequest): Prepared<Container> | CnmError {
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
    const settled = this.settle(sandbox, joins, undefined)
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
        for (const join of joins) this.recordJoin(sandbox, join)
        keepSettled(sandbox, settled)
        this.current = outcome.state
        return container
      },
    }
  }

  private prepareRemoveContainer(name: string): Prepared<Container> | CnmError {
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
        for (let i = 0; i < endpoints.length; i++) this.forgetJoin(sandbox, endpoints[i] as Endpoint)
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

  private prepareConnect(container: string, attach: AttachRequest): Prepared<Endpoint> | CnmError {
    const outcome = model.connect(this.current, container, attach)
    if (!outcome.ok) return outcome.error
    const sandbox = this.sandboxes.get(container) as Sandbox
    const join = this.planJoin(outcome.state, outcome.value, sandbox)
    const settled = this.settle(sandbox, [join], undefined)
    const dns = withName(dnsPlan(sandbox, settled), "add", join.network, join.endpoint)
    return {
      steps: settled.steps.length === 0 ? join.steps : [...join.steps, ...settled.steps],
      ...(dns ? { dns } : {}),
      commit: () => {
        this.recordJoin(sandbox, join)
        keepSettled(sandbox, settled)
        this.current = outcome.state
        return outcome.value
      },
    }
  }

  private prepareDisconnect(container: string, network: string): Prepared<Endpoint> | CnmError {
    const outcome = model.disconnect(this.current, container, network)
    if (!outcome.ok) return outcome.error
    const endpoint = outcome.value
    const sandbox = this.sandboxes.get(container) as Sandbox
    const leave = this.planLeave(this.current, endpoint, sandbox)
    // the kernel drops the default route together with the interface it used
    const routeGone = sandbox.gateway?.network === network
    const settled = this.settle(sandbox, noJoins, network, routeGone)
    const dns = withName(dnsPlan(sandbox, settled), "remove", this.networkIn(this.current, network), endpoint)
    return {
      steps: settled.steps.length === 0 ? leave : [...leave, ...settled.steps],
      ...(dns ? { dns } : {}),
      commit: () => {
        this.forgetJoin(sandbox, endpoint)
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

  private recordJoin(sandbox: Sandbox, join: PlannedJoin): void {
    sandbox.joined.push(new Joined(join.network, join.endpoint.ifname, join.hostIf, join.gateway))
  }

  private forgetJoin(sandbox: Sandbox, endpoint: Endpoint): void {
    const joined = sandbox.joined
    const at = joined.findIndex((j) => j.network.name === endpoint.network)
    if (at >= 0) joined.splice(at, 1)
  }

  /**
   * What a sandbox needs once its endpoints change: the default route through the first endpoint
   * (in sandbox order) that offers a gateway, and the embedded DNS, answering for its user-defined
   * networks in sandbox order, while it has any. The endpoints are those the sandbox holds (its
   * `joined`, which mirror the model's), plus `joins` being added and minus the one on network
   * `leaving`.
   */
  private settle(
    sandbox: Sandbox,
    joins: ReadonlyArray<PlannedJoin>,
    leaving: string | undefined,
    routeGone = false,
  ): Settlement {
    if (!sandbox.own) return unchanged
    // the first in sandbox order (see inSandboxOrder) among the endpoints with a gateway, found
    // without sorting nor asking the model: this runs on every join and leave, and most leave
    // the route as it is
    const found = new GatewayChoice()
    for (const joined of sandbox.joined) {
      if (joined.network.name !== leaving) found.consider(joined.network, joined.gateway, joined.ifname)
    }
    for (const join of joins) found.consider(join.network, join.gateway, join.endpoint.ifname)
    const current = routeGone ? undefined : sandbox.gateway
    const same = current !== undefined && found.via !== undefined && current.via === found.via && current.dev === found.dev
    const dnsNetworks = found.dnsNetworks()
    const dns = dnsChangeOf(sandbox.dnsNetworks, dnsNetworks)
    if (same && dns === undefined) return unchanged
    const wanted = same
      ? current
      : found.network && new GatewayRoute(found.via as string, found.dev as string, found.network.name)
    let steps = noSteps
    if (!same && (current !== undefined || wanted !== undefined)) {
      const ns = sandbox.ns
      const doOps: KernelOp[] = []
      const undoOps: KernelOp[] = []
      if (current) doOps.push({ op: "routeDel", ns, route: { dst: "default", via: current.via, dev: current.dev } })
      if (wanted) {
        doOps.push({ op: "routeAdd", ns, route: { dst: "default", via: wanted.via, dev: wanted.dev } })
        undoOps.push({ op: "routeDel", ns, route: { dst: "default", via: wanted.via, dev: wanted.dev } })
      }
      if (current) undoOps.push({ op: "routeAdd", ns, route: { dst: "default", via: current.via, dev: current.dev } })
      steps = [{ name: "sandbox.gateway", do: doOps, undo: undoOps }]
    }
    return new Settlement(true, steps, dns, wanted, dnsNetworks)
  }

  /** servers first (a refusal there changes no name), then the names and the servers' networks */
  private changeDns(plan: DnsPlan): Effect.Effect<void, KernelError> {
    const resolver = this.hostNs
    let effect: Effect.Effect<void, KernelError> = Effect.void
    for (const [ns, networks] of plan.serve) {
      effect = effect.pipe(Effect.andThen(this.kernel.serveDns(ns, EMBEDDED_DNS_ADDRESS, { resolver, networks })))
    }
    for (const ns of plan.stop) effect = effect.pipe(Effect.andThen(this.kernel.stopDns(ns)))
    const update = this.dnsUpdateOf(plan)
    if (update === undefined) return effect
    return plan.serve.length === 0 && plan.stop.length === 0
      ? this.kernel.updateDns(update)
      : effect.pipe(Effect.andThen(this.kernel.updateDns(update)))
  }

  private dnsUpdateOf(plan: DnsPlan): DnsUpdate | undefined {
    if (plan.add.length === 0 && plan.remove.length === 0 && plan.networks.length === 0) return undefined
    return {
      resolver: this.hostNs,
      ...(plan.remove.length > 0 ? { remove: plan.remove } : {}),
      ...(plan.add.length > 0 ? { add: plan.add } : {}),
      ...(plan.networks.length > 0 ? { networks: plan.networks } : {}),
    }
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

/** an operation decided by the model and planned by the drivers, not yet carried out */
interface Prepared<A> {
  readonly steps: ReadonlyArray<Step>
  /** the embedded DNS's part, carried out once the steps are done */
  readonly dns?: DnsPlan
  /** the model state the commit keeps, for a batch that decides its next operation on it */
  readonly state?: model.CnmState
  /** keep the decision (runtime bookkeeping and the model's next state); runs only after success */
  readonly commit: () => A
}

/** what settle decided for a sandbox; kept by keepSettled once the kernel work is done */
class Settlement {
  constructor(
    /** false when there is nothing to keep: the sandbox is the host's namespace, or nothing changed */
    readonly changed: boolean,
    readonly steps: ReadonlyArray<Step>,
    readonly dns: DnsChange | undefined,
    readonly gateway: GatewayRoute | undefined,
    /** the networks the sandbox's DNS answers for afterwards; undefined: no server */
    readonly dnsNetworks: ReadonlyArray<string> | undefined,
  ) {}
}

const noSteps: ReadonlyArray<Step> = []

const noJoins: ReadonlyArray<PlannedJoin> = []

/**
 * settle's search, one endpoint at a time: the user-defined networks (DNS answers for them), and
 * the first in sandbox order (non-internal before internal, then by network name) with a gateway.
 */
class GatewayChoice {
  private userNetworks: Array<Network> | undefined = undefined
  network: Network | undefined = undefined
  via: string | undefined = undefined
  dev: string | undefined = undefined

  consider(network: Network, via: string | undefined, dev: string | undefined): void {
    if (!network.predefined) (this.userNetworks ??= []).push(network)
    if (via === undefined) return
    if (this.network === undefined || inSandboxOrder(network, this.network) < 0) {
      this.network = network
      this.via = via
      this.dev = dev
    }
  }

  /** the user-defined networks in sandbox order, the order DNS asks them in; undefined when none */
  dnsNetworks(): ReadonlyArray<string> | undefined {
    const networks = this.userNetworks
    if (networks === undefined) return undefined
    if (networks.length > 1) networks.sort(inSandboxOrder)
    return networks.map((n) => n.name)
  }
}

const unchanged = new Settlement(false, noSteps, undefined, undefined, undefined)

const keepSettled = (sandbox: Sandbox, settled: Settlement): void => {
  if (!settled.changed) return
  sandbox.gateway = settled.gateway
  sandbox.dnsNetworks = settled.dnsNetworks
}

const joinedOn = (sandbox: Sandbox, network: string): Joined | undefined => {
  for (const joined of sandbox.joined) if (joined.network.name === network) return joined
  return undefined
}

/** what becomes of a sandbox's DNS server: started, stopped, or answering for other networks */
type DnsChange = "serve" | "stop" | "networks"

const dnsChangeOf = (before: ReadonlyArray<string> | undefined, after: ReadonlyArray<string> | undefined): DnsChange | undefined => {
  if (before === undefined) return after === undefined ? undefined : "serve"
  if (after === undefined) return "stop"
  if (before.length === after.length && before.every((network, i) => network === after[i])) return undefined
  return "networks"
}

/** the embedded DNS's part of one operation (or of a batch), carried out after its kernel steps */
class DnsPlan {
  constructor(
    readonly serve: Array<readonly [string, ReadonlyArray<string>]> = [],
    readonly stop: Array<string> = [],
    readonly networks: Array<{ readonly ns: string; readonly networks: ReadonlyArray<string> }> = [],
    readonly add: Array<DnsEntry> = [],
    readonly remove: Array<DnsEntry> = [],
  ) {}

  static merge(plans: ReadonlyArray<DnsPlan>): DnsPlan {
    return new DnsPlan(
      plans.flatMap((p) => p.serve),
      plans.flatMap((p) => p.stop),
      plans.flatMap((p) => p.networks),
      plans.flatMap((p) => p.add),
      plans.flatMap((p) => p.remove),
    )
  }
}

/** what settle decided for the sandbox's DNS server, as a plan (undefined: nothing to do) */
const dnsPlan = (sandbox: Sandbox, settled: Settlement): DnsPlan | undefined => {
  const networks = settled.dnsNetworks
  switch (settled.dns) {
    case "serve":
      return new DnsPlan([[sandbox.ns, networks as ReadonlyArray<string>]])
    case "stop":
      return new DnsPlan(undefined, [sandbox.ns])
    case "networks":
      return new DnsPlan(undefined, undefined, [{ ns: sandbox.ns, networks: networks as ReadonlyArray<string> }])
    default:
      return undefined
  }
}

/** Docker gives embedded DNS names only on user-defined networks, and only to endpoints with an address */
const dnsEntryOf = (network: Network, endpoint: Endpoint): DnsEntry | undefined => {
  const cidr = endpoint.address
  if (network.predefined || cidr === undefined) return undefined
  const slash = cidr.indexOf("/")
  const names = [endpoint.container]
  for (let i = 0; i < endpoint.aliases.length; i++) names.push(endpoint.aliases[i] as string)
  return { network: endpoint.network, names, address: slash < 0 ? cidr : cidr.slice(0, slash) }
}

/** `plan` with the endpoint's names added or removed (a new plan when there was none) */
const withName = (plan: DnsPlan | undefined, change: "add" | "remove", network: Network, endpoint: Endpoint): DnsPlan | undefined => {
  const entry = dnsEntryOf(network, endpoint)
  if (entry === undefined) return plan
  const into = plan ?? new DnsPlan()
  into[change].push(entry)
  return into
}

class GatewayRoute {
  constructor(
    readonly via: string,
    readonly dev: string,
    readonly network: string,
  ) {}
}

const isRefusal = <T extends object>(prepared: T | CnmError): prepared is CnmError => "code" in prepared

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

interface PlannedJoin {
  readonly endpoint: Endpoint
  readonly network: Network
  readonly hostIf: string
  readonly steps: ReadonlyArray<Step>
  readonly gateway: string | undefined
}

/**
 * libnetwork keeps a sandbox's endpoints sorted: non-internal networks before internal ones, then by
 * network name. The first one with a gateway carries the default route; DNS asks networks in this order.
 */
const inSandboxOrder = (a: Network, b: Network): number =>
  a.internal !== b.internal ? (a.internal ? 1 : -1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0

const kernelFailure = (failure: StepFailure): CnmError =>
  cnmError("KernelError", `${failure.step}: ${failure.error.message}`)

const dnsFailure = (error: KernelError): CnmError => kernelFailure({ step: "sandbox.dns", error })
