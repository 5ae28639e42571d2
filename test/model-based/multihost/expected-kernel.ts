import { Effect } from "effect"
import type { KernelShape } from "../../../backends/Kernel.ts"
import type { KernelError } from "../../../backends/KernelError.ts"
import type { FwTable, NsState } from "../../../backends/kernel-types.ts"
import { defaultPriority } from "../../../backends/linux/nft/render.ts"
import * as model from "../../../model/index.ts"
import { hostState, ingressSandbox } from "../../../model/lab-store.ts"
import { isGatewayLeg } from "../../../model/lab-sandboxes.ts"
import { containerRecord, networkRecord } from "../../../model/representation.ts"
import { bridgeOf, type ExpectedPort, firewallFacts, routeFact, tableFacts } from "../expected-kernel.ts"

/**
 * What the kernel of a multi-host lab must hold, derived from the model's lab alone (the lab's
 * namespace names, docs/multihost-lab.md; Docker 20.10's drivers, docs/docker-20.10.md §9), as
 * facts per namespace, and the same facts read back. It covers what one host's expected kernel
 * (../expected-kernel.ts) does not: which namespaces exist (sandboxes, Docker's own, one per
 * swarm network per host), the links a sandbox holds (veth or macvlan/ipvlan child, with its
 * MTU), the parents the vlan drivers made on a host (802.1Q or dummy), and in each overlay
 * namespace the vxlan device (VNI, MTU) with a permanent neighbour entry and an FDB entry
 * towards its host for every remote peer, nothing more. Routes everywhere: the connected route of
 * every address (a host's eth0 and bridges, an overlay namespace's br0, every endpoint) and a
 * sandbox's default route as libnetwork picks it; firewall tables everywhere: a host's bridge
 * firewall (as on one host, docker_gwbridge among its bridges) and the rules of each encrypted
 * network it holds, and no table anywhere else.
 *
 * Services (libnetwork 20.10 service_linux.go; docs/ports-and-services.md): in each host's
 * load-balancer sandbox of a network, every VIP a service has there as a /32 alias of the
 * sandbox's interface, and its table balancing each VIP over the tasks' addresses on that network
 * (a VIP without a task dropped), the balanced connections' source rewritten to the sandbox's own
 * address; in each host's ingress sandbox the same for every port the routing mesh publishes on
 * that host, to the tasks' ingress addresses and the target port; on the host, each such port
 * DNATed to the ingress sandbox's docker_gwbridge address, unchanged, by Docker's DOCKER-INGRESS
 * rules (meshFacts). With an outside machine, every host's default route goes through it.
 */
export type Facts = ReadonlyMap<string, ReadonlyArray<string>>

const DEFAULT_MTU = 1500
const VXLAN = "vxlan0"

export const mhNamespaces = (runId: string) => {
  const prefix = `cnm-${runId}`
  return {
    all: `${prefix}-`,
    underlay: `${prefix}-underlay`,
    host: (host: string) => `${prefix}-${host}`,
    sandbox: (container: string) => `${prefix}-c-${container}`,
    system: (host: string, sandbox: string) => `${prefix}-${host}-sb-${sandbox.slice(1)}`,
    overlay: (host: string, network: model.Network) => `${prefix}-${host}-ov-${network.id.slice(0, 10)}`,
    outside: `${prefix}-outside`,
  }
}

const mtuOf = (lab: model.LabState, network: model.Network): number => {
  if (network.scope === "swarm") return model.overlayInfo(lab, network.name)?.mtu ?? DEFAULT_MTU
  if (network.driver === "bridge") {
    const mtu = Number(network.options["com.docker.network.driver.mtu"])
    return Number.isInteger(mtu) && mtu > 0 ? mtu : DEFAULT_MTU
  }
  return DEFAULT_MTU
}

const linkKindOf = (network: model.Network): string => (network.driver === "macvlan" || network.driver === "ipvlan" ? network.driver : "veth")

export const mhExpectedKernel = (runId: string, lab: model.LabState, outside?: string): Facts => {
  const names = mhNamespaces(runId)
  const facts = new Map<string, string[]>([[names.underlay, []]])
  if (outside !== undefined) facts.set(names.outside, outsideRoutes(lab, outside))
  lab.hosts.forEach((host, index) => {
    const state = hostState(lab, index)
    const parents: string[] = []
    for (const row of model.labNetworks(lab)) {
      if (row.host !== host.name) continue
      const info = model.vlanInfo(lab, host.name, row.network.name)
      if (info?.createdParent === true) parents.push(`parent ${info.parent} ${info.parentKind === "vlan" ? "vlan" : "dummy"}`)
    }
    const toOutside = outside === undefined ? [] : [routeFact(`${model.stripPrefix(outside)}/32`, "eth0", "link", "static"), routeFact("default", "eth0", "universe", "static", model.stripPrefix(outside))]
    facts.set(names.host(host.name), [...parents, ...hostRoutesAndFirewall(lab, index), ...toOutside])
    for (const row of model.labContainers(lab)) {
      // a container on `host` shares its host's namespace: no sandbox of its own
      if (row.host === host.name && !row.container.networks.includes("host")) facts.set(names.sandbox(row.container.name), sandboxLinks(lab, index, row.container.name))
    }
    for (const sandbox of model.systemSandboxes(lab, host.name)) {
      facts.set(names.system(host.name, sandbox.name), [...sandboxLinks(lab, index, sandbox.name), ...balancerFacts(lab, index, sandbox.name)])
    }
    if (lab.swarm === undefined) return
    for (const row of model.labNetworks(lab)) {
      if (row.scope !== "swarm" || networkRecord(state, row.network.name) === undefined) continue
      const info = model.overlayInfo(lab, row.network.name) as model.OverlayInfo
      const peers = model.overlayPeers(lab, row.network.name, host.name)
      facts.set(names.overlay(host.name, row.network), [
        `vxlan vni ${info.vni} mtu ${info.mtu}`,
        // br0 holds the network's gateway address
        routeFact(row.network.subnet as string, "br0", "link", "kernel"),
        ...peers.map((peer) => `neigh ${peer.address} ${peer.mac}`),
        ...peers.map((peer) => `fdb ${peer.mac} dst ${peer.vtep}`),
      ])
    }
  })
  return facts
}

/** the host's connected routes (eth0 on the underlay, each bridge's gateway), its bridge firewall and each encrypted network's rules */
const hostRoutesAndFirewall = (lab: model.LabState, index: number): string[] => {
  const state = hostState(lab, index)
  const bridges = model.networks(state).filter((network) => network.driver === "bridge" && network.subnet !== undefined)
  const facts = [routeFact(model.formatCidr(lab.underlay), "eth0", "link", "kernel")]
  for (const network of bridges) facts.push(routeFact(network.subnet as string, bridgeOf(network), "link", "kernel"))
  const mesh = meshPorts(lab, index)
  facts.push(...firewallFacts(bridges).filter((fact) => mesh.length === 0 || !fact.startsWith("first bridge-ip/forward:")))
  facts.push(...meshFacts(bridges, mesh))
  for (const network of model.networks(state)) {
    const info = network.scope === "swarm" ? model.overlayInfo(lab, network.name) : undefined
    if (info?.encrypted === true) facts.push(...encryptionFacts(info.vni))
  }
  return facts
}

/** the outside machine: its own subnet on its eth0, and the underlay's, nothing beyond */
const outsideRoutes = (lab: model.LabState, outside: string): string[] => {
  const cidr = model.parseCidrWithAddress(outside) as { address: number; prefix: number }
  return [
    routeFact(`${model.formatIPv4(model.networkAddressOf(cidr.address, cidr.prefix))}/${cidr.prefix}`, "eth0", "link", "kernel"),
    routeFact(model.formatCidr(lab.underlay), "eth0", "link", "static"),
  ]
}

/** the address of a sandbox's endpoint on a network, and its interface */
const endpointOn = (lab: model.LabState, index: number, sandbox: string, network: string): model.Endpoint | undefined =>
  containerRecord(hostState(lab, index), sandbox)?.endpoints.find((endpoint) => endpoint.network === network && endpoint.address !== undefined && endpoint.ifname !== undefined)

/** the routing mesh's ports on the host: published on docker_gwbridge towards the ingress sandbox, the port unchanged */
const meshPorts = (lab: model.LabState, index: number): ExpectedPort[] => {
  const sandbox = endpointOn(lab, index, ingressSandbox, model.gatewayBridgeNetwork)
  if (sandbox === undefined) return []
  return model.labServices(lab).flatMap((service) =>
    service.ports
      .filter((binding) => binding.host === index && binding.proto !== "sctp")
      .map((binding) => ({
        network: model.gatewayBridgeNetwork,
        hostIp: "",
        hostPort: binding.hostPort,
        proto: binding.proto,
        containerAddress: model.stripPrefix(sandbox.address as string),
        containerPort: binding.hostPort,
      })),
  )
}

/**
 * Docker 20.10's routing-mesh rules on a host (libnetwork service_linux.go programIngress), as
 * cnmlab spells them: nat PREROUTING and OUTPUT jump first, for local destinations and with no
 * 127.0.0.0/8 exception, to DOCKER-INGRESS (`ingress-nat`), which DNATs each port to the ingress
 * sandbox unchanged; filter FORWARD jumps first to `ingress`, which accepts each port and its
 * answers on any interface; POSTROUTING masquerades a local source going to docker_gwbridge
 * (route_localnet's 127.0.0.1), and each port's connections from docker_gwbridge back onto it
 * (what br_netfilter hands to iptables in Docker); with an icc=false bridge (docker_gwbridge is
 * one), the switched frames of each port and its answers are accepted ahead of the drops.
 */
const meshFacts = (bridges: ReadonlyArray<model.Network>, ports: ReadonlyArray<ExpectedPort>): string[] => {
  if (ports.length === 0) return []
  const gwbridge = bridgeOf(bridges.find((network) => network.name === model.gatewayBridgeNetwork) as model.Network)
  const facts = [
    "chain bridge-ip/prerouting hook prerouting nat priority -100 policy accept",
    "rule bridge-ip/prerouting: ?dstLocal=true -j ingress-nat",
    "chain bridge-ip/output hook output nat priority -100 policy accept",
    "rule bridge-ip/output: ?dstLocal=true -j ingress-nat",
    "chain bridge-ip/ingress-nat",
    "chain bridge-ip/ingress",
    "rule bridge-ip/forward: -j ingress",
    "first bridge-ip/forward: -j ingress",
    `rule bridge-ip/postrouting: -o ${gwbridge} ?srcLocal=true -j MASQUERADE`,
  ]
  const iccOff = bridges.some((network) => !model.iccEnabled(network.options))
  for (const port of ports) {
    const { proto, hostPort } = port
    facts.push(
      `rule bridge-ip/ingress-nat: -p ${proto} --dport ${hostPort} -j DNAT --to ${port.containerAddress}:${hostPort}`,
      `rule bridge-ip/ingress: -p ${proto} --ctstate ESTABLISHED,RELATED ?sport=${hostPort} -j ACCEPT`,
      `rule bridge-ip/ingress: -p ${proto} --dport ${hostPort} -j ACCEPT`,
      `rule bridge-ip/postrouting: -d ${port.containerAddress}/32 -i ${gwbridge} -o ${gwbridge} -p ${proto} --dport ${hostPort} -j MASQUERADE`,
    )
    if (iccOff) facts.push(`rule bridge-l2/forward: -p ${proto} --dport ${hostPort} -j ACCEPT`, `rule bridge-l2/forward: -p ${proto} ?sport=${hostPort} -j ACCEPT`)
  }
  return facts
}

/** the tasks' addresses on a network, in replica order: the balancer's backends */
const taskAddresses = (lab: model.LabState, service: model.ServiceRecord, network: string): string[] =>
  service.replicas.flatMap((replica) =>
    model
      .labEndpointsOf(lab, replica)
      .filter((endpoint) => endpoint.network === network && endpoint.address !== undefined)
      .map((endpoint) => model.stripPrefix(endpoint.address as string)),
  )

export const BALANCER_TABLE = "cnm-service-lb"

/** a load-balancer or ingress sandbox's VIP aliases and balancer table (none for any other sandbox, or one with nothing to balance) */
const balancerFacts = (lab: model.LabState, index: number, sandbox: string): string[] => {
  const network = sandbox === ingressSandbox ? model.ingressNetwork : sandbox.startsWith("#lb-") ? sandbox.slice("#lb-".length) : undefined
  const self = network === undefined ? undefined : endpointOn(lab, index, sandbox, network)
  if (network === undefined || self === undefined) return []
  const facts: string[] = []
  const balanced: Array<{ match: string; backends: string[]; port?: number; service: string }> = []
  for (const service of model.labServices(lab)) {
    if (network === model.ingressNetwork) {
      for (const binding of service.ports) {
        if (binding.host !== index || binding.proto === "sctp") continue
        balanced.push({ match: `-p ${binding.proto} --dport ${binding.hostPort}`, backends: taskAddresses(lab, service, network), port: binding.containerPort, service: service.name })
      }
      continue
    }
    const vip = service.vips[network]
    if (vip === undefined) continue
    facts.push(`vip ${self.ifname} ${vip}/32`)
    balanced.push({ match: `-d ${vip}/32`, backends: taskAddresses(lab, service, network), service: service.name })
  }
  if (balanced.length === 0) return facts
  const self32 = model.stripPrefix(self.address as string)
  const subnet = networkRecord(hostState(lab, index), network)?.network.subnet as string
  const table = BALANCER_TABLE
  facts.push(
    `table ${table}`,
    `chain ${table}/balance hook prerouting nat priority -100 policy accept`,
    `chain ${table}/no-task hook input filter priority 0 policy accept`,
    `chain ${table}/source hook postrouting nat priority 100 policy accept`,
    `rule ${table}/source: ! -s ${self32}/32 -d ${subnet} -j SNAT --to ${self32}`,
  )
  for (const entry of balanced) {
    if (entry.backends.length === 0) facts.push(`rule ${table}/no-task: ${entry.match} -j DROP`)
    else facts.push(`rule ${table}/balance: ${entry.match} -j DNAT-BALANCE --to ${entry.backends.join(",")}${entry.port === undefined ? "" : ` --port ${entry.port}`}`)
  }
  return facts
}

/**
 * Docker 20.10's rules for an encrypted network on a host that holds it (libnetwork
 * drivers/overlay/encryption.go): its VNI's VXLAN datagrams marked on the way out (iptables
 * mangle OUTPUT) so that the out policy seals them, and dropped on the way in unless they came
 * through IPsec (the INPUT rule of 20.10.24, CVE-2023-28840); cnmlab's table overlay-esp-<vni>.
 */
const encryptionFacts = (vni: number): string[] => {
  const table = `overlay-esp-${vni}`
  return [
    `table ${table}`,
    `chain ${table}/output hook output route priority -150 policy accept`,
    `rule ${table}/output: -p udp --dport 4789 ?vni=${vni} -j MARK`,
    `chain ${table}/input hook input filter priority 0 policy accept`,
    `rule ${table}/input: -p udp --dport 4789 ?ipsec=false ?vni=${vni} -j DROP`,
  ]
}

/**
 * Whether a network's endpoint sets a gateway when it joins (libnetwork's drivers): a bridge
 * always, an internal one too; macvlan and ipvlan l2 unless internal (without a parent too: through
 * the dummy, to nowhere; libnetwork 3a4b08f0); an overlay never (its containers get a
 * docker_gwbridge leg instead); ipvlan l3 sets a device route, no gateway (l3Default).
 */
const setsGateway = (lab: model.LabState, host: string, network: model.Network): boolean => {
  if (network.driver === "bridge") return network.gateway !== undefined
  if (network.driver !== "macvlan" && network.driver !== "ipvlan") return false
  const info = model.vlanInfo(lab, host, network.name)
  return !network.internal && network.gateway !== undefined && info !== undefined && info.mode !== "l3"
}

/** the sandbox's routes: each address's connected route, and the default through libnetwork's gateway endpoint */
const sandboxRoutes = (lab: model.LabState, index: number, sandbox: string, joined: ReadonlyArray<{ endpoint: model.Endpoint; network: model.Network }>): string[] => {
  const host = (lab.hosts[index] as model.LabHost).name
  const routes: string[] = []
  for (const { endpoint } of joined) {
    const cidr = model.parseCidrWithAddress(endpoint.address as string)
    if (cidr !== undefined) routes.push(routeFact(`${model.formatIPv4(model.networkAddressOf(cidr.address, cidr.prefix))}/${cidr.prefix}`, endpoint.ifname as string, "link", "kernel"))
  }
  // libnetwork's sandbox order (epHeap): the gateway leg last, internal networks after the others, then by name; the first with a gateway wins
  const rank = (j: { endpoint: model.Endpoint; network: model.Network }) => [isGatewayLeg(lab, sandbox, j.endpoint) ? 1 : 0, j.network.internal ? 1 : 0] as const
  const gateway = joined
    .filter((j) => setsGateway(lab, host, j.network))
    .sort((a, b) => rank(a)[0] - rank(b)[0] || rank(a)[1] - rank(b)[1] || (a.network.name < b.network.name ? -1 : a.network.name > b.network.name ? 1 : 0))[0]
  if (gateway !== undefined) routes.push(routeFact("default", gateway.endpoint.ifname as string, "universe", "static", gateway.network.gateway))
  // ipvlan l3 outside an internal network routes `default dev ethN` itself (libnetwork's ipvlan Join: a connected
  // 0.0.0.0/0 on the interface), a parentless one too. Beside a gateway the join is refused.
  for (const { endpoint, network } of joined) {
    const info = network.driver === "ipvlan" ? model.vlanInfo(lab, host, network.name) : undefined
    if (info?.mode === "l3" && !network.internal) routes.push(routeFact("default", endpoint.ifname as string, "link", "static"))
  }
  return routes
}

/** every endpoint of the sandbox (its gateway leg too) as the link it is, and the sandbox's routes */
const sandboxLinks = (lab: model.LabState, index: number, sandbox: string): string[] => {
  const state = hostState(lab, index)
  const record = containerRecord(state, sandbox)
  if (record === undefined) return []
  const joined = record.endpoints.flatMap((endpoint) => {
    const network = networkRecord(state, endpoint.network)?.network
    return network === undefined || endpoint.ifname === undefined ? [] : [{ endpoint, network }]
  })
  return [
    ...joined.map(({ endpoint, network }) => `link ${endpoint.ifname} ${linkKindOf(network)} mtu ${mtuOf(lab, network)}`),
    ...sandboxRoutes(lab, index, sandbox, joined.filter((j) => j.endpoint.address !== undefined)),
  ]
}

/** the facts of one namespace as read back, in the words of mhExpectedKernel */
const factsOf = (state: NsState, kind: "host" | "sandbox" | "overlay" | "other"): string[] => [
  ...kindFacts(state, kind),
  ...state.routes.map((r) => routeFact(r.dst, r.dev, r.scope, r.origin, r.via)),
  ...state.firewall.flatMap((table) => tableFacts(withDefaults(table))),
]

/** a base chain that names no type, priority or policy has nftables' defaults (a table may leave them out) */
const withDefaults = (table: FwTable): FwTable =>
  table.chains.every((chain) => chain.hook === undefined || (chain.type !== undefined && chain.priority !== undefined && chain.policy !== undefined))
    ? table
    : {
        ...table,
        chains: table.chains.map((chain) => {
          if (chain.hook === undefined) return chain
          const type = chain.type ?? "filter"
          return { ...chain, type, priority: chain.priority ?? defaultPriority(type, chain.hook), policy: chain.policy ?? "accept" }
        }),
      }

const kindFacts = (state: NsState, kind: "host" | "sandbox" | "overlay" | "other"): string[] => {
  switch (kind) {
    case "host":
      return state.links.filter((link) => link.kind === "vlan" || link.kind === "dummy").map((link) => `parent ${link.name} ${link.kind}`)
    case "sandbox":
      return [
        ...state.links.filter((link) => link.kind !== "loopback").map((link) => `link ${link.name} ${link.kind} mtu ${link.mtu}`),
        // a /32 beside the endpoints' addresses: a service's VIP on a load balancer's interface
        ...state.addrs.filter((addr) => addr.cidr.endsWith("/32")).map((addr) => `vip ${addr.dev} ${addr.cidr}`),
      ]
    case "overlay": {
      const vxlan = state.links.find((link) => link.name === VXLAN)
      return [
        ...(vxlan === undefined ? [] : [`vxlan vni ${vxlan.vni} mtu ${vxlan.mtu}`]),
        ...state.neighs.filter((n) => n.dev === VXLAN).map((n) => `neigh ${n.ip} ${n.mac}`),
        ...state.fdb.filter((f) => f.dev === VXLAN && f.dst !== undefined).map((f) => `fdb ${f.mac} dst ${f.dst}`),
      ]
    }
    case "other":
      return []
  }
}

const count = (entries: ReadonlyArray<readonly [string, ReadonlyArray<string>]>, kind: string): number =>
  entries.reduce((sum, [, facts]) => sum + facts.filter((fact) => fact.startsWith(kind)).length, 0)

/** every namespace of the lab, read back; how many overlay peer entries, routes and firewall rules were read */
export const mhKernelFacts = (
  kernel: KernelShape,
  runId: string,
  lab: model.LabState,
): Effect.Effect<{ readonly facts: Facts; readonly peers: number; readonly routes: number; readonly rules: number; readonly vips: number; readonly balancerRules: number }, KernelError> => {
  const names = mhNamespaces(runId)
  const hosts = new Set(lab.hosts.map((host) => names.host(host.name)))
  return kernel.namespaces().pipe(
    Effect.flatMap((all) => {
      const ours = all.filter((ns) => ns.startsWith(names.all))
      return Effect.forEach(ours, (ns) =>
        kernel.read(ns).pipe(
          Effect.map((state) => {
            const kind = hosts.has(ns) ? "host" : ns.startsWith(`cnm-${runId}-c-`) || ns.includes("-sb-") ? "sandbox" : ns.includes("-ov-") ? "overlay" : "other"
            return [ns, factsOf(state, kind)] as const
          }),
        ),
      )
    }),
    Effect.map((entries) => ({
      facts: new Map(entries),
      peers: count(entries, "neigh "),
      routes: count(entries, "route "),
      rules: count(entries, "rule "),
      vips: count(entries, "vip "),
      balancerRules: count(entries, `rule ${BALANCER_TABLE}/`),
    })),
  )
}
