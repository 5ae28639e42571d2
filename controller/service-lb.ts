/**
 * Service VIPs, balanced as libnetwork 20.10 balances them (service_linux.go addLBBackend,
 * invokeFWMarker; cnm-libnetwork.md §8.3): on each host, in the load-balancer sandbox of each
 * network (`lb-<network>`, the model's `#lb-<network>`), the VIP is a /32 alias on the
 * load-balancer endpoint's interface, so a client on that host's part of the network gets its ARP
 * answered there (the overlay's proxy ARP floods nothing between hosts); connections to the VIP are
 * spread round robin over the tasks' addresses on that network, and their source is rewritten to
 * the load-balancer endpoint's address (libnetwork's `-m ipvs --ipvs -d <subnet> -j SNAT
 * --to-source <lb address>`), so the task answers through the sandbox that translated.
 *
 * Docker does this with IPVS on a firewall mark; this kernel has no ip_vs (Capabilities.ipvs), so
 * it is the kernel interface's dnatBalance (nftables `numgen inc` map) in the sandbox's nat
 * prerouting instead. A VIP with no task has no destination in IPVS and its connections get
 * nothing back: here they are dropped. IPVS takes the connection in LOCAL_IN and sends no ICMP
 * redirect; the nat form forwards the packet back out of the interface it came in by, so the
 * sandbox's redirects are turned off to keep clients from learning a task's address from it.
 */
import type { FwTable, KernelOp } from "../backends/kernel-types.ts"
import type { Step } from "../drivers/Driver.ts"
import { stripPrefix } from "../model/cidr.ts"
import { hostState, ingressNetwork, loadBalancerSandbox } from "../model/lab-store.ts"
import type { LabState } from "../model/lab-types.ts"
import type { CnmState } from "../model/index.ts"
import { containerRecord, networkRecord } from "../model/representation.ts"
import { replicaAddresses } from "../model/services.ts"
import * as StringMap from "../model/string-map.ts"

/** the table each load-balancer sandbox holds its VIPs in */
export const VIP_TABLE = "cnm-service-vip"

/** one network's load balancer on one host, as its sandbox must hold it */
export interface VipBalancer {
  readonly ns: string
  readonly network: string
  /** the load-balancer endpoint's interface in the sandbox */
  readonly ifname: string
  /** its address, plain */
  readonly self: string
  /** the network's subnet (CIDR) */
  readonly subnet: string
  /** each VIP on the network, with the tasks' addresses it balances over (in replica order) */
  readonly vips: ReadonlyArray<{ readonly service: string; readonly vip: string; readonly backends: ReadonlyArray<string> }>
}

/** a host as the balancers see it: its index and where a sandbox's namespace is */
export interface BalancerHost {
  readonly index: number
  readonly namespaceOf: (state: CnmState, container: string) => string | undefined
}

/** the VIP balancers a host must have in a lab state (none for a network without a VIP or without a sandbox there) */
export const vipBalancersOn = (lab: LabState, host: BalancerHost): Array<VipBalancer> => {
  const byNetwork = new Map<string, Array<VipBalancer["vips"][number]>>()
  for (const service of StringMap.values(lab.services)) {
    for (const [network, vip] of Object.entries(service.vips)) {
      if (network === ingressNetwork) continue
      const backends = replicaAddresses(lab, service, network).map((entry) => entry.address)
      const list = byNetwork.get(network) ?? []
      list.push({ service: service.name, vip, backends })
      byNetwork.set(network, list)
    }
  }
  if (byNetwork.size === 0) return []
  const state = hostState(lab, host.index)
  const balancers: Array<VipBalancer> = []
  for (const [network, vips] of byNetwork) {
    const sandbox = loadBalancerSandbox(network)
    const endpoint = containerRecord(state, sandbox)?.endpoints.find((candidate) => candidate.network === network)
    const ns = host.namespaceOf(state, sandbox)
    const subnet = networkRecord(state, network)?.network.subnet
    if (endpoint?.address === undefined || endpoint.ifname === undefined || ns === undefined || subnet === undefined) continue
    balancers.push({ ns, network, ifname: endpoint.ifname, self: stripPrefix(endpoint.address), subnet, vips })
  }
  return balancers
}

/** the balancer's rules: each VIP balanced over its tasks, dropped without any; the balanced connections' source rewritten */
export const vipTable = (balancer: VipBalancer): FwTable => ({
  name: VIP_TABLE,
  chains: [
    {
      name: "vip-dnat",
      hook: "prerouting",
      type: "nat",
      priority: -100,
      policy: "accept",
      rules: balancer.vips.flatMap(({ service, vip, backends }) =>
        backends.length === 0 ? [] : [{ match: { dst: `${vip}/32` }, verdict: { kind: "dnatBalance", to: backends }, comment: `${service} on ${balancer.network}` } as const],
      ),
    },
    {
      name: "vip-none",
      hook: "input",
      type: "filter",
      priority: 0,
      policy: "accept",
      rules: balancer.vips.flatMap(({ service, vip, backends }) =>
        backends.length === 0 ? [{ match: { dst: `${vip}/32` }, verdict: { kind: "drop" }, comment: `${service}: no task` } as const] : [],
      ),
    },
    {
      name: "vip-snat",
      hook: "postrouting",
      type: "nat",
      priority: 100,
      policy: "accept",
      rules: [{ match: { dst: balancer.subnet, srcNot: `${balancer.self}/32` }, verdict: { kind: "snat", to: balancer.self }, comment: `balanced on ${balancer.network}` }],
    },
  ],
})

const forwarding = (balancer: VipBalancer, on: boolean): Array<KernelOp> => [
  { op: "sysctlSet", ns: balancer.ns, key: "net.ipv4.ip_forward", value: on ? "1" : "0" },
  { op: "sysctlSet", ns: balancer.ns, key: "net.ipv4.conf.all.send_redirects", value: on ? "0" : "1" },
  { op: "sysctlSet", ns: balancer.ns, key: `net.ipv4.conf.${balancer.ifname}.send_redirects`, value: on ? "0" : "1" },
]

const aliases = (balancer: VipBalancer, op: "addrAdd" | "addrDel", vips: ReadonlyArray<string>): Array<KernelOp> =>
  vips.map((vip) => ({ op, ns: balancer.ns, dev: balancer.ifname, cidr: `${vip}/32` }))

const vipsOf = (balancer: VipBalancer | undefined): Array<string> => (balancer === undefined ? [] : balancer.vips.map((entry) => entry.vip))

/** the state one balancer's sandbox holds: its VIPs, its table, forwarding on */
const install = (balancer: VipBalancer, was: VipBalancer | undefined): Array<KernelOp> => {
  const before = vipsOf(was)
  const after = vipsOf(balancer)
  return [
    ...(was === undefined ? forwarding(balancer, true) : []),
    ...aliases(balancer, "addrDel", before.filter((vip) => !after.includes(vip))),
    ...aliases(balancer, "addrAdd", after.filter((vip) => !before.includes(vip))),
    { op: "firewallSet", ns: balancer.ns, table: vipTable(balancer) },
  ]
}

const uninstall = (balancer: VipBalancer): Array<KernelOp> => [
  { op: "firewallDel", ns: balancer.ns, table: VIP_TABLE },
  ...aliases(balancer, "addrDel", vipsOf(balancer)),
  ...forwarding(balancer, false),
]

const same = (a: VipBalancer, b: VipBalancer): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * The kernel steps from `before` to `after` on each host. They run once the sandboxes are made,
 * before any goes: a balancer whose sandbox goes in the change goes with its namespace.
 */
export const vipSteps = (hosts: ReadonlyArray<BalancerHost>, before: LabState, after: LabState): Array<Step> => {
  if (before.services.size === 0 && after.services.size === 0) return []
  const steps: Array<Step> = []
  for (const host of hosts) {
    const was = new Map(vipBalancersOn(before, host).map((balancer) => [balancer.ns, balancer]))
    const is = new Map(vipBalancersOn(after, host).map((balancer) => [balancer.ns, balancer]))
    for (const [ns, balancer] of is) {
      const old = was.get(ns)
      if (old !== undefined && same(old, balancer)) continue
      steps.push({ name: "service.vip", do: install(balancer, old), undo: old === undefined ? uninstall(balancer) : install(old, balancer) })
    }
    for (const [ns, old] of was) {
      if (is.has(ns)) continue
      const sandboxStays = host.namespaceOf(hostState(after, host.index), loadBalancerSandbox(old.network)) === ns
      if (sandboxStays) steps.push({ name: "service.vip", do: uninstall(old), undo: install(old, undefined) })
    }
  }
  return steps
}
