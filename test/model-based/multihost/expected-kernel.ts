import { Effect } from "effect"
import type { KernelShape } from "../../../backends/Kernel.ts"
import type { KernelError } from "../../../backends/KernelError.ts"
import type { NsState } from "../../../backends/kernel-types.ts"
import * as model from "../../../model/index.ts"
import { hostState } from "../../../model/lab-store.ts"
import { containerRecord, networkRecord } from "../../../model/representation.ts"

/**
 * What the kernel of a multi-host lab must hold, derived from the model's lab alone (the lab's
 * namespace names, docs/multihost-lab.md; Docker 20.10's drivers, docs/docker-20.10.md §9), as
 * facts per namespace, and the same facts read back. It covers what one host's expected kernel
 * (../expected-kernel.ts) does not: which namespaces exist (sandboxes, Docker's own, one per
 * swarm network per host), the links a sandbox holds (veth or macvlan/ipvlan child, with its
 * MTU), the parents the vlan drivers made on a host (802.1Q or dummy), and in each overlay
 * namespace the vxlan device (VNI, MTU) with a permanent neighbour entry and an FDB entry
 * towards its host for every remote peer, nothing more.
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
    facts.set(names.host(host.name), parents)
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
        ...peers.map((peer) => `neigh ${peer.address} ${peer.mac}`),
        ...peers.map((peer) => `fdb ${peer.mac} dst ${peer.vtep}`),
      ])
    }
  })
  return facts
}

/** every endpoint of the sandbox (its gateway leg too) as the link it is */
const sandboxLinks = (lab: model.LabState, index: number, sandbox: string): string[] => {
  const state = hostState(lab, index)
  const record = containerRecord(state, sandbox)
  if (record === undefined) return []
  return record.endpoints.flatMap((endpoint) => {
    const network = networkRecord(state, endpoint.network)?.network
    if (network === undefined || endpoint.ifname === undefined) return []
    return [`link ${endpoint.ifname} ${linkKindOf(network)} mtu ${mtuOf(lab, network)}`]
  })
}

/** the facts of one namespace as read back, in the words of mhExpectedKernel */
const factsOf = (state: NsState, kind: "host" | "sandbox" | "overlay" | "other"): string[] => {
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

/** every namespace of the lab, read back; `peers`: how many overlay peer entries were read */
export const mhKernelFacts = (
  kernel: KernelShape,
  runId: string,
  lab: model.LabState,
): Effect.Effect<{ readonly facts: Facts; readonly peers: number }, KernelError> => {
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
      peers: entries.reduce((sum, [, facts]) => sum + facts.filter((fact) => fact.startsWith("neigh ")).length, 0),
    })),
  )
}
