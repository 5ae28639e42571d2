import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import { type DnsEntry, type DnsQueryResult, EMBEDDED_DNS_ADDRESS, type ProbeResult } from "../backends/kernel-types.ts"
import type { Driver, Step } from "../drivers/Driver.ts"
import { builtinDrivers } from "../drivers/registry.ts"
import { type CnmError, cnmError } from "../model/errors.ts"
import * as model from "../model/index.ts"
import type { LabState } from "../model/lab-types.ts"
import { isGatewayLeg } from "../model/lab-sandboxes.ts"
import { type ContainerRecord, containerRecord, networkRecord } from "../model/representation.ts"
import type { DriverName, Endpoint, Network } from "../model/types.ts"
import { DnsPlan, dnsEntryOf, dnsPlan, withName } from "./dns-plan.ts"
import { LabHostContext } from "./host-context.ts"
import type { SwarmKeys } from "./keys.ts"
import { type PlannedJoin, Sandbox, forgetJoin, joinedOn, keepSettled, noJoins, recordJoin, settle } from "./sandbox-policy.ts"
import { runSteps } from "./steps.ts"
import { kernelFailure } from "./transaction.ts"
import { balancerSysctls } from "./service-lb.ts"

export interface ControllerOptions {
  /** the Docker host's name in the scenario */
  readonly host: string
  /** the host's network namespace (made by the controller) */
  readonly hostNs: string
  /** sandbox namespaces are named `${sandboxPrefix}${container}` */
  readonly sandboxPrefix: string
  /** Docker's own sandboxes on this host (ingress, load balancers) are named `${systemPrefix}${name without #}` */
  readonly systemPrefix?: string
  readonly drivers?: ReadonlyMap<DriverName, Driver>
  /** the swarm's data-path encryption keys, the same on every host of a lab */
  readonly swarmKeys?: () => SwarmKeys
}

/** what a lab operation changed on one host, to be realized by its controller */
export interface HostChange {
  readonly before: LabState
  readonly after: LabState
  /** networks that may have come or gone on this host */
  readonly networks: ReadonlyArray<string>
  /** containers (and Docker's own sandboxes) whose endpoints may have changed on this host */
  readonly containers: ReadonlyArray<string>
}

/**
 * One host's kernel work for a change, in the order the lab runs it: networks made, each
 * sandbox's work (kept apart so a batch can go column by column), networks deleted, and the
 * sandbox namespaces to delete last (together, so the kernel destroys them in one go).
 */
export interface HostPlan {
  readonly created: ReadonlyArray<Step>
  readonly sandboxes: ReadonlyArray<ReadonlyArray<Step>>
  readonly deleted: ReadonlyArray<Step>
  readonly namespaces: ReadonlyArray<string>
  readonly dns: DnsPlan | undefined
  /** keep the change: the host's model state and the sandboxes' bookkeeping; only after success */
  readonly commit: () => void
}

/**
 * libnetwork's job for one Docker host: the lab's model decides (validation, IPAM, for every
 * host at once) and this controller plans, with its drivers, what that decision means in its
 * host's kernel; the lab runs the plans of all hosts as one transaction, and each controller
 * keeps its host's new state only when the kernel work succeeded.
 */
export class Controller {
  private current: model.CnmState
  private readonly drivers: ReadonlyMap<DriverName, Driver>
  private readonly sandboxes = new Map<string, Sandbox>()
  private hostIfSeq = 0

  private constructor(
    readonly kernel: KernelShape,
    readonly options: ControllerOptions,
    state: model.CnmState,
  ) {
    this.drivers = options.drivers ?? builtinDrivers
    this.current = state
  }

  get host(): string {
    return this.options.host
  }

  get hostNs(): string {
    return this.options.hostNs
  }

  /** the host's Docker state as its kernel holds it */
  get state(): model.CnmState {
    return this.current
  }

  /** make the host namespace and the networks the lab's state has on the host (Docker's predefined ones) */
  static make(kernel: KernelShape, options: ControllerOptions, lab: LabState): Effect.Effect<Controller, CnmError> {
    const state = model.hostStateOf(lab, options.host) as model.CnmState
    const controller = new Controller(kernel, options, state)
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
    const context = controller.context(lab, lab, state)
    const predefined = model.networks(state).flatMap((n) => controller.driverOf(n).createNetwork(n, context))
    return runSteps(kernel, [...hostSteps, ...predefined]).pipe(Effect.mapError(kernelFailure), Effect.as(controller))
  }

  networks(): ReadonlyArray<Network> {
    return model.networks(this.current)
  }

  /** the namespace a container's packets start from */
  sandboxOf(container: string): string | undefined {
    return this.sandboxes.get(container)?.ns
  }

  /** the namespace a container's sandbox has in a host state: the host's own on `network: host`; undefined when it is not there */
  namespaceIn(state: model.CnmState, container: string): string | undefined {
    const record = containerRecord(state, container)
    if (record === undefined) return undefined
    return record.endpoints.some((endpoint) => this.networkIn(state, endpoint.network).driver === "host") ? this.hostNs : this.sandboxNs(container)
  }

  /** every sandbox namespace of its own on this host (containers' and Docker's), by name */
  ownSandboxes(): ReadonlyArray<readonly [string, string]> {
    const found: Array<readonly [string, string]> = []
    for (const [name, sandbox] of this.sandboxes) if (sandbox.own) found.push([name, sandbox.ns])
    return found
  }

  driver(name: DriverName): Driver | undefined {
    return this.drivers.get(name)
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

  /** the host as its drivers see it, between two lab states (lookups fall back to `before` for what is going) */
  context(before: LabState, after: LabState, state: model.CnmState): LabHostContext {
    return new LabHostContext(this.hostNs, this.host, before, after, state, this.kernel.capabilities.esp, this.options.swarmKeys?.())
  }

  /**
   * Plan what the change means in this host's kernel: networks made or deleted, sandboxes made,
   * joined, left or deleted, their default routes and DNS. Refused (changing nothing) when a
   * network needs a driver this cnmlab lacks or options its driver refuses.
   */
  plan(change: HostChange): HostPlan | CnmError {
    const before = this.current
    const after = model.hostStateOf(change.after, this.host) as model.CnmState
    const context = this.context(change.before, change.after, after)
    const created: Step[] = []
    const deleted: Step[] = []
    for (const name of change.networks) {
      const was = networkRecord(before, name)?.network
      const is = networkRecord(after, name)?.network
      if (was === undefined && is !== undefined) {
        const driver = this.drivers.get(is.driver)
        if (!driver) return cnmError("DriverNotFound", `driver "${is.driver}" is not available in this cnmlab version`)
        const refusal = driver.checkOptions?.(is)
        if (refusal) return cnmError("InvalidOption", refusal)
        for (const s of driver.createNetwork(is, context)) created.push(s)
      } else if (was !== undefined && is === undefined) {
        for (const s of this.driverOf(was).deleteNetwork(was, context)) deleted.push(s)
      }
    }
    const sandboxes: Array<ReadonlyArray<Step>> = []
    const namespaces: string[] = []
    const commits: Array<() => void> = []
    let dns: DnsPlan | undefined
    for (const name of change.containers) {
      const was = containerRecord(before, name)
      const is = containerRecord(after, name)
      if (was === is) continue
      const planned =
        was === undefined
          ? this.planSandbox(is as ContainerRecord, after, context, change.after)
          : is === undefined
            ? this.planClosing(was, before, context, change.before)
            : this.planChanged(was, is, before, after, context, change)
      if (planned === undefined) continue
      if (planned.steps.length > 0) sandboxes.push(planned.steps)
      if (planned.namespace !== undefined) namespaces.push(planned.namespace)
      if (planned.dns !== undefined) dns = dns === undefined ? planned.dns : DnsPlan.merge([dns, planned.dns])
      commits.push(planned.commit)
    }
    return {
      created,
      sandboxes,
      deleted,
      namespaces,
      dns,
      commit: () => {
        for (const commit of commits) commit()
        this.current = after
      },
    }
  }

  /** keep a state that differs from the current one only in what the kernel does not hold (Docker's cursors) */
  keep(lab: LabState): void {
    this.current = model.hostStateOf(lab, this.host) as model.CnmState
  }

  /**
   * After a partly failed removal: these sandboxes are gone from the kernel (their namespaces
   * were deleted before the refusal); forget them and keep the state that no longer has them.
   */
  forgetGone(names: ReadonlyArray<string>, lab: LabState): void {
    for (const name of names) this.sandboxes.delete(name)
    this.keep(lab)
  }

  /** the names a container gives the embedded DNS on this host, for a removal that went only part-way */
  namesOf(name: string, lab: LabState): ReadonlyArray<DnsEntry> {
    const record = containerRecord(this.current, name)
    if (record === undefined) return []
    return record.endpoints.flatMap((endpoint) => {
      const network = networkRecord(this.current, endpoint.network)?.network
      const entry = network === undefined ? undefined : dnsEntryOf(network, endpoint, lab)
      return entry === undefined ? [] : [entry]
    })
  }

  // -------------------------------------------------------------------------------------------

  private sandboxNs(name: string): string {
    return model.isSystemSandbox(name)
      ? `${this.options.systemPrefix ?? `${this.hostNs}-`}${name.slice(1)}`
      : `${this.options.sandboxPrefix}${name}`
  }

  /** a new sandbox with its endpoints; a host-network container's is the host's namespace */
  private planSandbox(record: ContainerRecord, state: model.CnmState, context: LabHostContext, lab: LabState): SandboxPlan {
    const { container, endpoints } = record
    let onHost = false
    for (let i = 0; i < endpoints.length; i++) {
      if (this.networkIn(state, (endpoints[i] as Endpoint).network).driver === "host") onHost = true
    }
    const system = model.isSystemSandbox(container.name)
    const sandbox = onHost ? new Sandbox(this.hostNs, false) : new Sandbox(this.sandboxNs(container.name), true, system)
    const joins = new Array<PlannedJoin>(endpoints.length)
    for (let i = 0; i < endpoints.length; i++) joins[i] = this.planJoin(state, endpoints[i] as Endpoint, sandbox, context, lab)
    const settled = settle(sandbox, joins, undefined)
    const steps: Step[] = []
    if (sandbox.own) {
      steps.push({
        name: "sandbox.namespace",
        do: [
          { op: "nsAdd", ns: sandbox.ns },
          { op: "linkSet", ns: sandbox.ns, name: "lo", up: true },
          ...(system ? balancerSysctls(sandbox.ns) : []),
        ],
        undo: [{ op: "nsDel", ns: sandbox.ns }],
      })
    }
    for (const join of joins) for (const s of join.steps) steps.push(s)
    for (const s of settled.steps) steps.push(s)
    let dns = dnsPlan(sandbox, settled)
    for (const join of joins) if (!join.anonymous) dns = withName(dns, "add", join.network, join.endpoint, lab)
    return new SandboxPlan(steps, undefined, dns, () => {
      this.sandboxes.set(container.name, sandbox)
      for (const join of joins) recordJoin(sandbox, join)
      keepSettled(sandbox, settled)
    })
  }

  /** a sandbox going: its endpoints leave, its namespace (taking links, routes and DNS server along) is deleted last */
  private planClosing(record: ContainerRecord, state: model.CnmState, context: LabHostContext, lab: LabState): SandboxPlan {
    const name = record.container.name
    const sandbox = this.sandboxes.get(name) as Sandbox
    const steps: Step[] = []
    let dns: DnsPlan | undefined
    const endpoints = record.endpoints
    for (let i = 0; i < endpoints.length; i++) {
      const endpoint = endpoints[i] as Endpoint
      for (const s of this.planLeave(state, endpoint, sandbox, context, sandbox.own)) steps.push(s)
      if (!isGatewayLeg(lab, name, endpoint)) dns = withName(dns, "remove", this.networkIn(state, endpoint.network), endpoint, lab)
    }
    return new SandboxPlan(steps, sandbox.own ? sandbox.ns : undefined, dns, () => {
      this.sandboxes.delete(name)
    })
  }

  /** endpoints left and joined on a standing sandbox (a connect, a disconnect, and the legs Docker adds or takes with them) */
  private planChanged(
    was: ContainerRecord,
    is: ContainerRecord,
    before: model.CnmState,
    after: model.CnmState,
    context: LabHostContext,
    change: HostChange,
  ): SandboxPlan | undefined {
    const sandbox = this.sandboxes.get(is.container.name) as Sandbox
    // one endpoint is the same one only with its interface and address: asking for docker_gwbridge
    // itself replaces the gateway leg there with a new endpoint (a new interface)
    const same = (a: Endpoint, b: Endpoint) => a.network === b.network && a.ifname === b.ifname && a.address === b.address
    const left = was.endpoints.filter((e) => !is.endpoints.some((other) => same(other, e)))
    const joined = is.endpoints.filter((e) => !was.endpoints.some((other) => same(other, e)))
    if (left.length === 0 && joined.length === 0) return undefined
    const steps: Step[] = []
    let dns: DnsPlan | undefined
    for (const endpoint of left) for (const s of this.planLeave(before, endpoint, sandbox, context)) steps.push(s)
    const joins = joined.map((endpoint) => this.planJoin(after, endpoint, sandbox, context, change.after))
    for (const join of joins) for (const s of join.steps) steps.push(s)
    const leaving = left.map((e) => e.network)
    // the kernel drops the default route together with the interface it used
    const routeGone = sandbox.gateway !== undefined && leaving.includes(sandbox.gateway.network)
    const settled = settle(sandbox, joins.length === 0 ? noJoins : joins, leaving.length === 0 ? undefined : leaving, routeGone)
    for (const s of settled.steps) steps.push(s)
    dns = dnsPlan(sandbox, settled)
    for (const endpoint of left) {
      if (!isGatewayLeg(change.before, endpoint.container, endpoint)) dns = withName(dns, "remove", this.networkIn(before, endpoint.network), endpoint, change.before)
    }
    for (const join of joins) if (!join.anonymous) dns = withName(dns, "add", join.network, join.endpoint, change.after)
    return new SandboxPlan(steps, undefined, dns, () => {
      for (const endpoint of left) forgetJoin(sandbox, endpoint.network)
      for (const join of joins) recordJoin(sandbox, join)
      keepSettled(sandbox, settled)
    })
  }

  private networkIn(state: model.CnmState, name: string): Network {
    return (networkRecord(state, name) as { network: Network }).network
  }

  private driverOf(network: Network): Driver {
    return this.drivers.get(network.driver) as Driver
  }

  private planJoin(state: model.CnmState, endpoint: Endpoint, sandbox: Sandbox, context: LabHostContext, lab: LabState): PlannedJoin {
    const network = this.networkIn(state, endpoint.network)
    const hostIf = `vethc${(this.hostIfSeq++).toString(16)}`
    const plan = this.driverOf(network).join(network, endpoint, context, { sandboxNs: sandbox.ns, hostIf })
    const anonymous = isGatewayLeg(lab, endpoint.container, endpoint)
    return { endpoint, network, hostIf, steps: plan.steps, gateway: plan.gateway || undefined, anonymous }
  }

  private planLeave(
    state: model.CnmState,
    endpoint: Endpoint,
    sandbox: Sandbox,
    context: LabHostContext,
    sandboxClosing = false,
  ): ReadonlyArray<Step> {
    const network = this.networkIn(state, endpoint.network)
    const hostIf = joinedOn(sandbox, endpoint.network)?.hostIf ?? ""
    return this.driverOf(network).leave(network, endpoint, context, { sandboxNs: sandbox.ns, hostIf, sandboxClosing })
  }
}

/** one sandbox's part of a host plan */
class SandboxPlan {
  constructor(
    readonly steps: ReadonlyArray<Step>,
    /** its own namespace, to delete once its endpoints are gone */
    readonly namespace: string | undefined,
    readonly dns: DnsPlan | undefined,
    readonly commit: () => void,
  ) {}
}
