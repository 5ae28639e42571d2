import type { FwChain, FwRule, FwTable } from "../../backends/kernel-types.ts"
import type { Network } from "../../model/types.ts"
import type { PublishedPort } from "../Driver.ts"
import { boolOption } from "../options.ts"
import { bridgeName, ICC, MASQUERADE } from "./names.ts"

const accept = { kind: "accept" } as const
const drop = { kind: "drop" } as const

/**
 * The bridge driver's firewall, as Docker 20.10 programs it with iptables, expressed as nftables tables:
 * - routed traffic (hook forward, policy drop as Docker leaves FORWARD): isolation first
 *   (DOCKER-ISOLATION-STAGE-1/2: nothing enters a bridge from another bridge; an internal network
 *   neither leaves nor receives traffic outside its subnet), then replies into each bridge and
 *   anything out of a non-internal bridge;
 * - masquerade of each non-internal network's subnet leaving by another device;
 * - icc=false: frames switched between two ports of that bridge are dropped (Docker needs br_netfilter
 *   and `-i br -o br -j DROP` for that; the bridge family's forward hook says the same without it).
 * - published ports (with userland-proxy on, Docker's default): see publishing below.
 * Recomputed from all bridge networks of the host on every change, and replaced atomically.
 */
export const bridgeFirewall = (networks: ReadonlyArray<Network>, published: ReadonlyArray<PublishedPort> = []): ReadonlyArray<FwTable> => {
  const bridges = networks.filter((n) => n.driver === "bridge" && n.subnet !== undefined)
  const stage1: FwRule[] = []
  const stage2: FwRule[] = []
  const forward: FwRule[] = [{ match: {}, verdict: { kind: "jump", chain: "isolation-stage-1" } }]
  const postrouting: FwRule[] = []
  const switched: FwRule[] = []
  const publishing = publishingRules(bridges.filter((n) => !n.internal), published)
  for (const network of bridges) {
    const br = bridgeName(network)
    const subnet = network.subnet as string
    if (network.internal) {
      stage1.push({ match: { iif: br, dstNot: subnet }, verdict: drop, comment: `${network.name}: internal` })
      stage1.push({ match: { oif: br, srcNot: subnet }, verdict: drop, comment: `${network.name}: internal` })
    } else {
      stage1.push({ match: { iif: br, oifNot: br }, verdict: { kind: "jump", chain: "isolation-stage-2" } })
      stage2.push({ match: { oif: br }, verdict: drop, comment: `${network.name}: isolation` })
      forward.push({ match: { oif: br, ctState: ["established", "related"] }, verdict: accept })
      // FORWARD -o br -j DOCKER: the published ports' accepts, right after the replies
      if (publishing !== undefined) forward.push({ match: { oif: br }, verdict: { kind: "jump", chain: DOCKER_FILTER } })
      forward.push({ match: { iif: br, oifNot: br }, verdict: accept, comment: `${network.name}: outbound` })
      if (boolOption(network.options, MASQUERADE, true)) {
        postrouting.push({ match: { src: subnet, oifNot: br }, verdict: { kind: "masquerade" } })
      }
    }
    if (!boolOption(network.options, ICC, true)) {
      switched.push({ match: { bridge: br }, verdict: drop, comment: `${network.name}: icc disabled` })
    }
  }
  if (publishing !== undefined) postrouting.push(...publishing.hairpin)
  const routed: ReadonlyArray<FwChain> = [
    { name: "forward", hook: "forward", type: "filter", priority: 0, policy: "drop", rules: forward },
    { name: "isolation-stage-1", rules: stage1 },
    { name: "isolation-stage-2", rules: stage2 },
    { name: "postrouting", hook: "postrouting", type: "nat", priority: 100, policy: "accept", rules: postrouting },
    ...(publishing?.chains ?? []),
  ]
  return [
    { name: "bridge-ip", chains: routed },
    {
      name: "bridge-l2",
      chains: [{ name: "forward", hook: "bridge-forward", type: "filter", priority: 0, policy: "accept", rules: switched }],
    },
  ]
}

const DOCKER_FILTER = "docker"
const DOCKER_NAT = "docker-nat"

/**
 * Docker 20.10's rules for published ports (libnetwork's bridge driver, iptables, userland proxy
 * on), for the ports of non-internal bridge networks only (an internal network publishes nothing):
 * - nat PREROUTING `-m addrtype --dst-type LOCAL -j DOCKER`, and OUTPUT the same but
 *   `! -d 127.0.0.0/8` (loopback is docker-proxy's);
 * - nat DOCKER: `-i br -j RETURN` for every bridge (from a bridge, a published port is
 *   docker-proxy's too: the hairpin), then per port `! -i br -p P [-d hostIp] --dport H -j DNAT
 *   --to-destination C:P`;
 * - filter FORWARD `-o br -j DOCKER`, and DOCKER `-d C/32 ! -i br -o br -p P --dport P -j ACCEPT`;
 * - nat POSTROUTING `-s C/32 -d C/32 -p P --dport P -j MASQUERADE` (a container reaching its own
 *   published port through the hairpin).
 * Undefined when nothing is published, which leaves the tables as they were before ports existed.
 */
const publishingRules = (
  bridges: ReadonlyArray<Network>,
  published: ReadonlyArray<PublishedPort>,
): { readonly chains: ReadonlyArray<FwChain>; readonly hairpin: ReadonlyArray<FwRule> } | undefined => {
  const byName = new Map(bridges.map((n) => [n.name, n]))
  const ports = published.filter((p) => byName.has(p.network))
  if (ports.length === 0) return undefined
  const jumpToDocker = { kind: "jump", chain: DOCKER_NAT } as const
  const dnat: FwRule[] = bridges.map((n) => ({ match: { iif: bridgeName(n) }, verdict: { kind: "return" } }))
  const filter: FwRule[] = []
  const hairpin: FwRule[] = []
  for (const port of ports) {
    const br = bridgeName(byName.get(port.network) as Network)
    const container = `${port.containerAddress}/32`
    const hostIp = port.hostIp === "0.0.0.0" || port.hostIp === "" ? {} : { dst: `${port.hostIp}/32` }
    const label = `${port.network}: ${port.hostIp || "0.0.0.0"}:${port.hostPort} -> ${port.containerAddress}:${port.containerPort}/${port.proto}`
    dnat.push({
      match: { iifNot: br, proto: port.proto, dport: port.hostPort, ...hostIp },
      verdict: { kind: "dnat", to: port.containerAddress, port: port.containerPort },
      comment: label,
    })
    filter.push({ match: { dst: container, iifNot: br, oif: br, proto: port.proto, dport: port.containerPort }, verdict: accept, comment: label })
    hairpin.push({ match: { src: container, dst: container, proto: port.proto, dport: port.containerPort }, verdict: { kind: "masquerade" } })
  }
  return {
    hairpin,
    chains: [
      { name: "prerouting", hook: "prerouting", type: "nat", priority: -100, policy: "accept", rules: [{ match: { dstLocal: true }, verdict: jumpToDocker }] },
      {
        name: "output",
        hook: "output",
        type: "nat",
        priority: -100,
        policy: "accept",
        rules: [{ match: { dstLocal: true, dstNot: "127.0.0.0/8" }, verdict: jumpToDocker }],
      },
      { name: DOCKER_NAT, rules: dnat },
      { name: DOCKER_FILTER, rules: filter },
    ],
  }
}
