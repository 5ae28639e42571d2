import { CNMLAB_LINK_GROUP, type IpvlanMode, type KernelOp, type MacMode } from "../../backends/kernel-types.ts"
import type { VlanInfo } from "../../model/lab-types.ts"
import type { Network } from "../../model/types.ts"
import { type Driver, type HostContext, type Step, step } from "../Driver.ts"

export type VlanKind = "macvlan" | "ipvlan"

/** the parent and mode the model decided; a controller asking for a network it did not plan is a bug */
const vlanInfo = (kind: VlanKind, network: Network, host: HostContext): VlanInfo => {
  const info = host.vlanOf?.(network)
  if (info === undefined) throw new Error(`${kind} driver: network ${network.name} has no parent on host ${host.host}`)
  return info
}

/** the parent link a network's creation makes: an 802.1Q sub-interface `X.N`, or a dummy */
const parentSteps = (kind: VlanKind, info: VlanInfo, host: HostContext): ReadonlyArray<Step> => {
  if (!info.createdParent) return []
  const ns = host.ns
  const undo: ReadonlyArray<KernelOp> = [{ op: "linkDel", ns, name: info.parent }]
  if (info.parentKind === "vlan" && info.vlanOf !== undefined) {
    const { link, id } = info.vlanOf
    return [
      step(
        `${kind}.parent`,
        [{ op: "linkAdd", ns, link: { kind: "vlan", name: info.parent, parent: link, id, up: true, group: CNMLAB_LINK_GROUP } }],
        undo,
      ),
    ]
  }
  return [step(`${kind}.parent`, [{ op: "linkAdd", ns, link: { kind: "dummy", name: info.parent, up: true, group: CNMLAB_LINK_GROUP } }], undo)]
}

/**
 * Docker 20.10's macvlan and ipvlan drivers (drivers/macvlan, drivers/ipvlan: the same layout).
 * A network has a parent link on its host: one that exists (eth0), or one its creation makes and
 * its removal deletes (an 802.1Q `eth0.N`, or a dummy `dm-`/`di-<id>` when no parent was given).
 * Each endpoint is a child of that parent, created straight inside the container's namespace with
 * its address (and, macvlan, its MAC; ipvlan children share the parent's). The default route:
 * macvlan and ipvlan l2 offer the network's gateway unless the network is internal, on a dummy
 * parent too (Docker 20.10 no longer makes a parentless network internal: libnetwork 3a4b08f0);
 * ipvlan l3 has no gateway and no ARP,
 * only `default dev ethN`, which the join adds itself (Docker's AddStaticRoute, outside gateway
 * selection).
 */
export const vlanDriver = (kind: VlanKind): Driver => ({
  name: kind,
  scope: "local",

  createNetwork: (network, host) => parentSteps(kind, vlanInfo(kind, network, host), host),

  // the children are gone by now (Docker refuses to remove a network with endpoints); a parent
  // another network on this host still stands on is handed over to it (model dropVlan), not deleted
  deleteNetwork: (network, host) => {
    const info = vlanInfo(kind, network, host)
    const heir = host.networks.some((other) => other.id !== network.id && host.vlanOf?.(other)?.parent === info.parent)
    return info.createdParent && !heir ? [step(`${kind}.parent`, [{ op: "linkDel", ns: host.ns, name: info.parent }])] : []
  },

  join: (network, endpoint, host, at) => {
    const info = vlanInfo(kind, network, host)
    const ifname = endpoint.ifname as string
    const sandbox = at.sandboxNs
    const child: KernelOp =
      kind === "macvlan"
        ? {
            op: "linkAdd",
            ns: host.ns,
            link: {
              kind: "macvlan",
              name: ifname,
              parent: info.parent,
              mode: info.mode as MacMode,
              targetNs: sandbox,
              group: CNMLAB_LINK_GROUP,
              ...(endpoint.mac ? { mac: endpoint.mac } : {}),
            },
          }
        : {
            op: "linkAdd",
            ns: host.ns,
            link: { kind: "ipvlan", name: ifname, parent: info.parent, mode: info.mode as IpvlanMode, targetNs: sandbox, group: CNMLAB_LINK_GROUP },
          }
    const l3 = kind === "ipvlan" && info.mode === "l3"
    const steps = [
      step(`${kind}.child`, [child], [{ op: "linkDel", ns: sandbox, name: ifname }]),
      step(`${kind}.address`, [
        { op: "addrAdd", ns: sandbox, dev: ifname, cidr: endpoint.address as string },
        { op: "linkSet", ns: sandbox, name: ifname, up: true },
        ...(l3 && !network.internal ? [{ op: "routeAdd", ns: sandbox, route: { dst: "default", dev: ifname, scope: "link" } } as const] : []),
      ]),
    ]
    const offersGateway = !l3 && !network.internal && network.gateway !== undefined
    return offersGateway ? { steps, gateway: network.gateway as string } : { steps }
  },

  // the child lives in the sandbox: deleting it there (or the sandbox itself) is all
  leave: (_network, endpoint, _host, at) =>
    at.sandboxClosing ? [] : [step(`${kind}.child`, [{ op: "linkDel", ns: at.sandboxNs, name: endpoint.ifname as string }])],
})
