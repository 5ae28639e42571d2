/**
 * Service VIPs and the routing mesh's ports, balanced as libnetwork 20.10 balances them
 * (service_linux.go addLBBackend, invokeFWMarker; cnm-libnetwork.md §8.3): on each host, in the
 * load-balancer sandbox of each
 * network (`lb-<network>`, the model's `#lb-<network>`), the VIP is a /32 alias on the
 * load-balancer endpoint's interface, so a client on that host's part of the network gets its ARP
 * answered there (the overlay's proxy ARP floods nothing between hosts); connections to the VIP are
 * spread round robin over the tasks' addresses on that network, and their source is rewritten to
 * the load-balancer endpoint's address (libnetwork's `-m ipvs --ipvs -d <subnet> -j SNAT
 * --to-source <lb address>`), so the task answers through the sandbox that translated.
 *
 * The routing mesh is the same in each host's ingress sandbox: connections to a published port
 * (DNATed there by the host, service-mesh.ts) go round robin to the tasks' `ingress` addresses and
 * the service's target port, their source rewritten to the sandbox's `ingress` address.
 *
 * Docker does this with IPVS on a firewall mark. Here it is the kernel interface's dnatBalance in
 * the sandbox's nat prerouting, which the linux backend carries out by IPVS on a firewall mark
 * where the kernel has ip_vs (Capabilities.ipvs) and by nftables' `numgen inc` map where it has
 * not (as on this kernel, and in the simulator). A VIP with no task has no destination in IPVS and its connections get
 * nothing back: here they are dropped. IPVS takes the connection in LOCAL_IN and sends no ICMP
 * redirect; the nat form forwards the packet back out of the interface it came in by, so the
 * sandbox forwards and sends no redirects (balancerSysctls, from its creation on).
 */
import type { FwTable, KernelOp } from "../backends/kernel-types.ts"
import type { Step } from "../drivers/Driver.ts"
import { stripPrefix } from "../model/cidr.ts"
import { hostState, ingressNetwork, ingressSandbox, loadBalancerSandbox } from "../model/lab-store.ts"
import type { LabState } from "../model/lab-types.ts"
import type { CnmState } from "../model/index.ts"
import { containerRecord, networkRecord } from "../model/representation.ts"
import { replicaAddresses } from "../model/services.ts"
import * as StringMap from "../model/string-map.ts"

/** the table each load-balancer sandbox holds its VIPs in */
export const BALANCER_TABLE = "cnm-service-lb"

/** what one balancer spreads: connections to a VIP (any port), or to a published port of the routing mesh */
export interface Balanced {
  readonly service: string
  /** vip mode: the VIP, an alias of the balancer's interface */
  readonly vip?: string
  /** the routing mesh: the published port */
  readonly published?: { readonly proto: "tcp" | "udp"; readonly port: number; readonly target: number }
  /** the tasks' addresses on the network, in replica order */
  readonly backends: ReadonlyArray<string>
}

/** one network's load balancer on one host, as its sandbox must hold it */
export interface Balancer {
  readonly ns: string
  readonly network: string
  /** the balancer endpoint's interface in the sandbox */
  readonly ifname: string
  /** its address, plain */
  readonly self: string
  /** the network's subnet (CIDR) */
  readonly subnet: string
  readonly balanced: ReadonlyArray<Balanced>
}

/** a host as the balancers see it: its index and where a sandbox's namespace is */
export interface BalancerHost {
  readonly index: number
  readonly namespaceOf: (state: CnmState, container: string) => string | undefined
}

/**
 * What each network's balancer spreads on one host: every VIP of the network, and on `ingress`
 * every port the routing mesh publishes on the host (in the ingress sandbox, which libnetwork
 * marks by published port: invokeFWMarker with the ingress ports).
 */
const balancedOn = (lab: LabState, host: number): Map<string, Array<Balanced>> => {
  const byNetwork = new Map<string, Array<Balanced>>()
  const add = (network: string, entry: Balanced) => byNetwork.set(network, [...(byNetwork.get(network) ?? []), entry])
  for (const service of StringMap.values(lab.services)) {
    for (const [network, vip] of Object.entries(service.vips)) {
      if (network === ingressNetwork) continue
      add(network, { service: service.name, vip, backends: replicaAddresses(lab, service, network).map((entry) => entry.address) })
    }
    const ingress = service.ports.length === 0 ? [] : replicaAddresses(lab, service, ingressNetwork).map((entry) => entry.address)
    for (const binding of service.ports) {
      if (binding.host !== host || binding.proto === "sctp") continue
      add(ingressNetwork, { service: service.name, published: { proto: binding.proto, port: binding.hostPort, target: binding.containerPort }, backends: ingress })
    }
  }
  return byNetwork
}

/** the balancers a host must have in a lab state (none for a network without a sandbox there) */
export const balancersOn = (lab: LabState, host: BalancerHost): Array<Balancer> => {
  const byNetwork = balancedOn(lab, host.index)
  if (byNetwork.size === 0) return []
  const state = hostState(lab, host.index)
  const balancers: Array<Balancer> = []
  for (const [network, balanced] of byNetwork) {
    const sandbox = network === ingressNetwork ? ingressSandbox : loadBalancerSandbox(network)
    const endpoint = containerRecord(state, sandbox)?.endpoints.find((candidate) => candidate.network === network)
    const ns = host.namespaceOf(state, sandbox)
    const subnet = networkRecord(state, network)?.network.subnet
    if (endpoint?.address === undefined || endpoint.ifname === undefined || ns === undefined || subnet === undefined) continue
    balancers.push({ ns, network, ifname: endpoint.ifname, self: stripPrefix(endpoint.address), subnet, balanced })
  }
  return balancers
}

const matchOf = (entry: Balanced) =>
  entry.vip !== undefined ? { dst: `${entry.vip}/32` } : { proto: entry.published?.proto, dport: entry.published?.port }

/** the balancer's rules: each VIP or port balanced over its tasks, dropped without any; the balanced connections' source rewritten */
export const balancerTable = (balancer: Balancer): FwTable => ({
  name: BALANCER_TABLE,
  chains: [
    {
      name: "balance",
      hook: "prerouting",
      type: "nat",
      priority: -100,
      policy: "accept",
      rules: balancer.balanced.flatMap((entry) =>
        entry.backends.length === 0
          ? []
          : [
              {
                match: matchOf(entry),
                verdict: { kind: "dnatBalance", to: entry.backends, ...(entry.published !== undefined ? { port: entry.published.target } : {}) },
                comment: `${entry.service} on ${balancer.network}`,
              } as const,
            ],
      ),
    },
    {
      name: "no-task",
      hook: "input",
      type: "filter",
      priority: 0,
      policy: "accept",
      rules: balancer.balanced.flatMap((entry) =>
        entry.backends.length === 0 ? [{ match: matchOf(entry), verdict: { kind: "drop" }, comment: `${entry.service}: no task` } as const] : [],
      ),
    },
    {
      name: "source",
      hook: "postrouting",
      type: "nat",
      priority: 100,
      policy: "accept",
      rules: [{ match: { dst: balancer.subnet, srcNot: `${balancer.self}/32` }, verdict: { kind: "snat", to: balancer.self }, comment: `balanced on ${balancer.network}` }],
    },
  ],
})

/**
 * What Docker's load-balancer and ingress sandboxes are given when they are made (libnetwork sets
 * its IPVS sysctls there at creation and never takes them back): here forwarding, which the nat
 * form needs, and no ICMP redirects, for every interface the sandbox will have (`default` is what
 * a new interface starts from). Set with the sandbox's namespace, so a service change that is
 * refused has no sysctl to take back.
 */
export const balancerSysctls = (ns: string): Array<KernelOp> => [
  { op: "sysctlSet", ns, key: "net.ipv4.ip_forward", value: "1" },
  { op: "sysctlSet", ns, key: "net.ipv4.conf.all.send_redirects", value: "0" },
  { op: "sysctlSet", ns, key: "net.ipv4.conf.default.send_redirects", value: "0" },
]

const alias = (balancer: Balancer, vip: string): { add: KernelOp; del: KernelOp } => ({
  add: { op: "addrAdd", ns: balancer.ns, dev: balancer.ifname, cidr: `${vip}/32` },
  del: { op: "addrDel", ns: balancer.ns, dev: balancer.ifname, cidr: `${vip}/32` },
})

const vipsOf = (balancer: Balancer | undefined): Array<string> =>
  balancer === undefined ? [] : balancer.balanced.flatMap((entry) => (entry.vip === undefined ? [] : [entry.vip]))

const tableOps = (balancer: Balancer | undefined, ns: string): KernelOp =>
  balancer === undefined ? { op: "firewallDel", ns, table: BALANCER_TABLE } : { op: "firewallSet", ns, table: balancerTable(balancer) }

/**
 * One sandbox's balancer from `was` to `is` (either absent), one kernel operation a step, each
 * with its inverse, so that a refusal midway takes back exactly what was done: VIPs that go, VIPs
 * that come, then the table.
 */
const change = (ns: string, was: Balancer | undefined, is: Balancer | undefined): Array<Step> => {
  const before = vipsOf(was)
  const after = vipsOf(is)
  const steps: Array<Step> = []
  for (const vip of before) {
    if (after.includes(vip)) continue
    const ops = alias(was as Balancer, vip)
    steps.push({ name: "service.balancer", do: [ops.del], undo: [ops.add] })
  }
  for (const vip of after) {
    if (before.includes(vip)) continue
    const ops = alias(is as Balancer, vip)
    steps.push({ name: "service.balancer", do: [ops.add], undo: [ops.del] })
  }
  steps.push({ name: "service.balancer", do: [tableOps(is, ns)], undo: [tableOps(was, ns)] })
  return steps
}

const same = (a: Balancer, b: Balancer): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * The kernel steps from `before` to `after` on each host. They run once the sandboxes are made,
 * before any goes: a balancer whose sandbox goes in the change goes with its namespace.
 */
export const balancerSteps = (hosts: ReadonlyArray<BalancerHost>, before: LabState, after: LabState): Array<Step> => {
  if (before.services.size === 0 && after.services.size === 0) return []
  const steps: Array<Step> = []
  for (const host of hosts) {
    const was = new Map(balancersOn(before, host).map((balancer) => [balancer.ns, balancer]))
    const is = new Map(balancersOn(after, host).map((balancer) => [balancer.ns, balancer]))
    for (const [ns, balancer] of is) {
      const old = was.get(ns)
      if (old === undefined || !same(old, balancer)) steps.push(...change(ns, old, balancer))
    }
    for (const [ns, old] of was) {
      if (is.has(ns)) continue
      const sandbox = old.network === ingressNetwork ? ingressSandbox : loadBalancerSandbox(old.network)
      if (host.namespaceOf(hostState(after, host.index), sandbox) === ns) steps.push(...change(ns, old, undefined))
    }
  }
  return steps
}
