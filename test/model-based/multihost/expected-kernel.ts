import { Effect } from "effect"
import type { KernelShape } from "../../../backends/Kernel.ts"
import type { KernelError } from "../../../backends/KernelError.ts"
import type { FwTable, NsState } from "../../../backends/kernel-types.ts"
import { defaultPriority } from "../../../backends/linux/nft/render.ts"
import * as model from "../../../model/index.ts"
import { hostState } from "../../../model/lab-store.ts"
import { isGatewayLeg } from "../../../model/lab-sandboxes.ts"
import { containerRecord, networkRecord } from "../../../model/representation.ts"
import { bridgeOf, firewallFacts, routeFact, tableFacts } from "../expected-kernel.ts"

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

export const mhExpectedKernel = (runId: string, lab: model.LabState): Facts => {
  const names = mhNamespaces(runId)
  const facts = new Map<string, string[]>([[names.underlay, []]])
  lab.hosts.forEach((host, index) => {
    const state = hostState(lab, index)
    const parents: string[] = []
    for (const row of model.labNetworks(lab)) {
      if (row.host !== host.name) continue
      const info = model.vlanInfo(lab, host.name, row.network.name)
      if (info?.createdParent === true) parents.push(`parent ${info.parent} ${info.parentKind === "vlan" ? "vlan" : "dummy"}`)
    }
    facts.set(names.host(host.name), [...parents, ...hostRoutesAndFirewall(lab, index)])
    for (const row of model.labContainers(lab)) {
      // a container on `host` shares its host's namespace: no sandbox of its own
      if (row.host === host.name && !row.container.networks.includes("host")) facts.set(names.sandbox(row.container.name), sandboxLinks(lab, index, row.container.name))
    }
    for (const sandbox of model.systemSandboxes(lab, host.name)) facts.set(names.system(host.name, sandbox.name), sandboxLinks(lab, index, sandbox.name))
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
  facts.push(...firewallFacts(bridges))
  for (const network of model.networks(state)) {
    const info = network.scope === "swarm" ? model.overlayInfo(lab, network.name) : undefined
    if (info?.encrypted === true) facts.push(...encryptionFacts(info.vni))
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
 * always, an internal one too; macvlan and ipvlan l2 unless internal, and without a parent they
 * are internal to the driver (its dummy leads nowhere); an overlay never (its containers get a
 * docker_gwbridge leg instead); ipvlan l3 sets a device route, no gateway (l3Default).
 */
const setsGateway = (lab: model.LabState, host: string, network: model.Network): boolean => {
  if (network.driver === "bridge") return network.gateway !== undefined
  if (network.driver !== "macvlan" && network.driver !== "ipvlan") return false
  const info = model.vlanInfo(lab, host, network.name)
  return !network.internal && network.gateway !== undefined && info !== undefined && info.parentKind !== "dummy" && info.mode !== "l3"
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
  // 0.0.0.0/0 on the interface); a parentless one is internal to the driver. Beside a gateway the join is refused.
  for (const { endpoint, network } of joined) {
    const info = network.driver === "ipvlan" ? model.vlanInfo(lab, host, network.name) : undefined
    if (info?.mode === "l3" && !network.internal && info.parentKind !== "dummy") routes.push(routeFact("default", endpoint.ifname as string, "link", "static"))
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
      return state.links.filter((link) => link.kind !== "loopback").map((link) => `link ${link.name} ${link.kind} mtu ${link.mtu}`)
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
): Effect.Effect<{ readonly facts: Facts; readonly peers: number; readonly routes: number; readonly rules: number }, KernelError> => {
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
    })),
  )
}
