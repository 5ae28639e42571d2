/**
 * A lab as pure data: several Docker hosts on one underlay, optionally joined in a swarm. Each
 * host keeps its own CnmState (local networks, its containers, and a copy of every swarm
 * network); the swarm keeps what the manager owns (overlay networks, their address books and
 * VNIs). No I/O, no classes.
 */
import type { Cidr } from "./cidr.ts"
import type { AddressBook } from "./ipam.ts"
import type { CnmError } from "./errors.ts"
import type { CnmState } from "./representation.ts"
import type * as IntTrie from "./int-trie.ts"
import type * as StringMap from "./string-map.ts"
import type { AttachRequest, Network, NetworkRequest } from "./types.ts"
import type { PortsState, ServiceRecord } from "./service-types.ts"

export interface HostRequest {
  readonly name: string
  /** "192.168.99.1/24" or a plain address (the underlay's prefix); default: the underlay's Nth address for the Nth host */
  readonly address?: string
}

/** what a scenario says about its hosts (../shared/spec/scenario-v1.md, "Several hosts") */
export interface LabRequest {
  /** default: one host named host1 */
  readonly hosts?: ReadonlyArray<HostRequest>
  /** the underlay's subnet, default 192.168.99.0/24 */
  readonly underlay?: string
  /** the hosts form a swarm: the first runs `docker swarm init`, the others join in order */
  readonly swarm?: boolean
}

export interface LabHost {
  readonly name: string
  /** the address of its eth0 on the underlay, plain */
  readonly address: string
  /** the prefix of that address: what the host reaches on-link */
  readonly prefix: number
}

/** a host's own settings for a local network created on several hosts (per-host IPAM) */
export interface HostNetworkSettings {
  readonly host: string
  readonly ipRange?: string
  readonly gateway?: string
}

export interface LabNetworkRequest extends NetworkRequest {
  /** local scope only: the hosts it is created on (default all), each with its own IPAM */
  readonly hosts?: ReadonlyArray<string | HostNetworkSettings>
}

export interface LabContainerRequest {
  readonly name: string
  /** default: the first host */
  readonly host?: string
  /** omitted or empty: `bridge` */
  readonly networks?: ReadonlyArray<AttachRequest>
  /** `docker run -p` values */
  readonly ports?: ReadonlyArray<string>
  /** what the container serves: `80/tcp`, `53/udp` */
  readonly listen?: ReadonlyArray<string>
}

/** what the overlay driver holds for a swarm network */
export interface OverlayInfo {
  /** the VXLAN network identifier, as swarm's manager allocated it */
  readonly vni: number
  /** MTU of the vxlan device and of both ends of every veth on the network */
  readonly mtu: number
  readonly encrypted: boolean
}

export const macvlanModes = ["bridge", "private", "vepa", "passthru"] as const
export const ipvlanModes = ["l2", "l3"] as const
export type VlanMode = (typeof macvlanModes)[number] | (typeof ipvlanModes)[number]

/**
 * What the macvlan or ipvlan driver holds for one local network on one host: its parent link and
 * mode. A parent the network's creation had to make (a dummy, or an 802.1Q sub-interface `X.N`)
 * is the driver's to delete with the network.
 */
export interface VlanInfo {
  readonly parent: string
  readonly mode: VlanMode
  readonly parentKind: "link" | "vlan" | "dummy"
  /** the driver made the parent, and deletes it with the network */
  readonly createdParent: boolean
  /** an 802.1Q parent: the link it is on and its VLAN id */
  readonly vlanOf?: { readonly link: string; readonly id: number }
}

/** a swarm network as the manager keeps it */
export interface SwarmNetwork {
  readonly network: Network
  /** the one address book of the network: every host's copy of the network holds this same book */
  readonly addresses: AddressBook
  readonly overlay: OverlayInfo
}

export interface SwarmState {
  readonly networks: StringMap.StringMap<SwarmNetwork>
  /** index in swarm's pool list where the search for the next automatic subnet starts */
  readonly poolCursor: number
  /** VNI → name of the network holding it */
  readonly vnis: IntTrie.IntTrie<string>
  /** the VNI allocator's cursor (it hands VNIs out serially): one past the last automatic VNI, 0 before any */
  readonly vniCursor: number
}

export interface LabState {
  readonly underlay: Cidr
  readonly hosts: ReadonlyArray<LabHost>
  /** absent unless the hosts form a swarm */
  readonly swarm: SwarmState | undefined
  /** each host's Docker state, in host order */
  readonly hostStates: ReadonlyArray<CnmState>
  /** user container → index of its host */
  readonly placement: StringMap.StringMap<number>
  /** user containers by their lab-wide sequence number */
  readonly containerOrder: IntTrie.IntTrie<string>
  /** lab-wide, so network ids and the holders of a swarm address book are unique across hosts */
  readonly nextNetworkSeq: number
  readonly nextContainerSeq: number
  /** network id → its macvlan or ipvlan driver data (ids are unique across hosts) */
  readonly vlans: StringMap.StringMap<VlanInfo>
  /** user containers whose endpoint on docker_gwbridge is Docker's gateway leg, not one they asked for */
  readonly gatewayLegs: StringMap.StringMap<true>
  /** published ports and what containers serve (ports.ts) */
  readonly ports: PortsState
  /** swarm services by name (services.ts) */
  readonly services: StringMap.StringMap<ServiceRecord>
}

export interface LabRefusal {
  readonly ok: false
  readonly error: CnmError
  /** present only when Docker keeps a trace of the refused operation (a pool or address cursor moved) */
  readonly lab?: LabState
}

export type LabOutcome<A> = { readonly ok: true; readonly lab: LabState; readonly value: A } | LabRefusal
