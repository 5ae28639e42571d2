/**
 * createNetwork and removeNetwork across a lab. A local-scope network (bridge, macvlan, ipvlan)
 * is made on each of its hosts as `docker network create` on that host makes it, with the host's
 * own IPAM and the per-host ip-range or gateway; a swarm network (overlay) is made once by the
 * manager (swarm's IPAM, a VNI) and every host holds a copy. All or nothing: a refusal on one
 * host leaves no network on the others (Docker's pool-cursor traces aside, see lab-store).
 */
import { type Cidr, formatCidr } from "./cidr.ts"
import { swarmPools } from "./ipam.ts"
import type {
  HostNetworkSettings,
  LabNetworkRequest,
  LabOutcome,
  LabRefusal,
  LabState,
  SwarmNetwork,
  SwarmState,
  VlanInfo,
} from "./lab-types.ts"
import {
  hostIndex,
  hostState,
  hostStateForOperation,
  labFail,
  labRefuse,
  labSucceed,
  labWith,
  withHostState,
} from "./lab-store.ts"
import { buildNetworkRecord } from "./network-record.ts"
import { type AddressSpace, createNetwork, nameProblem, planAddresses, removeNetwork, requestedSubnet } from "./network-ops.ts"
import { allocateVni, isEncrypted, overlayMtu, overlayOptionKeys, requestedVni, underlayMtu } from "./overlay-driver.ts"
import { networkRecord, putNetworkRecord } from "./representation.ts"
import * as IntTrie from "./int-trie.ts"
import * as StringMap from "./string-map.ts"
import { type Network, type NetworkRequest, type NetworkScope, scopeOf } from "./types.ts"
import { type VlanDriver, type VlanNeighbour, hostLinks, isVlanDriver, planVlanNetwork } from "./vlan-driver.ts"

/** a network as a lab lists it: a local one once per host it is on, a swarm one once */
export interface LabNetworkRow {
  readonly network: Network
  readonly scope: NetworkScope
  /** the host of a local network */
  readonly host?: string
}

const refuseWith = (refusal: { readonly error: LabRefusal["error"] }): LabRefusal => ({ ok: false, error: refusal.error })

/** the driver data of the macvlan and ipvlan networks on a host */
export const vlanNetworksOn = (lab: LabState, index: number): Array<{ driver: VlanDriver; network: Network; info: VlanInfo }> => {
  const found: Array<{ driver: VlanDriver; network: Network; info: VlanInfo }> = []
  StringMap.forEach(hostState(lab, index).networks, (record) => {
    const { driver, id } = record.network
    const info = StringMap.get(lab.vlans, id)
    if (isVlanDriver(driver) && info !== undefined) found.push({ driver, network: record.network, info })
  })
  return found
}

/** the hosts a local network goes on, with their own settings; or a refusal naming a host that is not there */
const targetHosts = (
  lab: LabState,
  request: LabNetworkRequest,
): { readonly ok: true; readonly value: Array<{ index: number; settings?: HostNetworkSettings }> } | LabRefusal => {
  if (request.hosts === undefined) return { ok: true, value: lab.hosts.map((_, index) => ({ index })) }
  const targets: Array<{ index: number; settings?: HostNetworkSettings }> = []
  for (const entry of request.hosts) {
    const settings = typeof entry === "string" ? { host: entry } : entry
    const index = hostIndex(lab, settings.host)
    if (index === undefined) return labFail("InvalidName", `no such host: ${settings.host}`)
    if (targets.some((target) => target.index === index)) {
      return labFail("InvalidName", `host ${settings.host} is named twice for network ${request.name}`)
    }
    targets.push({ index, settings })
  }
  return { ok: true, value: targets }
}

/** the request one host's daemon gets: the lab's, with that host's ip-range and gateway */
const requestOnHost = (request: LabNetworkRequest, settings: HostNetworkSettings | undefined): NetworkRequest => {
  const { hosts: _hosts, ...common } = request
  return {
    ...common,
    ...(settings?.ipRange === undefined ? {} : { ipRange: settings.ipRange }),
    ...(settings?.gateway === undefined ? {} : { gateway: settings.gateway }),
  }
}

const createLocalNetwork = (lab: LabState, request: LabNetworkRequest): LabOutcome<ReadonlyArray<LabNetworkRow>> => {
  const targets = targetHosts(lab, request)
  if (!targets.ok) return targets
  const driver = request.driver ?? "bridge"
  let current = lab
  const rows: Array<LabNetworkRow> = []
  // every asked host's daemon tries the create on its own: after one refuses, the others still
  // try, and each keeps the pool cursor its attempt moved (the fixture macvlan-errors)
  let refusal: LabRefusal | undefined
  for (const { index, settings } of targets.value) {
    const outcome = createNetwork(hostStateForOperation(current, index), requestOnHost(request, settings))
    if (!outcome.ok) {
      if (outcome.state !== undefined) current = withHostState(current, index, outcome.state)
      refusal ??= refuseWith(outcome)
      continue
    }
    let next = withHostState(current, index, outcome.state)
    if (isVlanDriver(driver)) {
      const here = vlanNetworksOn(current, index)
      const sameDriver: Array<VlanNeighbour> = here.filter((other) => other.driver === driver)
      // the driver reads its options once IPAM has the pool: a refusal leaves the pool cursor moved
      const plan = planVlanNetwork(driver, outcome.value, hostLinks(here.map((other) => other.info)), sameDriver)
      if (!plan.ok) {
        current = next
        refusal ??= refuseWith(plan)
        continue
      }
      next = labWith(next, { vlans: StringMap.set(next.vlans, outcome.value.id, plan.value) })
    }
    rows.push({ network: outcome.value, scope: "local", host: (lab.hosts[index] as { name: string }).name })
    current = next
  }
  return refusal === undefined ? labSucceed(current, rows) : labRefuse(lab, current, refusal)
}

/** the manager's address space: swarm's pools, the subnets of the swarm networks, serial addresses */
const swarmAddressSpace = (swarm: SwarmState): AddressSpace => ({
  name: "GlobalDefault",
  pools: swarmPools,
  subnetsInUse: StringMap.values(swarm.networks).map((entry) => entry.addresses.subnet),
  poolCursor: swarm.poolCursor,
  serial: true,
})

const anyHostHas = (lab: LabState, name: string): boolean =>
  lab.hostStates.some((state) => networkRecord(state, name) !== undefined)

/**
 * An overlay network, in the order Docker 20.10 takes it: the client's and the daemon's name
 * checks, "not a swarm manager", the subnet text; then the manager allocates (swarmkit
 * cnmallocator): the pool and gateway from swarm's IPAM, then the VNI. Docker only parses the MTU
 * when a host first uses the network (every attach there then fails); cnmlab refuses a bad MTU
 * at once, before anything is allocated.
 */
export const createSwarmNetwork = (lab: LabState, request: LabNetworkRequest): LabOutcome<ReadonlyArray<LabNetworkRow>> => {
  if (request.hosts !== undefined) {
    return labFail("InvalidOption", `hosts is for local-scope networks only; ${request.name} is an overlay network on every host`)
  }
  const refusedByName = nameProblem(request, (name) => anyHostHas(lab, name))
  if (refusedByName !== undefined) return refuseWith(refusedByName)
  const swarm = lab.swarm
  if (swarm === undefined) {
    return labFail(
      "SwarmRequired",
      'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.',
    )
  }
  const subnetText = requestedSubnet(request)
  if (!subnetText.ok) return refuseWith(subnetText)
  const options = request.options ?? {}
  const mtu = underlayMtu(options)
  if (!mtu.ok) return refuseWith(mtu)

  const planned = planAddresses(swarmAddressSpace(swarm), request, subnetText.value)
  if (!planned.ok) return refuseWith(planned)
  const plan = planned.value
  const allocated: SwarmState = { ...swarm, poolCursor: plan.poolCursor }
  const wanted = requestedVni(options)
  const vni = wanted.ok ? allocateVni(swarm.vnis, swarm.vniCursor, wanted.value, request.name, formatCidr(plan.addresses.subnet)) : wanted
  // the manager gives the pool back, but its search cursor stays past it
  if (!vni.ok) return labRefuse(lab, labWith(lab, { swarm: allocated }), refuseWith(vni))

  const record = buildNetworkRecord({
    seq: lab.nextNetworkSeq,
    name: request.name,
    driver: "overlay",
    addresses: plan.addresses,
    ...(plan.configuredSubnet === undefined ? {} : { configuredSubnet: plan.configuredSubnet }),
    ...(plan.ipRange === undefined ? {} : { ipRange: plan.ipRange as Cidr }),
    userSubnet: plan.userSubnet,
    internal: request.internal ?? false,
    predefined: false,
    // `docker network inspect` lists the VNI the manager allocated among the options
    options: { ...options, [overlayOptionKeys.vxlanIdList]: String(vni.value.vni) },
    scope: "swarm",
  })
  const entry: SwarmNetwork = {
    network: record.network,
    addresses: plan.addresses,
    overlay: { vni: vni.value.vni, mtu: overlayMtu(mtu.value, isEncrypted(options)), encrypted: isEncrypted(options) },
  }
  const nextNetworkSeq = lab.nextNetworkSeq + 1
  const hostStates = lab.hostStates.map((state) =>
    putNetworkRecord({ ...state, nextNetworkSeq, nextContainerSeq: lab.nextContainerSeq }, record),
  )
  const next = labWith(lab, {
    hostStates,
    nextNetworkSeq,
    swarm: {
      ...allocated,
      networks: StringMap.set(swarm.networks, request.name, entry),
      vnis: vni.value.vnis,
      vniCursor: vni.value.cursor,
    },
  })
  return labSucceed(next, [{ network: record.network, scope: "swarm" }])
}

/** `docker network create` on a lab: an overlay network across the swarm, any other driver on each of its hosts */
export const createLabNetwork = (lab: LabState, request: LabNetworkRequest): LabOutcome<ReadonlyArray<LabNetworkRow>> =>
  request.driver === "overlay" ? createSwarmNetwork(lab, request) : createLocalNetwork(lab, request)

/**
 * Forgets a removed network's driver data. Docker deletes a parent the network made even while a
 * network of the other driver still uses it, which leaves that one without its link; cnmlab
 * hands the parent over instead, and the last network on it removes it.
 */
const dropVlan = (lab: LabState, index: number, network: Network): LabState => {
  const info = StringMap.get(lab.vlans, network.id)
  if (info === undefined) return lab
  let vlans = StringMap.remove(lab.vlans, network.id)
  const heir = info.createdParent ? vlanNetworksOn(lab, index).find((other) => other.network.id !== network.id && other.info.parent === info.parent) : undefined
  if (heir !== undefined) {
    const { parentKind, vlanOf } = info
    vlans = StringMap.set(vlans, heir.network.id, { ...heir.info, createdParent: true, parentKind, ...(vlanOf === undefined ? {} : { vlanOf }) })
  }
  return labWith(lab, { vlans })
}

const removeOnHost = (lab: LabState, index: number, name: string): LabOutcome<LabNetworkRow> => {
  const outcome = removeNetwork(hostStateForOperation(lab, index), name)
  if (!outcome.ok) return refuseWith(outcome)
  const row = { network: outcome.value, scope: scopeOf(outcome.value), host: (lab.hosts[index] as { name: string }).name }
  return labSucceed(dropVlan(withHostState(lab, index, outcome.state), index, outcome.value), row)
}

/**
 * `docker network rm` on a lab. With `host`, a local network on that host only. Without, the
 * network wherever it is; refused when any host still has an endpoint on it (Docker refuses to
 * remove a swarm network that a container on another host uses), and then nothing is removed.
 */
export const removeLabNetwork = (lab: LabState, name: string, host?: string): LabOutcome<ReadonlyArray<LabNetworkRow>> => {
  if (host !== undefined) {
    const index = hostIndex(lab, host)
    if (index === undefined) return labFail("InvalidName", `no such host: ${host}`)
    const record = networkRecord(hostState(lab, index), name)
    if (record === undefined) return labFail("NetworkNotFound", `network ${name} not found`)
    if (scopeOf(record.network) === "swarm") {
      return labFail("InvalidOption", `network ${name} is a swarm network: it is removed from every host at once, without host`)
    }
    const removed = removeOnHost(lab, index, name)
    return removed.ok ? labSucceed(removed.lab, [removed.value]) : removed
  }
  const holders = lab.hostStates.flatMap((state, index) => (networkRecord(state, name) === undefined ? [] : [index]))
  if (holders.length === 0) return labFail("NetworkNotFound", `network ${name} not found`)
  let current = lab
  const rows: Array<LabNetworkRow> = []
  for (const index of holders) {
    const removed = removeOnHost(current, index, name)
    if (!removed.ok) return removed
    rows.push(removed.value)
    current = removed.lab
  }
  // swarm's manager keeps a network a service names, tasks running or not (controlapi RemoveNetwork): its VIPs are booked there
  const user = StringMap.values(lab.services).find((service) => service.networks.includes(name))
  if (user !== undefined) return labFail("ActiveEndpoints", `rpc error: code = FailedPrecondition desc = network ${name} is in use by service ${user.name}`)
  const swarm = current.swarm
  const entry = swarm === undefined ? undefined : StringMap.get(swarm.networks, name)
  if (swarm === undefined || entry === undefined) return labSucceed(current, rows)
  // one network across the swarm: one row, the VNI free again (its pool is not reused at once)
  const next: SwarmState = {
    ...swarm,
    networks: StringMap.remove(swarm.networks, name),
    vnis: IntTrie.remove(swarm.vnis, entry.overlay.vni),
  }
  return labSucceed(labWith(current, { swarm: next }), [{ network: entry.network, scope: "swarm" }])
}
