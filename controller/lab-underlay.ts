import { CNMLAB_LINK_GROUP, type KernelOp } from "../backends/kernel-types.ts"
import { formatIPv4, networkAddressOf, parseIPv4, stripPrefix } from "../model/cidr.ts"
import type { LabHost } from "../model/lab-types.ts"
import { UNDERLAY_DEV, UNDERLAY_MTU } from "./host-context.ts"

/** the underlay joining the Docker hosts: a bridge in its own namespace, each host's eth0 on it */
export const UNDERLAY_BRIDGE = "ul0"

/** the name a connection uses for the machine beyond the hosts, and what its servers answer */
export const OUTSIDE = "outside"

/** the underlay's own namespace: its bridge, up */
export const underlayOps = (underlayNs: string): ReadonlyArray<KernelOp> => [
  { op: "nsAdd", ns: underlayNs },
  { op: "linkSet", ns: underlayNs, name: "lo", up: true },
  { op: "linkAdd", ns: underlayNs, link: { kind: "bridge", name: UNDERLAY_BRIDGE, up: true, group: CNMLAB_LINK_GROUP } },
]

/** a host's eth0 on the underlay bridge (port `ul-<index>`), with its underlay address */
export const hostUplinkOps = (underlayNs: string, index: number, hostNs: string, host: LabHost): ReadonlyArray<KernelOp> => [
  {
    op: "linkAdd",
    ns: underlayNs,
    link: {
      kind: "veth",
      name: `ul-${index}`,
      master: UNDERLAY_BRIDGE,
      up: true,
      mtu: UNDERLAY_MTU,
      group: CNMLAB_LINK_GROUP,
      peer: { name: UNDERLAY_DEV, ns: hostNs },
    },
  },
  { op: "addrAdd", ns: hostNs, dev: UNDERLAY_DEV, cidr: `${host.address}/${host.prefix}` },
  { op: "linkSet", ns: hostNs, name: UNDERLAY_DEV, up: true },
]

/**
 * The outside machine, as the Docker recordings had it (test/fixtures/docker-services/README.md):
 * its eth0 on the underlay bridge with its own address, a route to the underlay's subnet on that
 * link and nothing else (container subnets are unreachable from it); every host's default route
 * goes through it (a host route to it on eth0 first: Linux's `onlink`).
 */
export const outsideOps = (
  ns: string,
  underlayNs: string,
  address: string,
  hosts: ReadonlyArray<LabHost>,
  hostNamespaces: ReadonlyArray<string>,
): ReadonlyArray<KernelOp> => {
  const plain = stripPrefix(address)
  const first = hosts[0] as LabHost
  const underlay = `${formatIPv4(networkAddressOf(parseIPv4(first.address) as number, first.prefix))}/${first.prefix}`
  return [
    { op: "nsAdd", ns },
    { op: "linkSet", ns, name: "lo", up: true },
    {
      op: "linkAdd",
      ns: underlayNs,
      link: { kind: "veth", name: "ul-out", master: UNDERLAY_BRIDGE, up: true, mtu: UNDERLAY_MTU, group: CNMLAB_LINK_GROUP, peer: { name: UNDERLAY_DEV, ns } },
    },
    { op: "addrAdd", ns, dev: UNDERLAY_DEV, cidr: address },
    { op: "linkSet", ns, name: UNDERLAY_DEV, up: true },
    { op: "routeAdd", ns, route: { dst: underlay, dev: UNDERLAY_DEV, scope: "link" } },
    ...hostNamespaces.flatMap((hostNs): ReadonlyArray<KernelOp> => [
      { op: "routeAdd", ns: hostNs, route: { dst: `${plain}/32`, dev: UNDERLAY_DEV, scope: "link" } },
      { op: "routeAdd", ns: hostNs, route: { dst: "default", via: plain, dev: UNDERLAY_DEV } },
    ]),
  ]
}
