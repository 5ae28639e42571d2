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
  const ingress = ingressRules(bridges, published.filter((p) => p.ingress === true))
  // FORWARD -j DOCKER-INGRESS is inserted (-I) ahead of the isolation jump
  const forward: FwRule[] = [...(ingress?.forward ?? []), { match: {}, verdict: { kind: "jump", chain: "isolation-stage-1" } }]
  const postrouting: FwRule[] = [...(ingress?.postrouting ?? [])]
  // DOCKER-INGRESS comes first for switched frames too where Docker sees them (br_netfilter,
  // which an icc=false bridge needs): ahead of the icc=false drops
  const switched: FwRule[] = [...(ingress?.switched ?? [])]
  const publishing = publishingRules(
    bridges.filter((n) => !n.internal),
    published.filter((p) => p.ingress !== true),
  )
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
  // nat PREROUTING and OUTPUT: DOCKER-INGRESS inserted (-I) ahead of the bridge driver's DOCKER
  const prerouting = [...(ingress?.nat ?? []), ...(publishing?.prerouting ?? [])]
  const output = [...(ingress?.nat ?? []), ...(publishing?.output ?? [])]
  const routed: ReadonlyArray<FwChain> = [
    { name: "forward", hook: "forward", type: "filter", priority: 0, policy: "drop", rules: forward },
    { name: "isolation-stage-1", rules: stage1 },
    { name: "isolation-stage-2", rules: stage2 },
    { name: "postrouting", hook: "postrouting", type: "nat", priority: 100, policy: "accept", rules: postrouting },
    ...(prerouting.length === 0 ? [] : [natHook("prerouting", prerouting), natHook("output", output)]),
    ...(publishing?.chains ?? []),
    ...(ingress?.chains ?? []),
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
):
  | {
      readonly chains: ReadonlyArray<FwChain>
      readonly prerouting: ReadonlyArray<FwRule>
      readonly output: ReadonlyArray<FwRule>
      readonly hairpin: ReadonlyArray<FwRule>
    }
  | undefined => {
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
    prerouting: [{ match: { dstLocal: true }, verdict: jumpToDocker }],
    output: [{ match: { dstLocal: true, dstNot: "127.0.0.0/8" }, verdict: jumpToDocker }],
    chains: [
      { name: DOCKER_NAT, rules: dnat },
      { name: DOCKER_FILTER, rules: filter },
    ],
  }
}

const natHook = (hook: "prerouting" | "output", rules: ReadonlyArray<FwRule>): FwChain => ({ name: hook, hook, type: "nat", priority: -100, policy: "accept", rules })

const INGRESS_FILTER = "ingress"
const INGRESS_NAT = "ingress-nat"

/**
 * The routing mesh's rules on a host, as libnetwork 20.10 writes them (service_linux.go
 * programIngress, the ingress sandbox's address on docker_gwbridge as gwIP), for the ports of
 * `mesh` (each towards the ingress sandbox, the port unchanged):
 * - nat DOCKER-INGRESS `-p P --dport H -j DNAT --to-destination gwIP:H`, jumped to from nat
 *   PREROUTING and OUTPUT `-m addrtype --dst-type LOCAL` inserted first: ahead of the bridge
 *   driver's DOCKER chain with its `-i br -j RETURN`, and in OUTPUT without its `! -d 127.0.0.0/8`,
 *   so a container's connection to any of its host's addresses and the host's own to 127.0.0.1
 *   take the mesh too;
 * - filter DOCKER-INGRESS `-p P --sport H -m state --state ESTABLISHED,RELATED -j ACCEPT` and
 *   `-p P --dport H -j ACCEPT`, jumped to first in FORWARD: ahead of the isolation chains, for any
 *   interfaces (the comment there: "allow a published service to be accessible in the local node
 *   from service tasks attached to other networks, unmanaged containers on bridge networks");
 * - nat POSTROUTING `-m addrtype --src-type LOCAL -o docker_gwbridge -j MASQUERADE` inserted first
 *   (with route_localnet=1 on docker_gwbridge, which the controller sets: a 127.0.0.1 source may
 *   leave there and its replies come back);
 * - the same accepts for frames switched inside an icc=false bridge, ahead of its drop: Docker's
 *   FORWARD sees them through br_netfilter and DOCKER-INGRESS accepts them before `-i br -o br
 *   -j DROP`. The bridge family has no conntrack here (nf_conntrack_bridge would be the
 *   machine's module), so the answers pass on their source port alone, where Docker asks for
 *   ESTABLISHED too: only a connection made *from* port H inside such a bridge differs;
 * - and one rule Docker does not write: docker_gwbridge is icc=false, and Docker's reply from the
 *   ingress sandbox to a container on docker_gwbridge itself (an overlay container's gateway leg)
 *   is switched inside the bridge, where br_netfilter hands it to iptables: DOCKER-INGRESS accepts
 *   it ahead of the icc=false drop and conntrack undoes the DNAT. cnmlab has no br_netfilter (it
 *   would be the machine's), so such a connection is masqueraded to the bridge's gateway as the
 *   hairpin of a published port is: the reply is then routed by the host, where conntrack undoes
 *   both NATs. The client sees the same answer from the same address; the task sees the ingress
 *   sandbox's address either way (the sandbox SNATs).
 * Undefined when the host has no mesh port (Docker's chains, with only their RETURN, do nothing).
 */
const ingressRules = (
  bridges: ReadonlyArray<Network>,
  mesh: ReadonlyArray<PublishedPort>,
):
  | {
      readonly forward: ReadonlyArray<FwRule>
      readonly nat: ReadonlyArray<FwRule>
      readonly postrouting: ReadonlyArray<FwRule>
      readonly switched: ReadonlyArray<FwRule>
      readonly chains: ReadonlyArray<FwChain>
    }
  | undefined => {
  const gwbridge = bridges.find((n) => n.name === mesh[0]?.network)
  if (gwbridge === undefined) return undefined
  const br = bridgeName(gwbridge)
  const dnat: FwRule[] = []
  const filter: FwRule[] = []
  const switched: FwRule[] = []
  const postrouting: FwRule[] = [{ match: { srcLocal: true, oif: br }, verdict: { kind: "masquerade" }, comment: "ingress: a local source towards the ingress sandbox" }]
  for (const port of mesh) {
    const label = `ingress: ${port.hostPort}/${port.proto} -> ${port.containerAddress}`
    dnat.push({ match: { proto: port.proto, dport: port.hostPort }, verdict: { kind: "dnat", to: port.containerAddress, port: port.hostPort }, comment: label })
    filter.push({ match: { proto: port.proto, sport: port.hostPort, ctState: ["established", "related"] }, verdict: accept, comment: label })
    filter.push({ match: { proto: port.proto, dport: port.hostPort }, verdict: accept, comment: label })
    switched.push({ match: { proto: port.proto, dport: port.hostPort }, verdict: accept, comment: label })
    switched.push({ match: { proto: port.proto, sport: port.hostPort }, verdict: accept, comment: `${label}: the answers` })
    postrouting.push({
      match: { iif: br, oif: br, dst: `${port.containerAddress}/32`, proto: port.proto, dport: port.hostPort },
      verdict: { kind: "masquerade" },
      comment: `${label}: from docker_gwbridge itself (br_netfilter's part)`,
    })
  }
  return {
    forward: [{ match: {}, verdict: { kind: "jump", chain: INGRESS_FILTER } }],
    nat: [{ match: { dstLocal: true }, verdict: { kind: "jump", chain: INGRESS_NAT } }],
    postrouting,
    switched: bridges.some((n) => !boolOption(n.options, ICC, true)) ? switched : [],
    chains: [
      { name: INGRESS_NAT, rules: dnat },
      { name: INGRESS_FILTER, rules: filter },
    ],
  }
}
