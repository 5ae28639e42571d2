import type { KernelShape } from "../backends/Kernel.ts"
import type { Step } from "../drivers/Driver.ts"
import type { LabState } from "../model/lab-types.ts"
import type { HostPlan } from "./Controller.ts"
import { DnsPlan } from "./dns-plan.ts"
import type { PeerWork } from "./peers.ts"
import { withServiceDns } from "./service-dns.ts"
import { balancerSteps } from "./service-lb.ts"
import { meshSteps } from "./service-mesh.ts"
import { type SocketHost, type SocketStep, socketSteps } from "./sockets.ts"
import { interleave, type ResolverPlan } from "./transaction.ts"

/** the kernel work of one lab transition, in the order it must run, with the DNS and socket work that follows it */
export interface TransitionWork {
  readonly steps: ReadonlyArray<Step>
  readonly dns: ReadonlyArray<ResolverPlan>
  readonly sockets: ReadonlyArray<SocketStep>
}

/**
 * The order of one lab transition's kernel work across hosts:
 * - the peers other hosts withdraw, first: an address that moves within the transition is gone
 *   from every host before it is programmed again;
 * - networks made, then the sandboxes' steps interleaved across hosts (every namespace, then
 *   every veth …: the kernel does each kind in one go faster than container after container);
 * - the services' balancers and the routing mesh, once their tasks' sandboxes exist;
 * - networks deleted, then the sandboxes' namespaces in one apply (their veths' wait paid once);
 * - the peers other hosts add, last, once the networks they point into exist.
 * Then every host's embedded DNS gets its own and its peers' names with the services' names, and
 * the sockets (docker-proxies, servers) start or stop.
 */
export const transitionWork = (
  kernel: KernelShape,
  hosts: ReadonlyArray<SocketHost>,
  plans: ReadonlyArray<HostPlan | undefined>,
  peers: ReadonlyArray<PeerWork>,
  before: LabState,
  after: LabState,
): TransitionWork => {
  const steps: Step[] = []
  for (const w of peers) for (const s of w.deletes) steps.push(s)
  for (const plan of plans) if (plan) for (const s of plan.created) steps.push(s)
  const sandboxes: Array<ReadonlyArray<Step>> = []
  for (const plan of plans) if (plan) for (const list of plan.sandboxes) sandboxes.push(list)
  for (const s of sandboxes.length === 1 ? (sandboxes[0] as ReadonlyArray<Step>) : interleave(sandboxes)) steps.push(s)
  for (const s of balancerSteps(hosts, before, after)) steps.push(s)
  for (const s of meshSteps(hosts, before, after)) steps.push(s)
  for (const plan of plans) if (plan) for (const s of plan.deleted) steps.push(s)
  const namespaces = plans.flatMap((plan) => plan?.namespaces ?? [])
  if (namespaces.length > 0) steps.push({ name: "sandbox.namespace", do: namespaces.map((ns) => ({ op: "nsDel", ns }) as const), undo: [] })
  for (const w of peers) for (const s of w.adds) steps.push(s)
  const dns: ResolverPlan[] = []
  hosts.forEach((host, i) => {
    const own = plans[i]?.dns
    const fromPeers = peers[i]?.dns
    const plan = own !== undefined && fromPeers !== undefined ? DnsPlan.merge([own, fromPeers]) : (own ?? fromPeers)
    if (plan !== undefined) dns.push({ resolver: host.ns, plan })
  })
  return {
    steps,
    dns: withServiceDns(hosts.map((host) => host.ns), dns, before, after),
    sockets: socketSteps(kernel, hosts, before, after),
  }
}
