import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import { CNMLAB_LINK_GROUP, type DnsQueryResult, type ProbeResult } from "../backends/kernel-types.ts"
import { type CnmError, cnmError } from "../model/errors.ts"
import * as model from "../model/index.ts"
import type { AttachRequest, Container, ContainerRequest, Endpoint, Network, NetworkRequest } from "../model/types.ts"
import { Controller } from "./Controller.ts"

/** the underlay joining the Docker hosts: a bridge in its own namespace, each host's eth0 on it */
const UNDERLAY_BRIDGE = "ul0"
const underlayAddress = (index: number): string => `198.18.0.${index + 1}/24`

export interface LabOptions {
  /** Docker hosts, in order; the first is the default for containers */
  readonly hosts: ReadonlyArray<string>
  /** a short tag in every namespace name, so concurrent runs never collide and `clean` finds them */
  readonly runId: string
}

/**
 * Several Docker hosts (one controller each) joined by an underlay. Local-scope networks are made
 * on every host, as a researcher would by running the same `docker network create` everywhere;
 * container names are unique across the lab.
 */
export class Lab {
  private readonly placement = new Map<string, Controller>()
  private readonly order: string[] = []

  private constructor(
    readonly kernel: KernelShape,
    readonly controllers: ReadonlyArray<Controller>,
    readonly underlayNs: string,
  ) {}

  static make(kernel: KernelShape, options: LabOptions): Effect.Effect<Lab, CnmError> {
    const prefix = `cnm-${options.runId}`
    const underlayNs = `${prefix}-underlay`
    return Effect.gen(function* () {
      yield* kernel
        .apply([
          { op: "nsAdd", ns: underlayNs },
          { op: "linkSet", ns: underlayNs, name: "lo", up: true },
          { op: "linkAdd", ns: underlayNs, link: { kind: "bridge", name: UNDERLAY_BRIDGE, up: true, group: CNMLAB_LINK_GROUP } },
        ])
        .pipe(Effect.mapError((e) => cnmError("KernelError", `underlay: ${e.message}`)))
      const controllers: Controller[] = []
      for (const [index, host] of options.hosts.entries()) {
        const hostNs = `${prefix}-${host}`
        const controller = yield* Controller.make(kernel, { host, hostNs, sandboxPrefix: `${prefix}-c-` })
        yield* kernel
          .apply([
            {
              op: "linkAdd",
              ns: underlayNs,
              link: {
                kind: "veth",
                name: `ul-${index}`,
                master: UNDERLAY_BRIDGE,
                up: true,
                group: CNMLAB_LINK_GROUP,
                peer: { name: "eth0", ns: hostNs },
              },
            },
            { op: "addrAdd", ns: hostNs, dev: "eth0", cidr: underlayAddress(index) },
            { op: "linkSet", ns: hostNs, name: "eth0", up: true },
          ])
          .pipe(Effect.mapError((e) => cnmError("KernelError", `underlay of ${host}: ${e.message}`)))
        controllers.push(controller)
      }
      return new Lab(kernel, controllers, underlayNs)
    })
  }

  get hosts(): ReadonlyArray<string> {
    return this.controllers.map((c) => c.host)
  }

  controllerOf(container: string): Controller | undefined {
    return this.placement.get(container)
  }

  /** networks as the first host holds them (every host holds the same ones) */
  networks(): ReadonlyArray<Network> {
    return (this.controllers[0] as Controller).networks()
  }

  containers(): ReadonlyArray<string> {
    return this.order
  }

  /** every endpoint, in container creation order, then attach order */
  endpoints(): ReadonlyArray<Endpoint> {
    return this.order.flatMap((name) => model.endpointsOf((this.placement.get(name) as Controller).state, name))
  }

  createNetwork(request: NetworkRequest): Effect.Effect<Network, CnmError> {
    const [first, ...rest] = this.controllers as [Controller, ...Controller[]]
    return Effect.gen({ self: this }, function* () {
      const network = yield* first.createNetwork(request)
      const made: Controller[] = [first]
      for (const controller of rest) {
        const result = yield* Effect.result(controller.createNetwork(request))
        if (result._tag === "Failure") {
          for (const c of made) yield* Effect.ignore(c.removeNetwork(request.name))
          return yield* Effect.fail(result.failure)
        }
        made.push(controller)
      }
      return network
    })
  }

  removeNetwork(name: string): Effect.Effect<Network, CnmError> {
    return Effect.gen({ self: this }, function* () {
      // refuse before touching any host, so a refusal changes nothing anywhere
      for (const controller of this.controllers) {
        const check = model.removeNetwork(controller.state, name)
        if (!check.ok) return yield* Effect.fail(check.error)
      }
      let removed: Network | undefined
      for (const controller of this.controllers) removed = yield* controller.removeNetwork(name)
      return removed as Network
    })
  }

  createContainer(request: {
    readonly name: string
    readonly host?: string
    readonly networks?: ReadonlyArray<AttachRequest>
  }): Effect.Effect<Container, CnmError> {
    // no Effect.gen on the hot path: a generator per call costs more than the whole model operation
    return Effect.suspend(() => {
      const controller = request.host === undefined ? this.controllers[0] : this.controllers.find((c) => c.host === request.host)
      if (!controller) return Effect.fail(cnmError("InvalidName", `no such host: ${request.host}`))
      // a name in use on another host (a name taken on this host the model refuses itself)
      const placed = this.placement.get(request.name)
      if (placed !== undefined && placed !== controller) {
        return Effect.fail(cnmError("ContainerNameConflict", `container name "${request.name}" is already in use`))
      }
      return controller.createContainer(request).pipe(
        Effect.map((container) => {
          this.placement.set(container.name, controller)
          this.order.push(container.name)
          return container
        }),
      )
    })
  }

  /**
   * Several containers made together, each host's at once (Controller.createContainers): what a
   * scenario's setup does. All or nothing across hosts.
   */
  createContainers(
    requests: ReadonlyArray<{ readonly name: string; readonly host?: string; readonly networks?: ReadonlyArray<AttachRequest> }>,
  ): Effect.Effect<ReadonlyArray<Container>, CnmError> {
    return Effect.gen({ self: this }, function* () {
      const byHost = new Map<Controller, ContainerRequest[]>()
      const hostOf = new Map<string, Controller>()
      for (const request of requests) {
        const controller = request.host === undefined ? this.controllers[0] : this.controllers.find((c) => c.host === request.host)
        if (!controller) return yield* Effect.fail(cnmError("InvalidName", `no such host: ${request.host}`))
        const placed = this.placement.get(request.name) ?? hostOf.get(request.name)
        if (placed !== undefined && placed !== controller) {
          return yield* Effect.fail(cnmError("ContainerNameConflict", `container name "${request.name}" is already in use`))
        }
        hostOf.set(request.name, controller)
        const list = byHost.get(controller) ?? []
        list.push({ name: request.name, ...(request.networks ? { networks: request.networks } : {}) })
        byHost.set(controller, list)
      }
      const made: Array<[Controller, ReadonlyArray<Container>]> = []
      for (const [controller, list] of byHost) {
        const result = yield* Effect.result(controller.createContainers(list))
        if (result._tag === "Failure") {
          for (const [c, containers] of made) yield* Effect.ignore(c.removeContainers(containers.map((x) => x.name)))
          return yield* Effect.fail(result.failure)
        }
        made.push([controller, result.success])
      }
      for (const request of requests) {
        this.placement.set(request.name, hostOf.get(request.name) as Controller)
        this.order.push(request.name)
      }
      return made.flatMap(([, containers]) => containers)
    })
  }

  removeContainer(name: string): Effect.Effect<Container, CnmError> {
    return this.on(name, (c) =>
      c.removeContainer(name).pipe(
        Effect.map((container) => {
          this.placement.delete(name)
          // from the end: the containers removed most often are the ones created last
          const at = this.order.lastIndexOf(name)
          if (at === this.order.length - 1) this.order.pop()
          else this.order.splice(at, 1)
          return container
        }),
      ),
    )
  }

  /**
   * Remove several containers with one round of kernel work per host (Controller.removeContainers):
   * on Linux a thousand containers go in about a second, instead of 20-60 ms each one at a time.
   * Unknown or repeated names are refused before anything is removed.
   */
  removeContainers(names: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Container>, CnmError> {
    return Effect.suspend(() => {
      const byHost = new Map<Controller, string[]>()
      const seen = new Set<string>()
      for (const name of names) {
        const controller = this.placement.get(name)
        if (!controller || seen.has(name)) return Effect.fail(cnmError("ContainerNotFound", `No such container: ${name}`))
        seen.add(name)
        const group = byHost.get(controller)
        if (group) group.push(name)
        else byHost.set(controller, [name])
      }
      // what a host removed stays removed even when a later host refuses
      const forgetRemoved = (controller: Controller, group: ReadonlyArray<string>) =>
        Effect.sync(() => {
          const removed = new Set(group.filter((name) => model.container(controller.state, name) === undefined))
          for (const name of removed) this.placement.delete(name)
          let kept = 0
          for (const name of this.order) if (!removed.has(name)) this.order[kept++] = name
          this.order.length = kept
        })
      return Effect.forEach([...byHost], ([controller, group]) =>
        controller.removeContainers(group).pipe(Effect.ensuring(forgetRemoved(controller, group))),
      ).pipe(Effect.map((removed) => removed.flat()))
    })
  }

  connect(container: string, attach: AttachRequest): Effect.Effect<Endpoint, CnmError> {
    return this.on(container, (c) => c.connect(container, attach))
  }

  disconnect(container: string, network: string): Effect.Effect<Endpoint, CnmError> {
    return this.on(container, (c) => c.disconnect(container, network))
  }

  probe(from: string, address: string, trace = false): Effect.Effect<ProbeResult, CnmError> {
    return this.on(from, (c) => c.probe(from, address, trace))
  }

  resolve(from: string, name: string): Effect.Effect<DnsQueryResult, CnmError> {
    return this.on(from, (c) => c.resolve(from, name))
  }

  close(): Effect.Effect<void> {
    return this.kernel.close()
  }

  /** route an operation to the container's host (Docker looks the container up first) */
  private on<A>(container: string, operation: (controller: Controller) => Effect.Effect<A, CnmError>): Effect.Effect<A, CnmError> {
    // looked up when the effect runs, not when it is built: a composed create-then-connect must work
    return Effect.suspend(() => {
      const controller = this.placement.get(container)
      return controller ? operation(controller) : Effect.fail(cnmError("ContainerNotFound", `No such container: ${container}`))
    })
  }
}
