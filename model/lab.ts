/**
 * A lab of Docker hosts as the model sees it: the hosts on their underlay, each starting as a
 * fresh Docker host, and with `swarm: true` what `docker swarm init` on the first host and
 * `docker swarm join` on the others do to networking: the overlay `ingress` (swarm's first pool,
 * 10.0.0.0/24, VNI 4096) with each host's ingress sandbox taking an address in join order, and on
 * every host `docker_gwbridge` (the next local pool, ICC off, masquerade on) with the ingress
 * sandbox's gateway leg on it.
 */
import { type Cidr, blockSize, formatIPv4, parseCidr, parseCidrWithAddress, parseIPv4 } from "./cidr.ts"
import { createNetwork } from "./network-ops.ts"
import { createSandbox } from "./container-ops.ts"
import type { LabHost, LabRequest, LabState } from "./lab-types.ts"
import {
  gatewayBridgeNetwork,
  hostStateForOperation,
  ingressNetwork,
  ingressSandbox,
  LabStateValue,
  labFail,
  labWith,
  syncSwarmBook,
  withHostState,
} from "./lab-store.ts"
import { createSwarmNetwork } from "./lab-network-ops.ts"
import { settleGatewayLeg } from "./lab-sandboxes.ts"
import { optionKeys } from "./options.ts"
import type { Checked } from "./representation.ts"
import { initialState } from "./state.ts"
import * as IntTrie from "./int-trie.ts"
import * as StringMap from "./string-map.ts"

export const defaultUnderlay = "192.168.99.0/24"
export const defaultHostName = "host1"

const refused = (code: Parameters<typeof labFail>[0], message: string): Checked<never> => {
  const { error } = labFail(code, message)
  return { ok: false, error }
}

/** the hosts with their underlay addresses: given, or the underlay's Nth address for the Nth host */
const planHosts = (request: LabRequest, underlay: Cidr): Checked<ReadonlyArray<LabHost>> => {
  const wanted = request.hosts === undefined || request.hosts.length === 0 ? [{ name: defaultHostName }] : request.hosts
  const hosts: Array<LabHost> = []
  for (const [position, entry] of wanted.entries()) {
    if (entry.name.trim() === "") return refused("InvalidName", "a host needs a name")
    if (hosts.some((host) => host.name === entry.name)) return refused("InvalidName", `host ${entry.name} is named twice`)
    let address: number | undefined
    let prefix = underlay.prefix
    if (entry.address === undefined) {
      address = underlay.base + position + 1
      if (position + 1 >= blockSize(underlay.prefix) - 1) {
        return refused("PoolExhausted", `the underlay ${formatIPv4(underlay.base)}/${underlay.prefix} has no address for host ${entry.name}`)
      }
    } else {
      const parsed = entry.address.includes("/") ? parseCidrWithAddress(entry.address) : undefined
      address = parsed?.address ?? parseIPv4(entry.address)
      if (parsed !== undefined) prefix = parsed.prefix
      if (address === undefined) return refused("InvalidSubnet", `host ${entry.name}: invalid address ${entry.address}`)
    }
    const text = formatIPv4(address)
    const clash = hosts.find((host) => host.address === text)
    if (clash !== undefined) return refused("AddressInUse", `host ${entry.name}: address ${text} is host ${clash.name}'s`)
    hosts.push({ name: entry.name, address: text, prefix })
  }
  return { ok: true, value: hosts }
}

/** what `docker network inspect docker_gwbridge` shows as its options (libnetwork createGWNetwork) */
const gatewayBridgeOptions: Readonly<Record<string, string>> = {
  [optionKeys.bridgeName]: gatewayBridgeNetwork,
  [optionKeys.enableIcc]: "false",
  [optionKeys.enableIpMasquerade]: "true",
}

const unexpected = (what: string, message: string): never => {
  throw new Error(`swarm setup: ${what} failed: ${message}`)
}

/** `docker swarm init` on the first host, `docker swarm join` on the others, in order */
const formSwarm = (lab: LabState): LabState => {
  const withIngress = createSwarmNetwork(
    labWith(lab, { swarm: { networks: StringMap.empty(), poolCursor: 0, vnis: IntTrie.empty(), vniCursor: 0 } }),
    { name: ingressNetwork, driver: "overlay" },
  )
  if (!withIngress.ok) return unexpected("ingress", withIngress.error.message)
  let current = withIngress.lab
  for (let index = 0; index < lab.hosts.length; index++) {
    const sandbox = createSandbox(hostStateForOperation(current, index), { name: ingressSandbox, networks: [{ network: ingressNetwork }] })
    if (!sandbox.ok) return unexpected("ingress sandbox", sandbox.error.message)
    current = syncSwarmBook(withHostState(current, index, sandbox.state), ingressNetwork, index)
    // the ingress sandbox needs a way out: its join makes docker_gwbridge from the next local pool
    const bridge = createNetwork(hostStateForOperation(current, index), { name: gatewayBridgeNetwork, options: gatewayBridgeOptions })
    if (!bridge.ok) return unexpected(gatewayBridgeNetwork, bridge.error.message)
    const leg = settleGatewayLeg(withHostState(current, index, bridge.state), index, ingressSandbox)
    if (!leg.ok) return unexpected("ingress sandbox's gateway leg", leg.error.message)
    current = leg.lab
  }
  return current
}

/** a lab as a scenario's `hosts`, `underlay` and `swarm` describe it; refused when they make no lab */
export const createLab = (request: LabRequest = {}): Checked<LabState> => {
  const underlayText = request.underlay ?? defaultUnderlay
  const underlay = parseCidr(underlayText)
  if (underlay === undefined) return refused("InvalidSubnet", `invalid underlay subnet ${underlayText}`)
  const hosts = planHosts(request, underlay)
  if (!hosts.ok) return hosts
  const fresh = initialState()
  const lab = new LabStateValue(
    underlay,
    hosts.value,
    undefined,
    hosts.value.map(() => fresh),
    StringMap.empty(),
    IntTrie.empty(),
    fresh.nextNetworkSeq,
    fresh.nextContainerSeq,
    StringMap.empty(),
    StringMap.empty(),
    { serving: StringMap.empty(), bindings: StringMap.empty(), cursors: hosts.value.map(() => StringMap.empty()) },
    StringMap.empty(),
  )
  return { ok: true, value: request.swarm === true ? formSwarm(lab) : lab }
}
