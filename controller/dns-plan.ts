/**
 * The embedded DNS's part of an operation: servers started or stopped in sandboxes, the networks
 * they answer for, names added to or removed from the host's resolver. Planned with the kernel
 * steps, carried out after them (transaction.ts).
 */
import { Effect } from "effect"
import type { KernelShape } from "../backends/Kernel.ts"
import type { KernelError } from "../backends/KernelError.ts"
import { type DnsEntry, type DnsUpdate, EMBEDDED_DNS_ADDRESS } from "../backends/kernel-types.ts"
import { embeddedDnsNames } from "../model/lab-resolve.ts"
import type { LabState } from "../model/lab-types.ts"
import type { Endpoint, Network } from "../model/types.ts"
import type { Sandbox, Settlement } from "./sandbox-policy.ts"

/** the embedded DNS's part of one operation (or of a batch), carried out after its kernel steps */
export class DnsPlan {
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
export const dnsPlan = (sandbox: Sandbox, settled: Settlement): DnsPlan | undefined => {
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

/**
 * Docker gives embedded DNS names only on user-defined networks, and only to endpoints with an
 * address; its own sandboxes (ingress, load balancers) have none, a service's task only its aliases
 * (the model's embeddedDnsNames; `lab` knows the services).
 */
export const dnsEntryOf = (network: Network, endpoint: Endpoint, lab: LabState): DnsEntry | undefined => {
  const cidr = endpoint.address
  if (network.predefined || cidr === undefined) return undefined
  const names = embeddedDnsNames(lab, endpoint)
  if (names.length === 0) return undefined
  const slash = cidr.indexOf("/")
  return { network: endpoint.network, names: [...names], address: slash < 0 ? cidr : cidr.slice(0, slash) }
}

/** `plan` with the endpoint's names added or removed (a new plan when there was none) */
export const withName = (plan: DnsPlan | undefined, change: "add" | "remove", network: Network, endpoint: Endpoint, lab: LabState): DnsPlan | undefined => {
  const entry = dnsEntryOf(network, endpoint, lab)
  if (entry === undefined) return plan
  const into = plan ?? new DnsPlan()
  into[change].push(entry)
  return into
}

/** the plan's changes to the resolver's names and the servers' networks; undefined when it has none */
export const dnsUpdateOf = (resolver: string, plan: DnsPlan): DnsUpdate | undefined => {
  if (plan.add.length === 0 && plan.remove.length === 0 && plan.networks.length === 0) return undefined
  return {
    resolver,
    ...(plan.remove.length > 0 ? { remove: plan.remove } : {}),
    ...(plan.add.length > 0 ? { add: plan.add } : {}),
    ...(plan.networks.length > 0 ? { networks: plan.networks } : {}),
  }
}

/** servers first (a refusal there changes no name), then the names and the servers' networks */
export const changeDns = (kernel: KernelShape, resolver: string, plan: DnsPlan): Effect.Effect<void, KernelError> => {
  let effect: Effect.Effect<void, KernelError> = Effect.void
  for (const [ns, networks] of plan.serve) {
    effect = effect.pipe(Effect.andThen(kernel.serveDns(ns, EMBEDDED_DNS_ADDRESS, { resolver, networks })))
  }
  for (const ns of plan.stop) effect = effect.pipe(Effect.andThen(kernel.stopDns(ns)))
  const update = dnsUpdateOf(resolver, plan)
  if (update === undefined) return effect
  return plan.serve.length === 0 && plan.stop.length === 0
    ? kernel.updateDns(update)
    : effect.pipe(Effect.andThen(kernel.updateDns(update)))
}
