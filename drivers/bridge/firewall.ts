import type { FwChain, FwRule, FwTable } from "../../backends/kernel-types.ts"
import type { Network } from "../../model/types.ts"
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
 * Recomputed from all bridge networks of the host on every change, and replaced atomically.
 */
export const bridgeFirewall = (networks: ReadonlyArray<Network>): ReadonlyArray<FwTable> => {
  const bridges = networks.filter((n) => n.driver === "bridge" && n.subnet !== undefined)
  const stage1: FwRule[] = []
  const stage2: FwRule[] = []
  const forward: FwRule[] = [{ match: {}, verdict: { kind: "jump", chain: "isolation-stage-1" } }]
  const postrouting: FwRule[] = []
  const switched: FwRule[] = []
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
      forward.push({ match: { iif: br, oifNot: br }, verdict: accept, comment: `${network.name}: outbound` })
      if (boolOption(network.options, MASQUERADE, true)) {
        postrouting.push({ match: { src: subnet, oifNot: br }, verdict: { kind: "masquerade" } })
      }
    }
    if (!boolOption(network.options, ICC, true)) {
      switched.push({ match: { bridge: br }, verdict: drop, comment: `${network.name}: icc disabled` })
    }
  }
  const routed: ReadonlyArray<FwChain> = [
    { name: "forward", hook: "forward", type: "filter", priority: 0, policy: "drop", rules: forward },
    { name: "isolation-stage-1", rules: stage1 },
    { name: "isolation-stage-2", rules: stage2 },
    { name: "postrouting", hook: "postrouting", type: "nat", priority: 100, policy: "accept", rules: postrouting },
  ]
  return [
    { name: "bridge-ip", chains: routed },
    {
      name: "bridge-l2",
      chains: [{ name: "forward", hook: "bridge-forward", type: "filter", priority: 0, policy: "accept", rules: switched }],
    },
  ]
}
