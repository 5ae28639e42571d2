/**
 * Named invariants over a LabState: every host's state holds the invariants of one host
 * (invariants.ts, reported with the host's name), and the lab holds its own: containers placed
 * once, swarm networks the same on every host with one address book and a VNI each, one
 * macvlan/ipvlan network per parent per host, load balancers and gateway legs exactly where
 * Docker has them. Each returns its problems as sentences ([] = holds).
 */
import { cidrsOverlap, formatCidr, parseCidr, parseIPv4 } from "./cidr.ts"
import * as IntTrie from "./int-trie.ts"
import { type InvariantViolation, bookProblems, checkInvariants } from "./invariants.ts"
import type { LabState, SwarmNetwork } from "./lab-types.ts"
import {
  gatewayBridgeNetwork,
  hostState,
  ingressNetwork,
  ingressSandbox,
  isSystemSandbox,
  loadBalancerSandbox,
} from "./lab-store.ts"
import { containersOn, isGatewayLeg, needsGatewayLeg } from "./lab-sandboxes.ts"
import { firstVni, isEncrypted, lastVni, overlayMtu, overlayOptionKeys, underlayMtu } from "./overlay-driver.ts"
import { type ContainerRecord, containerRecord, networkRecord } from "./representation.ts"
import * as StringMap from "./string-map.ts"
import { isVlanDriver } from "./vlan-driver.ts"
import { allBindings, bindingsClash, publishingNetwork } from "./ports.ts"
import { vipHolder } from "./services.ts"

export interface LabInvariant {
  readonly name: string
  readonly check: (lab: LabState) => ReadonlyArray<string>
}

const hostName = (lab: LabState, index: number): string => lab.hosts[index]?.name ?? `#${index}`

const swarmEntries = (lab: LabState): Array<[string, SwarmNetwork]> => {
  const entries: Array<[string, SwarmNetwork]> = []
  if (lab.swarm !== undefined) StringMap.forEach(lab.swarm.networks, (entry, name) => entries.push([name, entry]))
  return entries
}

/** every sandbox on every host: [host index, record] */
const sandboxes = (lab: LabState): Array<[number, ContainerRecord]> =>
  lab.hostStates.flatMap((state, index) => StringMap.values(state.containers).map((record) => [index, record] as [number, ContainerRecord]))

const duplicates = <A>(items: ReadonlyArray<A>): Array<A> => {
  const seen = new Set<A>()
  const repeated = new Set<A>()
  for (const item of items) (seen.has(item) ? repeated : seen).add(item)
  return [...repeated]
}

export const labInvariants: ReadonlyArray<LabInvariant> = [
  {
    name: "hosts-distinct",
    check: (lab) => [
      ...duplicates(lab.hosts.map((host) => host.name)).map((name) => `host name ${name} is used twice`),
      ...duplicates(lab.hosts.map((host) => host.address)).map((address) => `underlay address ${address} is used twice`),
      ...(lab.hostStates.length === lab.hosts.length ? [] : [`${lab.hosts.length} hosts but ${lab.hostStates.length} host states`]),
    ],
  },
  {
    name: "containers-placed-once",
    check: (lab) => {
      const problems: Array<string> = []
      const seen = new Map<string, number>()
      for (const [index, record] of sandboxes(lab)) {
        const name = record.container.name
        if (isSystemSandbox(name)) continue
        if (seen.has(name)) problems.push(`container ${name} is on ${hostName(lab, seen.get(name) as number)} and ${hostName(lab, index)}`)
        seen.set(name, index)
        if (StringMap.get(lab.placement, name) !== index) problems.push(`container ${name} is on ${hostName(lab, index)} but placed elsewhere`)
        if (IntTrie.get(lab.containerOrder, record.seq) !== name) problems.push(`container ${name} is not listed at its sequence number ${record.seq}`)
      }
      StringMap.forEach(lab.placement, (_, name) => {
        if (!seen.has(name)) problems.push(`container ${name} is placed but on no host`)
      })
      if (lab.containerOrder.size !== lab.placement.size) {
        problems.push(`${lab.containerOrder.size} containers listed in order, ${lab.placement.size} placed`)
      }
      return problems
    },
  },
  {
    name: "sequence-numbers-lab-wide",
    check: (lab) => {
      const records = sandboxes(lab)
      const problems = duplicates(records.map(([, record]) => record.seq)).map((seq) => `container sequence number ${seq} is used twice`)
      for (const [index, record] of records) {
        if (record.seq >= lab.nextContainerSeq) {
          problems.push(`${record.container.name} on ${hostName(lab, index)} has seq ${record.seq}, next is ${lab.nextContainerSeq}`)
        }
      }
      // local networks have a number of their own on each host; the predefined ones and swarm copies share theirs
      const local = lab.hostStates.flatMap((state) =>
        StringMap.values(state.networks).filter((record) => !record.network.predefined && record.network.scope === undefined),
      )
      problems.push(...duplicates(local.map((record) => record.network.seq)).map((seq) => `network sequence number ${seq} is used on two hosts`))
      for (const record of local) {
        if (record.network.seq >= lab.nextNetworkSeq) problems.push(`network ${record.network.name} has seq ${record.network.seq}, next is ${lab.nextNetworkSeq}`)
      }
      return problems
    },
  },
  {
    // every endpoint's host has its network: a container's endpoints name networks of its own host
    name: "endpoint-host-has-network",
    check: (lab) =>
      sandboxes(lab).flatMap(([index, record]) =>
        record.endpoints
          .filter((endpoint) => networkRecord(hostState(lab, index), endpoint.network) === undefined)
          .map((endpoint) => `${endpoint.container} on ${hostName(lab, index)} has an endpoint on ${endpoint.network}, which that host lacks`),
      ),
  },
  {
    name: "swarm-networks-on-every-host",
    check: (lab) => {
      const problems: Array<string> = []
      const entries = swarmEntries(lab)
      for (const [name, entry] of entries) {
        if (entry.network.name !== name || entry.network.scope !== "swarm" || entry.network.driver !== "overlay") {
          problems.push(`swarm network ${name} is stored as ${entry.network.name} (${entry.network.driver}, scope ${entry.network.scope})`)
        }
        lab.hostStates.forEach((state, index) => {
          const copy = networkRecord(state, name)
          if (copy === undefined) problems.push(`${hostName(lab, index)} has no copy of swarm network ${name}`)
          else if (copy.network !== entry.network || copy.addresses !== entry.addresses) {
            problems.push(`${hostName(lab, index)}'s copy of ${name} differs from the swarm's`)
          }
        })
      }
      lab.hostStates.forEach((state, index) =>
        StringMap.forEach(state.networks, (record) => {
          if (record.network.scope === "swarm" && !entries.some(([name]) => name === record.network.name)) {
            problems.push(`${hostName(lab, index)} holds swarm network ${record.network.name}, which the swarm does not know`)
          }
          if (record.network.driver === "overlay" && record.network.scope !== "swarm") {
            problems.push(`${hostName(lab, index)} holds overlay network ${record.network.name} of local scope`)
          }
        }),
      )
      return problems
    },
  },
  {
    name: "swarm-address-book-matches-endpoints",
    check: (lab) =>
      swarmEntries(lab).flatMap(([name, entry]) =>
        bookProblems(entry.network, entry.addresses, (visit) => {
          lab.hostStates.forEach((state) => {
            const copy = networkRecord(state, name)
            if (copy !== undefined) IntTrie.forEach(copy.endpoints, visit)
          })
          // a service's VIP is booked in the network without an endpoint of its own
          for (const service of StringMap.values(lab.services)) {
            const vip = service.vips[name]
            if (vip !== undefined) visit({ container: service.name, network: name, address: `${vip}/${entry.addresses.subnet.prefix}`, aliases: [], staticAddress: false }, vipHolder)
          }
        }),
      ),
  },
  {
    name: "overlay-subnets-unique-across-swarm",
    check: (lab) => {
      const subnets = swarmEntries(lab).map(([name, entry]) => ({ name, subnet: entry.addresses.subnet }))
      return subnets.flatMap((a, index) =>
        subnets
          .slice(index + 1)
          .filter((b) => cidrsOverlap(a.subnet, b.subnet))
          .map((b) => `swarm networks ${a.name} (${formatCidr(a.subnet)}) and ${b.name} (${formatCidr(b.subnet)}) overlap`),
      )
    },
  },
  {
    name: "vni-per-overlay-network-unique",
    check: (lab) => {
      const entries = swarmEntries(lab)
      const problems = duplicates(entries.map(([, entry]) => entry.overlay.vni)).map((vni) => `VNI ${vni} is held by two networks`)
      for (const [name, entry] of entries) {
        const { vni } = entry.overlay
        if (!Number.isInteger(vni) || vni < 1 || vni > lastVni) problems.push(`network ${name} has VNI ${vni}, not a 24-bit VNI`)
        if (lab.swarm !== undefined && IntTrie.get(lab.swarm.vnis, vni) !== name) problems.push(`VNI ${vni} of ${name} is not booked for it`)
        if (entry.network.options[overlayOptionKeys.vxlanIdList] !== String(vni)) {
          problems.push(`network ${name} lists vxlanid_list ${entry.network.options[overlayOptionKeys.vxlanIdList]}, holds VNI ${vni}`)
        }
      }
      if (lab.swarm !== undefined && lab.swarm.vnis.size !== entries.length) {
        problems.push(`${lab.swarm.vnis.size} VNIs booked for ${entries.length} networks`)
      }
      return problems
    },
  },
  {
    name: "overlay-mtu-from-underlay",
    check: (lab) =>
      swarmEntries(lab).flatMap(([name, entry]) => {
        const underlay = underlayMtu(entry.network.options)
        const encrypted = isEncrypted(entry.network.options)
        const expected = underlay.ok ? overlayMtu(underlay.value, encrypted) : undefined
        return entry.overlay.mtu === expected && entry.overlay.encrypted === encrypted
          ? []
          : [`network ${name} has MTU ${entry.overlay.mtu} (encrypted ${entry.overlay.encrypted}), expected ${expected}`]
      }),
  },
  {
    name: "one-vlan-network-per-parent-per-host",
    check: (lab) =>
      lab.hostStates.flatMap((state, index) => {
        const problems: Array<string> = []
        const parents = new Map<string, string>()
        StringMap.forEach(state.networks, (record) => {
          const { driver, id, name } = record.network
          if (!isVlanDriver(driver)) return
          const info = StringMap.get(lab.vlans, id)
          if (info === undefined) {
            problems.push(`${driver} network ${name} on ${hostName(lab, index)} has no driver data`)
            return
          }
          const key = `${driver} ${info.parent}`
          const other = parents.get(key)
          if (other !== undefined) problems.push(`${driver} networks ${other} and ${name} share parent ${info.parent} on ${hostName(lab, index)}`)
          parents.set(key, name)
        })
        return problems
      }),
  },
  {
    name: "vlan-driver-data-for-existing-networks",
    check: (lab) => {
      const ids = new Set(lab.hostStates.flatMap((state) => StringMap.values(state.networks).map((record) => record.network.id)))
      return StringMap.keys(lab.vlans)
        .filter((id) => !ids.has(id))
        .map((id) => `driver data for network id ${id.slice(0, 12)}, which no host has`)
    },
  },
  {
    // the kernel: one child on a passthru parent; macvlan and ipvlan children never on one link together
    name: "vlan-children-as-the-kernel-allows",
    check: (lab) =>
      lab.hostStates.flatMap((state, index) => {
        const problems: Array<string> = []
        const kinds = new Map<string, Set<string>>()
        StringMap.forEach(state.networks, (record) => {
          const info = StringMap.get(lab.vlans, record.network.id)
          if (info === undefined || record.endpoints.size === 0) return
          if (info.mode === "passthru" && record.endpoints.size > 1) {
            problems.push(`passthru network ${record.network.name} on ${hostName(lab, index)} has ${record.endpoints.size} children`)
          }
          kinds.set(info.parent, (kinds.get(info.parent) ?? new Set()).add(record.network.driver))
        })
        for (const [parent, drivers] of kinds) {
          if (drivers.size > 1) problems.push(`${hostName(lab, index)}'s ${parent} has macvlan and ipvlan children`)
        }
        return problems
      }),
  },
  {
    name: "load-balancer-per-host-using-network",
    check: (lab) => {
      const problems: Array<string> = []
      for (const [name] of swarmEntries(lab)) {
        lab.hostStates.forEach((state, index) => {
          const sandbox = containerRecord(state, name === ingressNetwork ? ingressSandbox : loadBalancerSandbox(name))
          const record = networkRecord(state, name)
          const wanted = name === ingressNetwork || (record !== undefined && containersOn(record) > 0)
          if (wanted !== (sandbox !== undefined)) {
            problems.push(`${hostName(lab, index)} ${wanted ? "lacks" : "keeps"} its load balancer on ${name}`)
          }
          if (sandbox !== undefined && sandbox.endpoints[0]?.network !== name) {
            problems.push(`${sandbox.container.name} on ${hostName(lab, index)} is not on ${name} first`)
          }
        })
      }
      for (const [index, record] of sandboxes(lab)) {
        const name = record.container.name
        if (!isSystemSandbox(name)) continue
        const known = name === ingressSandbox || swarmEntries(lab).some(([network]) => loadBalancerSandbox(network) === name)
        if (!known) problems.push(`${hostName(lab, index)} has sandbox ${name}, which no swarm network explains`)
      }
      return problems
    },
  },
  {
    name: "gateway-leg-exactly-when-needed",
    check: (lab) => {
      const problems: Array<string> = []
      for (const [index, record] of sandboxes(lab)) {
        const name = record.container.name
        if (isSystemSandbox(name) && name !== ingressSandbox) continue
        const legs = record.endpoints.filter((endpoint) => isGatewayLeg(lab, name, endpoint))
        const need = needsGatewayLeg(lab, hostState(lab, index), record)
        if (need !== (legs.length === 1)) {
          problems.push(`${name} on ${hostName(lab, index)} has ${legs.length} gateway legs; it ${need ? "needs" : "needs none"}`)
        }
      }
      StringMap.forEach(lab.gatewayLegs, (_, name) => {
        const index = StringMap.get(lab.placement, name)
        const record = index === undefined ? undefined : containerRecord(hostState(lab, index), name)
        if (record === undefined || !record.endpoints.some((endpoint) => endpoint.network === gatewayBridgeNetwork)) {
          problems.push(`${name} is marked with a gateway leg it does not have`)
        }
      })
      return problems
    },
  },
  {
    name: "host-port-published-once",
    check: (lab) => {
      const bindings = allBindings(lab)
      const problems: Array<string> = []
      for (const [position, binding] of bindings.entries()) {
        for (const other of bindings.slice(position + 1)) {
          if (bindingsClash(binding, other)) {
            const address = (entry: typeof binding) => `${entry.hostIp === "" ? "0.0.0.0" : entry.hostIp}:${entry.hostPort}/${entry.proto}`
            problems.push(`${hostName(lab, binding.host)}: ${address(binding)} (${binding.container}) and ${address(other)} (${other.container}) take one socket`)
          }
        }
      }
      return problems
    },
  },
  {
    name: "ports-published-on-gateway-network",
    check: (lab) => {
      const problems: Array<string> = []
      StringMap.forEach(lab.ports.serving, (serving, container) => {
        const index = StringMap.get(lab.placement, container)
        if (index === undefined) {
          problems.push(`${container} asks for ports but is on no host`)
          return
        }
        const held = StringMap.get(lab.ports.bindings, container) ?? []
        const network = serving.mappings.length === 0 ? undefined : publishingNetwork(lab, index, container)
        // a join leaves an internal network unpublished (ports.ts): there, holding nothing is right too
        const expected = network === undefined ? [0] : network.internal ? [0, serving.mappings.length] : [serving.mappings.length]
        if (!expected.includes(held.length) || held.some((binding) => binding.network !== network?.name || binding.host !== index)) {
          problems.push(`${container} holds ${held.length} binding(s) on ${held[0]?.network ?? "nothing"}; its external network ${network?.name ?? "(none that publishes)"} wants ${expected.join(" or ")}`)
        }
      })
      StringMap.forEach(lab.ports.bindings, (_, container) => {
        if (!StringMap.has(lab.ports.serving, container)) problems.push(`${container} holds bindings it never asked for`)
      })
      return problems
    },
  },
  {
    name: "vip-unique-in-network",
    check: (lab) => {
      const problems: Array<string> = []
      const holders = new Map<string, string>()
      for (const service of StringMap.values(lab.services)) {
        for (const [network, vip] of Object.entries(service.vips)) {
          const key = `${network} ${vip}`
          const holder = holders.get(key)
          if (holder !== undefined) problems.push(`VIP ${vip} on ${network} is both ${holder}'s and ${service.name}'s`)
          holders.set(key, service.name)
          const book = lab.swarm === undefined ? undefined : StringMap.get(lab.swarm.networks, network)?.addresses
          const address = parseIPv4(vip)
          const taken = lab.hostStates.some((state) => {
            let found = false
            const record = networkRecord(state, network)
            if (record !== undefined) IntTrie.forEach(record.endpoints, (endpoint) => {
              if (endpoint.address?.split("/")[0] === vip) found = true
            })
            return found
          })
          if (book === undefined || address === undefined) problems.push(`VIP ${vip} of ${service.name} is on ${network}, which is no swarm network`)
          else if (taken) problems.push(`VIP ${vip} of ${service.name} on ${network} is an endpoint's address too`)
        }
      }
      return problems
    },
  },
  {
    name: "host-addresses-parse",
    check: (lab) =>
      lab.hosts.flatMap((host) =>
        parseIPv4(host.address) === undefined || !Number.isInteger(host.prefix) || host.prefix < 0 || host.prefix > 32
          ? [`host ${host.name} has address ${host.address}/${host.prefix}`]
          : [],
      ),
  },
  {
    name: "swarm-cursors-valid",
    check: (lab) => {
      if (lab.swarm === undefined) return []
      const { poolCursor, vniCursor } = lab.swarm
      const problems: Array<string> = []
      if (!Number.isInteger(poolCursor) || poolCursor < 0 || poolCursor >= 2 ** 16) problems.push(`swarm pool cursor ${poolCursor}`)
      if (vniCursor !== 0 && (vniCursor < firstVni || vniCursor > lastVni + 1)) problems.push(`VNI cursor ${vniCursor}`)
      for (const [name, entry] of swarmEntries(lab)) {
        const { next, serial } = entry.addresses
        const size = 2 ** (32 - entry.addresses.subnet.prefix)
        if (!serial || next < 0 || next > size) problems.push(`network ${name}'s book is not serial or its cursor ${next} is outside it`)
        if (parseCidr(entry.network.subnet as string) === undefined) problems.push(`network ${name} has no subnet`)
      }
      return problems
    },
  },
]

/** the lab's own invariants, then each host's (named as in invariants.ts, the host in the detail) */
export const checkLabInvariants = (lab: LabState): ReadonlyArray<InvariantViolation> => [
  ...labInvariants.flatMap(({ name, check }) => check(lab).map((detail) => ({ invariant: name, detail }))),
  ...lab.hostStates.flatMap((state, index) =>
    checkInvariants(state).map((violation) => ({ invariant: violation.invariant, detail: `${hostName(lab, index)}: ${violation.detail}` })),
  ),
]
