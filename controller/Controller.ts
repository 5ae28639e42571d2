import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import { type DnsQueryResult, EMBEDDED_DNS_ADDRESS, type KernelOp, type ProbeResult } from "../backends/kernel-types.ts"
import type { Driver, HostContext, Step } from "../drivers/Driver.ts"
import { builtinDrivers } from "../drivers/registry.ts"
import { type CnmError, cnmError } from "../model/errors.ts"
import * as model from "../model/index.ts"
import type { AttachRequest, Container, ContainerRequest, DriverName, Endpoint, Network, NetworkRequest } from "../model/types.ts"
import { DnsRecords } from "./dns-records.ts"
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

interface Sandbox {
  readonly ns: string
  /** false for host-network containers, whose sandbox is the host's namespace */
  readonly own: boolean
  dns: boolean
  gateway?: GatewayRoute
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
  private readonly hostIfs = new Map<string, string>()
  private readonly gateways = new Map<string, string>()
  private readonly records = new DnsRecords()
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

  createContainer(request: ContainerRequest): Effect.Effect<Container, CnmError> {
    return this.execute(() => this.prepareCreateContainer(request))
  }

  removeContainer(name: string): Effect.Effect<Container, CnmError> {
    return this.execute(() => this.prepareRemoveContainer(name))
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
   * Carry out a prepared operation: run its steps, start or stop the embedded DNS, then keep the
   * decision. A refused step rolls back what ran before it and nothing is kept. A kernel that can
   * apply synchronously (the simulator) runs the steps without an effect per step.
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
      }
      const stepsDone = applySync ? Effect.void : runSteps(this.kernel, steps)
      const dnsDone = dns
        ? this.changeDns(dns).pipe(Effect.tapError(() => undo(this.kernel, steps)))
        : Effect.void
      return stepsDone.pipe(
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

  private prepareCreateContainer(request: ContainerRequest): Prepared<Container> | CnmError {
    const outcome = model.createContainer(this.current, request)
    if (!outcome.ok) return outcome.error
    const { container, endpoints } = outcome.value
    const onHost = endpoints.some((e) => this.networkIn(outcome.state, e.network).driver === "host")
    const sandbox: Sandbox = onHost
      ? { ns: this.hostNs, own: false, dns: false }
      : { ns: `${this.options.sandboxPrefix}${container.name}`, own: true, dns: false }
    const sandboxSteps: Step[] = sandbox.own
      ? [
          {
            name: "sandbox.namespace",
            do: [
              { op: "nsAdd", ns: sandbox.ns },
              { op: "linkSet", ns: sandbox.ns, name: "lo", up: true },
            ],
            undo: [{ op: "nsDel", ns: sandbox.ns }],
          },
        ]
      : []
    const joins = endpoints.map((e) => this.planJoin(outcome.state, e, sandbox))
    const settled = this.settle(outcome.state, container.name, sandbox, joins)
    return {
      steps: [...sandboxSteps, ...joins.flatMap((j) => j.steps), ...settled.steps],
      ...(settled.dns ? { dns: settled.dns } : {}),
      commit: () => {
        this.sandboxes.set(container.name, sandbox)
        for (const join of joins) this.recordJoin(join)
        settled.commit()
        this.current = outcome.state
        return container
      },
    }
  }

  private prepareRemoveContainer(name: string): Prepared<Container> | CnmError {
    const outcome = model.removeContainer(this.current, name)
    if (!outcome.ok) return outcome.error
    const sandbox = this.sandboxes.get(name) as Sandbox
    const { container, endpoints } = outcome.value
    // the namespace takes its links, routes and DNS server along
    const steps: Step[] = endpoints.flatMap((e) => this.planLeave(this.current, e, sandbox.own))
    if (sandbox.own) steps.push({ name: "sandbox.namespace", do: [{ op: "nsDel", ns: sandbox.ns }], undo: [] })
    return {
      steps,
      commit: () => {
        for (const e of endpoints) this.forgetJoin(e)
        this.sandboxes.delete(name)
        this.current = outcome.state
        return container
      },
    }
  }

  private prepareConnect(container: string, attach: AttachRequest): Prepared<Endpoint> | CnmError {
    const outcome = model.connect(this.current, container, attach)
    if (!outcome.ok) return outcome.error
    const sandbox = this.sandboxes.get(container) as Sandbox
    const join = this.planJoin(outcome.state, outcome.value, sandbox)
    const settled = this.settle(outcome.state, container, sandbox, [join])
    return {
      steps: [...join.steps, ...settled.steps],
      ...(settled.dns ? { dns: settled.dns } : {}),
      commit: () => {
        this.recordJoin(join)
        settled.commit()
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
    const leave = this.planLeave(this.current, endpoint)
    // the kernel drops the default route together with the interface it used
    const routeGone = sandbox.gateway?.network === network
    const settled = this.settle(outcome.state, container, sandbox, [], routeGone)
    return {
      steps: [...leave, ...settled.steps],
      ...(settled.dns ? { dns: settled.dns } : {}),
      commit: () => {
        this.forgetJoin(endpoint)
        settled.commit()
        this.current = outcome.state
        return endpoint
      },
    }
  }

  private hostContext(state: model.CnmState): HostContext {
    // listed only when a driver asks: joins and leaves never do, and they are the hot path
    let networks: ReadonlyArray<Network> | undefined
    return {
      ns: this.hostNs,
      get networks() {
        return (networks ??= model.networks(state))
      },
    }
  }

  private networkIn(state: model.CnmState, name: string): Network {
    return model.network(state, name) as Network
  }

  private driverOf(network: Network): Driver {
    return this.drivers.get(network.driver) as Driver
  }

  private planJoin(state: model.CnmState, endpoint: Endpoint, sandbox: Sandbox): PlannedJoin {
    const network = this.networkIn(state, endpoint.network)
    const hostIf = `vethc${(this.hostIfSeq++).toString(16)}`
    const plan = this.driverOf(network).join(network, endpoint, this.hostContext(state), { sandboxNs: sandbox.ns, hostIf })
    return { endpoint, hostIf, steps: plan.steps, ...(plan.gateway ? { gateway: plan.gateway } : {}) }
  }

  private planLeave(state: model.CnmState, endpoint: Endpoint, sandboxClosing = false): ReadonlyArray<Step> {
    const network = this.networkIn(state, endpoint.network)
    const sandbox = this.sandboxes.get(endpoint.container) as Sandbox
    const hostIf = this.hostIfs.get(key(endpoint)) ?? ""
    return this.driverOf(network).leave(network, endpoint, this.hostContext(state), { sandboxNs: sandbox.ns, hostIf, sandboxClosing })
  }

  private recordJoin(join: PlannedJoin): void {
    const k = key(join.endpoint)
    this.hostIfs.set(k, join.hostIf)
    if (join.gateway) this.gateways.set(k, join.gateway)
    const address = join.endpoint.address
    if (address && this.hasDnsRecords(join.endpoint.network)) {
      this.records.add(join.endpoint.network, dnsNames(join.endpoint), address.split("/")[0] as string)
    }
  }

  private forgetJoin(endpoint: Endpoint): void {
    const k = key(endpoint)
    this.hostIfs.delete(k)
    this.gateways.delete(k)
    if (endpoint.address && this.hasDnsRecords(endpoint.network)) {
      this.records.remove(endpoint.network, dnsNames(endpoint), endpoint.address.split("/")[0] as string)
    }
  }

  /** Docker gives embedded DNS names only on user-defined networks */
  private hasDnsRecords(networkName: string): boolean {
    const network = model.network(this.current, networkName)
    return network !== undefined && !network.predefined
  }

  /**
   * What a sandbox needs once its endpoints change: the default route through the first endpoint
   * (in sandbox order) that offers a gateway, and the embedded DNS while the container is on a
   * user-defined network. `joins` are the endpoints being added, whose gateways are not recorded yet.
   */
  private settle(
    state: model.CnmState,
    container: string,
    sandbox: Sandbox,
    joins: ReadonlyArray<PlannedJoin>,
    routeGone = false,
  ): { readonly steps: ReadonlyArray<Step>; readonly dns?: DnsChange; readonly commit: () => void } {
    if (!sandbox.own) return { steps: [], commit: () => {} }
    const gatewayOf = (e: Endpoint): string | undefined =>
      joins.find((j) => j.endpoint.network === e.network)?.gateway ?? this.gateways.get(key(e))
    const ordered = sandboxOrder(state, container)
    const gatewayEndpoint = ordered.find((e) => gatewayOf(e) !== undefined)
    const wanted: GatewayRoute | undefined = gatewayEndpoint
      ? { via: gatewayOf(gatewayEndpoint) as string, dev: gatewayEndpoint.ifname as string, network: gatewayEndpoint.network }
      : undefined
    const current = routeGone ? undefined : sandbox.gateway
    const same = current !== undefined && wanted !== undefined && current.via === wanted.via && current.dev === wanted.dev
    const doOps: KernelOp[] = []
    const undoOps: KernelOp[] = []
    if (current && !same) {
      doOps.push({ op: "routeDel", ns: sandbox.ns, route: { dst: "default", via: current.via, dev: current.dev } })
    }
    if (wanted && !same) {
      doOps.push({ op: "routeAdd", ns: sandbox.ns, route: { dst: "default", via: wanted.via, dev: wanted.dev } })
      undoOps.push({ op: "routeDel", ns: sandbox.ns, route: { dst: "default", via: wanted.via, dev: wanted.dev } })
    }
    if (current && !same) {
      undoOps.push({ op: "routeAdd", ns: sandbox.ns, route: { dst: "default", via: current.via, dev: current.dev } })
    }
    const wantsDns = ordered.some((e) => !this.networkIn(state, e.network).predefined)
    return {
      steps: doOps.length === 0 ? [] : [{ name: "sandbox.gateway", do: doOps, undo: undoOps }],
      ...(wantsDns !== sandbox.dns ? { dns: { sandbox, container, serve: wantsDns } } : {}),
      commit: () => {
        sandbox.gateway = wanted
        sandbox.dns = wantsDns
      },
    }
  }

  private changeDns(change: DnsChange): Effect.Effect<void, StepFailure> {
    const { sandbox, container } = change
    const done = change.serve
      ? this.kernel.serveDns(sandbox.ns, EMBEDDED_DNS_ADDRESS, (name) =>
          this.records.answer(userNetworksInOrder(this.current, container), name),
        )
      : this.kernel.stopDns(sandbox.ns)
    return done.pipe(Effect.mapError((error) => ({ step: "sandbox.dns", error })))
  }
}

/** an operation decided by the model and planned by the drivers, not yet carried out */
interface Prepared<A> {
  readonly steps: ReadonlyArray<Step>
  /** the embedded DNS to start or stop once the steps are done */
  readonly dns?: DnsChange
  /** keep the decision (runtime bookkeeping and the model's next state); runs only after success */
  readonly commit: () => A
}

interface DnsChange {
  readonly sandbox: Sandbox
  readonly container: string
  readonly serve: boolean
}

interface GatewayRoute {
  readonly via: string
  readonly dev: string
  readonly network: string
}

const isRefusal = <A>(prepared: Prepared<A> | CnmError): prepared is CnmError => "code" in prepared

interface PlannedJoin {
  readonly endpoint: Endpoint
  readonly hostIf: string
  readonly steps: ReadonlyArray<Step>
  readonly gateway?: string
}

const key = (endpoint: Endpoint): string => `${endpoint.container}\u0000${endpoint.network}`

const dnsNames = (endpoint: Endpoint): ReadonlyArray<string> => [endpoint.container, ...endpoint.aliases]

/**
 * libnetwork keeps a sandbox's endpoints sorted: non-internal networks before internal ones, then by
 * network name. The first one with a gateway carries the default route; DNS asks networks in this order.
 */
export const sandboxOrder = (state: model.CnmState, container: string): ReadonlyArray<Endpoint> => {
  const internal = (e: Endpoint) => (model.network(state, e.network)?.internal ? 1 : 0)
  return [...model.endpointsOf(state, container)].sort(
    (a, b) => internal(a) - internal(b) || (a.network < b.network ? -1 : a.network > b.network ? 1 : 0),
  )
}

const userNetworksInOrder = (state: model.CnmState, container: string): ReadonlyArray<string> =>
  sandboxOrder(state, container)
    .filter((e) => !model.network(state, e.network)?.predefined)
    .map((e) => e.network)

const kernelFailure = (failure: StepFailure): CnmError =>
  cnmError("KernelError", `${failure.step}: ${failure.error.message}`)
