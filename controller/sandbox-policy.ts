/**
 * Sandbox policy: what a sandbox needs once its endpoints change. The default route goes through
 * the first endpoint, in libnetwork's sandbox order, that offers a gateway; the embedded DNS
 * answers for the sandbox's user-defined networks in that order, while it has any.
 */
import type { KernelOp } from "../backends/kernel-types.ts"
import type { Step } from "../drivers/Driver.ts"
import type { Endpoint, Network } from "../model/types.ts"

/*
 * Two V8 costs shape the container paths (measured on the controller benchmark, see
 * model/arrays.ts and model/container-ops.ts): what the controller keeps per container is made
 * of class instances, not object or array literals, whose allocations V8 moves to the old
 * generation for good once those of a lab's standing containers survived; and the model's
 * arrays, which are frozen, are walked by index, as for-of and the array builtins take a slow
 * path on frozen arrays.
 */

export class Sandbox {
  /** the networks its embedded DNS answers for, in sandbox order; undefined while it runs none */
  dnsNetworks: ReadonlyArray<string> | undefined = undefined
  gateway: GatewayRoute | undefined = undefined
  /** the container's endpoints as the kernel holds them, one per network (a container has a few) */
  readonly joined: Array<Joined> = noJoined.slice()

  constructor(
    readonly ns: string,
    /** false for host-network containers, whose sandbox is the host's namespace */
    readonly own: boolean,
    /** one of Docker's own sandboxes (ingress, load balancer): no embedded DNS there */
    readonly system = false,
  ) {}
}

/** never changed, only copied (not frozen: slicing a frozen array is ten times slower) */
const noJoined: ReadonlyArray<Joined> = []

/** what the controller remembers of one endpoint once it is in the kernel */
export class Joined {
  constructor(
    /** networks are immutable, and one cannot go while it has endpoints: this one stays as it is */
    readonly network: Network,
    /** its interface in the sandbox (none on host and none) */
    readonly ifname: string | undefined,
    /** the host side of its veth, needed to take it out again */
    readonly hostIf: string,
    /** the gateway its network offers the sandbox, if any */
    readonly gateway: string | undefined,
    /** Docker's gateway leg on docker_gwbridge: an anonymous endpoint, no names, not asked by DNS */
    readonly anonymous = false,
  ) {}
}

/** an endpoint planned to join a sandbox: the driver's steps and what the sandbox keeps of it */
export interface PlannedJoin {
  readonly endpoint: Endpoint
  readonly network: Network
  readonly hostIf: string
  readonly steps: ReadonlyArray<Step>
  readonly gateway: string | undefined
  /** Docker's gateway leg (see Joined) */
  readonly anonymous: boolean
}

export class GatewayRoute {
  constructor(
    readonly via: string,
    readonly dev: string,
    readonly network: string,
  ) {}
}

/** what becomes of a sandbox's DNS server: started, stopped, or answering for other networks */
export type DnsChange = "serve" | "stop" | "networks"

/** what settle decided for a sandbox; kept by keepSettled once the kernel work is done */
export class Settlement {
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

export const noSteps: ReadonlyArray<Step> = []

export const noJoins: ReadonlyArray<PlannedJoin> = []

export const unchanged = new Settlement(false, noSteps, undefined, undefined, undefined)

/**
 * libnetwork keeps a sandbox's endpoints sorted: non-internal networks before internal ones, then by
 * network name. The first one with a gateway carries the default route; DNS asks networks in this order.
 */
export const inSandboxOrder = (a: Network, b: Network): number =>
  a.internal !== b.internal ? (a.internal ? 1 : -1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0

const inResolveOrder = (a: Network, b: Network): number => {
  const swarmA = a.scope === "swarm"
  return swarmA !== (b.scope === "swarm") ? (swarmA ? -1 : 1) : inSandboxOrder(a, b)
}

/**
 * settle's search, one endpoint at a time: the user-defined networks (DNS answers for them), and
 * the first in sandbox order (the gateway leg last, non-internal before internal, then by network
 * name) with a gateway.
 */
class GatewayChoice {
  private userNetworks: Array<Network> | undefined = undefined
  network: Network | undefined = undefined
  via: string | undefined = undefined
  dev: string | undefined = undefined
  /** the chosen endpoint is the gateway leg */
  private leg = false

  consider(network: Network, via: string | undefined, dev: string | undefined, anonymous: boolean): void {
    if (!network.predefined && !anonymous) (this.userNetworks ??= []).push(network)
    if (via === undefined) return
    // libnetwork's epHeap puts the gateway leg after every other endpoint, internal ones included
    const before = this.network === undefined || (this.leg !== anonymous ? this.leg : inSandboxOrder(network, this.network) < 0)
    if (before) {
      this.network = network
      this.via = via
      this.dev = dev
      this.leg = anonymous
    }
  }

  /**
   * The user-defined networks in the order DNS asks them: swarm networks first, then local ones
   * (libnetwork's ResolveName puts a sandbox's dynamic networks before its local ones), each in
   * sandbox order; undefined when none.
   */
  dnsNetworks(): ReadonlyArray<string> | undefined {
    const networks = this.userNetworks
    if (networks === undefined) return undefined
    if (networks.length > 1) networks.sort(inResolveOrder)
    return networks.map((n) => n.name)
  }
}

const dnsChangeOf = (before: ReadonlyArray<string> | undefined, after: ReadonlyArray<string> | undefined): DnsChange | undefined => {
  if (before === undefined) return after === undefined ? undefined : "serve"
  if (after === undefined) return "stop"
  if (before.length === after.length && before.every((network, i) => network === after[i])) return undefined
  return "networks"
}

/**
 * What a sandbox needs once its endpoints change: the default route through the first endpoint
 * (in sandbox order) that offers a gateway, and the embedded DNS, answering for its user-defined
 * networks in sandbox order, while it has any. The endpoints are those the sandbox holds (its
 * `joined`, which mirror the model's), plus `joins` being added and minus those on the networks
 * `leaving`. `routeGone`: the kernel dropped the default route with the interface it used.
 */
export const settle = (
  sandbox: Sandbox,
  joins: ReadonlyArray<PlannedJoin>,
  leaving: string | ReadonlyArray<string> | undefined,
  routeGone = false,
): Settlement => {
  if (!sandbox.own) return unchanged
  // the first in sandbox order (see inSandboxOrder) among the endpoints with a gateway, found
  // without sorting nor asking the model: this runs on every join and leave, and most leave
  // the route as it is
  const found = new GatewayChoice()
  for (const joined of sandbox.joined) {
    const name = joined.network.name
    if (leaving === undefined || (typeof leaving === "string" ? name !== leaving : !leaving.includes(name))) {
      found.consider(joined.network, joined.gateway, joined.ifname, joined.anonymous)
    }
  }
  for (const join of joins) found.consider(join.network, join.gateway, join.endpoint.ifname, join.anonymous)
  const current = routeGone ? undefined : sandbox.gateway
  const same = current !== undefined && found.via !== undefined && current.via === found.via && current.dev === found.dev
  const dnsNetworks = sandbox.system ? undefined : found.dnsNetworks()
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

export const keepSettled = (sandbox: Sandbox, settled: Settlement): void => {
  if (!settled.changed) return
  sandbox.gateway = settled.gateway
  sandbox.dnsNetworks = settled.dnsNetworks
}

export const joinedOn = (sandbox: Sandbox, network: string): Joined | undefined => {
  for (const joined of sandbox.joined) if (joined.network.name === network) return joined
  return undefined
}

export const recordJoin = (sandbox: Sandbox, join: PlannedJoin): void => {
  sandbox.joined.push(new Joined(join.network, join.endpoint.ifname, join.hostIf, join.gateway, join.anonymous))
}

export const forgetJoin = (sandbox: Sandbox, network: string): void => {
  const joined = sandbox.joined
  const at = joined.findIndex((j) => j.network.name === network)
  if (at >= 0) joined.splice(at, 1)
}
