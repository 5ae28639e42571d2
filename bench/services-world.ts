/**
 * The world the services benchmark measures in, built on the kernel interface: Docker hosts
 * (namespaces on an underlay bridge, ip_forward on) each with one user-defined bridge network and
 * its containers, and an outside namespace on the same underlay with routes to the containers'
 * subnets through their hosts (so a connection can go straight to a container, the baseline, or to
 * a published port on the host). The published ports' rules are the bridge driver's own
 * (drivers/bridge/firewall.ts: Docker 20.10's nat DOCKER chain, FORWARD accepts, masquerade).
 */
import { createHash } from "node:crypto"
import type { KernelShape } from "../backends/Kernel.ts"
import { CNMLAB_LINK_GROUP, type FwTable, type KernelOp } from "../backends/kernel-types.ts"
import { bridgeFirewall } from "../drivers/bridge/firewall.ts"
import { bridgeName } from "../drivers/bridge/names.ts"
import type { PublishedPort } from "../drivers/Driver.ts"
import type { Network } from "../model/types.ts"
import { run } from "./timing.ts"

export const OUTSIDE_ADDRESS = "198.18.0.100"

export interface ServiceHost {
  readonly ns: string
  /** the host's address on the underlay: what a published port is reached at */
  readonly address: string
  readonly network: Network
  /** container name → its sandbox and address */
  readonly containers: ReadonlyMap<string, { readonly ns: string; readonly address: string }>
}

export interface ServicesWorld {
  readonly outside: string
  readonly hosts: ReadonlyArray<ServiceHost>
  /** every namespace made, for teardown */
  readonly namespaces: ReadonlyArray<string>
}

/** a user-defined bridge network as the model hands it to the driver */
export const bridgeNetwork = (name: string, subnet: string, gateway: string): Network => ({
  id: createHash("sha256").update(name).digest("hex"),
  name,
  driver: "bridge",
  subnet,
  configuredSubnet: subnet,
  gateway,
  userSubnet: true,
  internal: false,
  predefined: false,
  options: {},
  seq: 1,
})

const macOf = (address: string): string =>
  ["02", "42", ...address.split(".").map((byte) => Number(byte).toString(16).padStart(2, "0"))].join(":")

export interface HostPlan {
  readonly name: string
  /** the bridge network's /16 prefix, e.g. "172.20": gateway .0.1, containers from .0.2 */
  readonly net16: string
  readonly containers: ReadonlyArray<string>
}

/** the hosts, their networks and containers, and the outside: links, addresses, routes; no firewall yet */
export const buildServicesWorld = async (kernel: KernelShape, prefix: string, plans: ReadonlyArray<HostPlan>): Promise<ServicesWorld> => {
  const underlay = `${prefix}ul`
  const outside = `${prefix}out`
  const ops: KernelOp[] = [
    { op: "nsAdd", ns: underlay },
    { op: "linkSet", ns: underlay, name: "lo", up: true },
    { op: "linkAdd", ns: underlay, link: { kind: "bridge", name: "ul0", up: true } },
    { op: "nsAdd", ns: outside },
    { op: "linkSet", ns: outside, name: "lo", up: true },
    { op: "linkAdd", ns: underlay, link: { kind: "veth", name: "ul-out", master: "ul0", up: true, group: CNMLAB_LINK_GROUP, peer: { name: "eth0", ns: outside } } },
    { op: "addrAdd", ns: outside, dev: "eth0", cidr: `${OUTSIDE_ADDRESS}/24` },
    { op: "linkSet", ns: outside, name: "eth0", up: true },
  ]
  const namespaces = [underlay, outside]
  const hosts: ServiceHost[] = plans.map((plan, index) => {
    const ns = `${prefix}${plan.name}`
    const address = `198.18.0.${index + 1}`
    const gateway = `${plan.net16}.0.1`
    const network = bridgeNetwork(`${plan.name}-net`, `${plan.net16}.0.0/16`, gateway)
    const br = bridgeName(network)
    namespaces.push(ns)
    ops.push(
      { op: "nsAdd", ns },
      { op: "linkSet", ns, name: "lo", up: true },
      { op: "linkAdd", ns: underlay, link: { kind: "veth", name: `ul-${index}`, master: "ul0", up: true, group: CNMLAB_LINK_GROUP, peer: { name: "eth0", ns } } },
      { op: "addrAdd", ns, dev: "eth0", cidr: `${address}/24` },
      { op: "linkSet", ns, name: "eth0", up: true },
      { op: "sysctlSet", ns, key: "net.ipv4.ip_forward", value: "1" },
      { op: "linkAdd", ns, link: { kind: "bridge", name: br, up: true } },
      { op: "addrAdd", ns, dev: br, cidr: `${gateway}/16` },
      // the direct path, the baseline: the outside routes the containers' subnet through the host
      { op: "routeAdd", ns: outside, route: { dst: `${plan.net16}.0.0/16`, via: address } },
    )
    const containers = new Map<string, { ns: string; address: string }>()
    plan.containers.forEach((name, i) => {
      const sandbox = `${prefix}${plan.name}-${name}`
      const containerAddress = `${plan.net16}.0.${i + 2}`
      namespaces.push(sandbox)
      containers.set(name, { ns: sandbox, address: containerAddress })
      ops.push(
        { op: "nsAdd", ns: sandbox },
        { op: "linkSet", ns: sandbox, name: "lo", up: true },
        {
          op: "linkAdd",
          ns,
          link: { kind: "veth", name: `v-${name}`, master: br, up: true, group: CNMLAB_LINK_GROUP, peer: { name: "eth0", ns: sandbox, mac: macOf(containerAddress) } },
        },
        { op: "addrAdd", ns: sandbox, dev: "eth0", cidr: `${containerAddress}/16` },
        { op: "linkSet", ns: sandbox, name: "eth0", up: true },
        { op: "routeAdd", ns: sandbox, route: { dst: "default", via: gateway, dev: "eth0" } },
      )
    })
    return { ns, address, network, containers }
  })
  await run(kernel.apply(ops))
  return { outside, hosts, namespaces }
}

/** the bridge driver's tables for `host` with these ports published: what it writes on a Docker host */
export const publishedTables = (host: ServiceHost, ports: ReadonlyArray<PublishedPort>): ReadonlyArray<FwTable> => bridgeFirewall([host.network], ports)

/** one port of a container of `host`, as `docker run -p hostPort:containerPort` publishes it */
export const portOf = (host: ServiceHost, container: string, hostPort: number, containerPort: number, proto: "tcp" | "udp" = "tcp"): PublishedPort => ({
  network: host.network.name,
  hostIp: "0.0.0.0",
  hostPort,
  proto,
  containerAddress: (host.containers.get(container) as { address: string }).address,
  containerPort,
})

/** the ops that put `tables` in place in `ns` (each replaces its table as a whole, atomically) */
export const setTables = (ns: string, tables: ReadonlyArray<FwTable>): KernelOp[] => tables.map((table) => ({ op: "firewallSet", ns, table }))

/**
 * A service VIP as nftables balances it where the kernel has no ip_vs: new connections to the
 * host's `port` go round robin to `backends` (port `backendPort`), through the one verdict
 * dnatBalance (the shape test/conformance/cases/services.ts holds both backends to).
 */
export const balancerTable = (port: number, backends: ReadonlyArray<string>, backendPort: number): FwTable => ({
  name: "vip",
  chains: [
    {
      name: "prerouting",
      hook: "prerouting",
      type: "nat",
      priority: -100,
      policy: "accept",
      rules: [{ match: { dstLocal: true, proto: "tcp", dport: port }, verdict: { kind: "dnatBalance", to: backends, port: backendPort } }],
    },
  ],
})

export const removeWorld = async (kernel: KernelShape, world: ServicesWorld): Promise<void> => {
  await run(kernel.apply([...world.namespaces].reverse().map((ns): KernelOp => ({ op: "nsDel", ns }))))
}
