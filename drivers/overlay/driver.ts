import { CNMLAB_LINK_GROUP, type KernelOp } from "../../backends/kernel-types.ts"
import type { OverlayInfo } from "../../model/lab-types.ts"
import type { Network } from "../../model/types.ts"
import { type Driver, type HostContext, type Peer, type Step, step } from "../Driver.ts"
import { markStep, secureVtepAdd, secureVtepDelete, unmarkStep } from "./encryption.ts"
import { OVERLAY_BRIDGE, OVERLAY_VXLAN, overlayNamespace, VXLAN_PORT } from "./names.ts"

const prefixOf = (network: Network): string => (network.subnet as string).split("/")[1] as string

/** what swarm allocated; a controller asking for an overlay network it did not allocate is a bug */
const overlayInfo = (network: Network, host: HostContext): OverlayInfo => {
  const info = host.overlayOf?.(network)
  if (info === undefined) throw new Error(`overlay driver: network ${network.name} has no VNI on host ${host.host}`)
  return info
}

/**
 * Docker 20.10's overlay driver (drivers/overlay: ov_network.go, joinleave.go, peerdb.go) on one
 * host. Each network gets a namespace of its own holding a bridge `br0` with the subnet's gateway
 * address and a vxlan `vxlan0` enslaved to it: VNI from swarm, UDP port 4789, learning and proxy
 * ARP on, its socket on the host (it is made from the host's namespace straight into the network's,
 * where Docker makes it on the host and moves it), with the host's underlay address as source
 * (l2miss and l3miss on, as Docker sets them: they only notify listeners).
 * Containers hang on `br0` through a veth; remote endpoints become a permanent neighbour entry
 * and a permanent FDB entry towards their host on `vxlan0` (peerAdd), so that ARP is answered
 * locally and nothing is flooded between hosts. MTU (the underlay's minus 50, or minus 76 rounded
 * to 4 when encrypted) on the vxlan, the bridge and both veth ends.
 *
 * Docker makes the namespace at a host's first join and removes it at its last leave; here it
 * lives from the network's creation on a host to its removal there (the controller calls
 * createNetwork and deleteNetwork per host), which changes nothing a container can observe.
 * Encrypted networks (encryption.ts): the VNI's mark and input rules on the host with the
 * network, and IPsec between this host and another from the first endpoint of an encrypted
 * network there to the last (secureVtepAdd/secureVtepDelete, from the controller's peer events).
 */
export const overlayDriver: Driver = {
  name: "overlay",
  scope: "global",

  createNetwork: (network, host) => {
    const { vni, mtu, encrypted } = overlayInfo(network, host)
    const ns = overlayNamespace(network, host)
    const local = host.underlay?.address
    return [
      step(
        "overlay.namespace",
        [
          { op: "nsAdd", ns },
          { op: "linkSet", ns, name: "lo", up: true },
        ],
        [{ op: "nsDel", ns }],
      ),
      step("overlay.bridge", [
        { op: "linkAdd", ns, link: { kind: "bridge", name: OVERLAY_BRIDGE, mtu, group: CNMLAB_LINK_GROUP } },
        { op: "addrAdd", ns, dev: OVERLAY_BRIDGE, cidr: `${network.gateway}/${prefixOf(network)}` },
        { op: "linkSet", ns, name: OVERLAY_BRIDGE, up: true },
      ]),
      step("overlay.vxlan", [
        {
          op: "linkAdd",
          ns: host.ns,
          link: {
            kind: "vxlan",
            name: OVERLAY_VXLAN,
            vni,
            port: VXLAN_PORT,
            ...(local === undefined ? {} : { local }),
            learning: true,
            proxy: true,
            l2miss: true,
            l3miss: true,
            mtu,
            targetNs: ns,
            master: OVERLAY_BRIDGE,
            up: true,
            group: CNMLAB_LINK_GROUP,
          },
        },
      ]),
      ...(encrypted ? [markStep(vni, host)] : []),
    ]
  },

  // the namespace takes its bridge, vxlan and veths along (and the veths' container ends)
  deleteNetwork: (network, host) => {
    const { vni, encrypted } = overlayInfo(network, host)
    return [...(encrypted ? [unmarkStep(vni, host)] : []), step("overlay.namespace", [{ op: "nsDel", ns: overlayNamespace(network, host) }])]
  },

  join: (network, endpoint, host, at) => {
    const { mtu } = overlayInfo(network, host)
    const ns = overlayNamespace(network, host)
    const ifname = endpoint.ifname as string
    return {
      steps: [
        step(
          "overlay.veth",
          [
            {
              op: "linkAdd",
              ns,
              link: {
                kind: "veth",
                name: at.hostIf,
                mtu,
                master: OVERLAY_BRIDGE,
                up: true,
                group: CNMLAB_LINK_GROUP,
                peer: { name: ifname, ns: at.sandboxNs, mtu, ...(endpoint.mac ? { mac: endpoint.mac } : {}) },
              },
            },
          ],
          [{ op: "linkDel", ns, name: at.hostIf }],
        ),
        step("overlay.address", [
          { op: "addrAdd", ns: at.sandboxNs, dev: ifname, cidr: endpoint.address as string },
          { op: "linkSet", ns: at.sandboxNs, name: ifname, up: true },
        ]),
      ],
      // the overlay endpoint sets no gateway: Docker gives the container a docker_gwbridge leg
    }
  },

  leave: (network, _endpoint, host, at) =>
    at.sandboxClosing ? [] : [step("overlay.veth", [{ op: "linkDel", ns: overlayNamespace(network, host), name: at.hostIf }])],

  peerAdd: (network, peer, host) => {
    const ns = overlayNamespace(network, host)
    return [
      step("overlay.peer.neighbour", [neighbour(ns, peer)], [{ op: "neighDel", ns, dev: OVERLAY_VXLAN, ip: peer.address }]),
      step("overlay.peer.fdb", [fdbEntry(ns, peer, "fdbAdd")], [fdbEntry(ns, peer, "fdbDel")]),
    ]
  },

  secureVtepAdd,
  secureVtepDelete,

  peerDelete: (network, peer, host) => {
    const ns = overlayNamespace(network, host)
    return [
      step("overlay.peer.fdb", [fdbEntry(ns, peer, "fdbDel")], [fdbEntry(ns, peer, "fdbAdd")]),
      step("overlay.peer.neighbour", [{ op: "neighDel", ns, dev: OVERLAY_VXLAN, ip: peer.address }], [neighbour(ns, peer)]),
      // what br0 learned of the MAC behind vxlan0 goes too (libnetwork's DeleteNeighbor): a task that moves here keeping its
      // address and MAC would otherwise be sent into the tunnel until the entry ages out (found by the multi-host differential)
      step("overlay.peer.learned", [{ op: "fdbForget", ns, dev: OVERLAY_VXLAN, mac: peer.mac }]),
    ]
  },
}

/** `<ip> lladdr <mac> dev vxlan0 permanent`: what proxy ARP answers with */
const neighbour = (ns: string, peer: Peer): KernelOp => ({ op: "neighAdd", ns, dev: OVERLAY_VXLAN, ip: peer.address, mac: peer.mac })

/** `<mac> dev vxlan0 dst <vtep> self permanent`: where the tunnel sends that MAC */
const fdbEntry = (ns: string, peer: Peer, op: "fdbAdd" | "fdbDel"): KernelOp => ({ op, ns, dev: OVERLAY_VXLAN, mac: peer.mac, dst: peer.vtep })
