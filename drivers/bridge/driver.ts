import { CNMLAB_LINK_GROUP, type KernelOp, type LinkCommon, type VethPeer } from "../../backends/kernel-types.ts"
import type { Network } from "../../model/types.ts"
import { type Driver, type HostContext, type PublishedPort, step } from "../Driver.ts"
import { mtuOption } from "../options.ts"
import { bridgeFirewall } from "./firewall.ts"
import { BRIDGE_NAME, bridgeName } from "./names.ts"

const prefixOf = (network: Network): string => (network.subnet as string).split("/")[1] as string

/**
 * The bridge's own MAC, set when it is made, as Docker does (a random locally administered one;
 * here drawn from the network's id, so that runs replay). A bridge whose MAC was never set takes
 * the lowest MAC of its ports and changes it when that port goes; the containers' neighbour
 * caches would then hold a stale MAC for the gateway, and the host would stop answering them for
 * seconds after another container left the network.
 */
const bridgeMac = (network: Network): string => {
  const bytes = Array.from({ length: 6 }, (_, i) => Number.parseInt(network.id.slice(2 * i, 2 * i + 2), 16))
  bytes[0] = ((bytes[0] as number) & 0xfe) | 0x02
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":")
}

/** built field by field, then handed over read-only */
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** what the model does not check: the bridge device's own name (option values it validates itself) */
const checkOptions = (network: Network): string | undefined => {
  const name = network.options[BRIDGE_NAME]
  if (name !== undefined && (name.length === 0 || name.length > 15 || /[\s/]/.test(name))) {
    return `invalid bridge name "${name}" for ${BRIDGE_NAME}`
  }
  return undefined
}

/** the bridge firewall of the host's networks with these ports published */
const firewallOps = (host: HostContext, published: ReadonlyArray<PublishedPort> | undefined): ReadonlyArray<KernelOp> =>
  bridgeFirewall(host.networks, published).map((table) => ({ op: "firewallSet", ns: host.ns, table }) as const)

/**
 * Docker's bridge driver: one Linux bridge per network holding the gateway address, a veth pair per
 * endpoint (the container end created directly inside the sandbox), and the firewall of firewall.ts.
 */
export const bridgeDriver: Driver = {
  name: "bridge",
  scope: "local",
  checkOptions,

  createNetwork: (network, host) => {
    const br = bridgeName(network)
    const mtu = mtuOption(network.options)
    const withoutIt = host.networks.filter((n) => n.name !== network.name)
    return [
      step(
        "bridge.device",
        [{ op: "linkAdd", ns: host.ns, link: { kind: "bridge", name: br, mac: bridgeMac(network), group: CNMLAB_LINK_GROUP } }],
        [{ op: "linkDel", ns: host.ns, name: br }],
      ),
      // set after creation, as Docker's setupMTU does: Linux then keeps it as the user's choice,
      // where an MTU given at creation goes back to 1500 when the bridge's last port leaves
      ...(mtu ? [step("bridge.mtu", [{ op: "linkSet", ns: host.ns, name: br, mtu }])] : []),
      step("bridge.address", [{ op: "addrAdd", ns: host.ns, dev: br, cidr: `${network.gateway}/${prefixOf(network)}` }]),
      step("bridge.up", [{ op: "linkSet", ns: host.ns, name: br, up: true }]),
      step(
        "bridge.firewall",
        firewallOps(host, host.published),
        bridgeFirewall(withoutIt, host.published).map((table) => ({ op: "firewallSet", ns: host.ns, table }) as const),
      ),
    ]
  },

  deleteNetwork: (network, host) => [
    step("bridge.firewall", firewallOps(host, host.published)),
    step("bridge.device", [{ op: "linkDel", ns: host.ns, name: bridgeName(network) }]),
  ],

  // every container's join: written without spreads, which build and copy throwaway objects
  join: (network, endpoint, host, at) => {
    const mtu = mtuOption(network.options)
    const ifname = endpoint.ifname as string
    const peer: Mutable<VethPeer> = { name: ifname, ns: at.sandboxNs }
    if (endpoint.mac) peer.mac = endpoint.mac
    if (mtu) peer.mtu = mtu
    const veth: Mutable<LinkCommon> & { kind: "veth"; peer: VethPeer } = {
      kind: "veth",
      name: at.hostIf,
      master: bridgeName(network),
      up: true,
      group: CNMLAB_LINK_GROUP,
      peer,
    }
    if (mtu) veth.mtu = mtu
    const steps = [
      step("bridge.veth", [{ op: "linkAdd", ns: host.ns, link: veth }], [{ op: "linkDel", ns: host.ns, name: at.hostIf }]),
      step("bridge.address", [
        { op: "addrAdd", ns: at.sandboxNs, dev: ifname, cidr: endpoint.address as string },
        { op: "linkSet", ns: at.sandboxNs, name: ifname, up: true },
      ]),
    ]
    // ProgramExternalConnectivity: the endpoint's published ports, once its address answers
    const address = (endpoint.address as string).split("/")[0]
    const own = host.published?.filter((p) => p.network === network.name && p.containerAddress === address) ?? []
    if (own.length > 0) {
      const others = (host.published ?? []).filter((p) => !own.includes(p))
      steps.push(step("bridge.ports", firewallOps(host, host.published), firewallOps(host, others)))
    }
    // an internal network offers its gateway too: Docker 20.10 gives a container that is only on
    // internal networks `default via <gateway>`, so it reaches every address of the host (only
    // forwarding beyond is dropped); a non-internal network still wins the default route
    // (docs/docker-20.10.md §4)
    return { steps, gateway: network.gateway as string }
  },

  // deleting either end of a veth takes the other along, and so does deleting the sandbox namespace.
  // A controller that tells the driver what is published (host.published, after the leave) gets
  // the ports' rules recomputed, the leaving endpoint's gone
  leave: (_network, _endpoint, host, at) => [
    ...(host.published === undefined ? [] : [step("bridge.ports", firewallOps(host, host.published))]),
    ...(at.sandboxClosing ? [] : [step("bridge.veth", [{ op: "linkDel", ns: host.ns, name: at.hostIf }])]),
  ],
}

