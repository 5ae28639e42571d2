import type { Capabilities, LinkKind, LinkSpec } from "../kernel-types.ts"
import type { NetnsAddon } from "./addon.ts"
import { toKernelError } from "./errors.ts"
import { probeEsp } from "./esp.ts"
import { probeIpvs } from "./ipvs-probe.ts"
import { Firewall } from "./firewall.ts"
import { linkAdd } from "./links.ts"
import { NamespaceTable } from "./namespaces.ts"
import { nftUnavailable } from "./nft/run.ts"
import { IFF_UP, IFLA, RTM } from "./netlink/constants.ts"
import { attrString, ifinfomsg } from "./netlink/wire.ts"

export interface FeatureCheck {
  readonly ok: boolean
  readonly detail: string
}

export interface MeasuredFeatures {
  readonly links: Readonly<Record<LinkKind, FeatureCheck>>
  readonly firewall: FeatureCheck
  /** IPsec ESP states (Docker's encrypted overlay) */
  readonly esp: FeatureCheck
  /** IP virtual server (Docker's service load balancer) */
  readonly ipvs: FeatureCheck
}

let scratchCounter = 0

/** a throwaway namespace of ours for trying things; always deleted afterwards */
export const withScratchNamespace = async <T>(
  native: NetnsAddon,
  purpose: string,
  fn: (namespaces: NamespaceTable, ns: string) => Promise<T>,
): Promise<T> => {
  const namespaces = new NamespaceTable(native)
  const ns = `cnm-${purpose}-${process.pid}-${++scratchCounter}`
  namespaces.create(ns)
  try {
    return await fn(namespaces, ns)
  } finally {
    namespaces.delete(ns)
  }
}

/** every kind, created for real: what the kernel refuses (ipvlan here: EOPNOTSUPP) is missing */
const TRIALS: ReadonlyArray<LinkSpec> = [
  { kind: "veth", name: "t-veth0", peer: { name: "t-veth1" } },
  { kind: "bridge", name: "t-bridge" },
  { kind: "dummy", name: "t-dummy" },
  { kind: "vxlan", name: "t-vxlan", vni: 4242, port: 4789 },
  // a veth end as parent: it is the one kind every machine that runs cnmlab has
  { kind: "macvlan", name: "t-macvlan", parent: "t-veth0", mode: "bridge" },
  { kind: "ipvlan", name: "t-ipvlan", parent: "t-veth0", mode: "l2" },
  { kind: "vlan", name: "t-vlan", parent: "t-veth0", id: 10 },
]

const tryStep = (fn: () => void): FeatureCheck => {
  try {
    fn()
    return { ok: true, detail: "created" }
  } catch (error) {
    const e = toKernelError(error)
    return { ok: false, detail: `${e.reason}${e.errno ? ` (${e.errno})` : ""}: ${e.detail}` }
  }
}

let measured: Promise<MeasuredFeatures> | undefined

/** measured once per process (the kernel does not change under us); doctor measures afresh */
export const kernelFeatures = (native: NetnsAddon): Promise<MeasuredFeatures> => {
  measured ??= measureFeatures(native).catch((error: unknown) => {
    measured = undefined
    throw error
  })
  return measured
}

export const measureFeatures = (native: NetnsAddon): Promise<MeasuredFeatures> =>
  withScratchNamespace(native, "caps", async (namespaces, ns) => {
    const links = {} as Record<LinkKind, FeatureCheck>
    for (const spec of TRIALS) links[spec.kind] = tryStep(() => linkAdd(namespaces, ns, spec))
    const firewall = new Firewall(native, namespaces)
    let firewallCheck: FeatureCheck
    if (!firewall.available) firewallCheck = { ok: false, detail: nftUnavailable(native) ?? "libnftables is not usable" }
    else {
      try {
        await firewall.set(ns, {
          name: "probe",
          chains: [{ name: "forward", hook: "forward", type: "filter", policy: "accept", rules: [{ match: { ctState: ["established"] }, verdict: { kind: "accept" } }] }],
        })
        firewallCheck = { ok: true, detail: "nft table set and replaced inside a namespace" }
      } catch (error) {
        firewallCheck = { ok: false, detail: toKernelError(error).message }
      }
    }
    return { links, firewall: firewallCheck, esp: probeEsp(native, namespaces, ns), ipvs: probeIpvs(native, namespaces, ns) }
  })

export const capabilitiesFrom = (features: MeasuredFeatures): Capabilities => ({
  veth: features.links.veth.ok,
  bridge: features.links.bridge.ok,
  vxlan: features.links.vxlan.ok,
  macvlan: features.links.macvlan.ok,
  ipvlan: features.links.ipvlan.ok,
  dummy: features.links.dummy.ok,
  vlan: features.links.vlan.ok,
  firewall: features.firewall.ok,
  esp: features.esp.ok,
  ipvs: features.ipvs.ok,
})

/** brings lo up in a namespace (its 127.0.0.1/8 and local routes appear with it) */
export const loopbackUp = (namespaces: NamespaceTable, ns: string): void => {
  namespaces
    .channel(ns)
    .request(RTM.SETLINK, 0, [ifinfomsg({ flags: IFF_UP, change: IFF_UP }), attrString(IFLA.IFNAME, "lo")], "lo up")
}
