import type { KernelOp } from "../backends/kernel-types.ts"
import type { SwarmKeys } from "../controller/keys.ts"
import type { OverlayInfo, VlanInfo } from "../model/lab-types.ts"
import type { Endpoint, Network } from "../model/types.ts"

/**
 * One named step of a driver's kernel work: what to do, and what undoes it if a later step fails.
 * Drivers return tables of steps instead of calling the kernel, so reports and benchmarks can name
 * the step that failed or was slow, and rollback is the same code for every driver.
 */
export interface Step {
  readonly name: string
  readonly do: ReadonlyArray<KernelOp>
  readonly undo: ReadonlyArray<KernelOp>
}

/**
 * libnetwork's driver scope: a local driver's networks live on one host each; a global driver's
 * network spans the hosts, and each host's driver learns the endpoints on the others through peer
 * events carried by the global-scope store.
 */
export type DriverScope = "local" | "global"

/** an endpoint on another host, as a global-scope driver programs it (libnetwork's peerAdd/peerDelete) */
export interface Peer {
  /** plain IPv4 address of the remote endpoint */
  readonly address: string
  /** the remote endpoint's prefix length on the network */
  readonly prefix: number
  readonly mac: string
  /** the remote host's underlay address: where its VXLAN traffic goes */
  readonly vtep: string
}

/** the host's leg on the underlay joining the Docker hosts */
export interface UnderlayLeg {
  /** the link in the host namespace, `eth0` as on a Docker host */
  readonly dev: string
  /** plain IPv4 address */
  readonly address: string
  readonly mtu: number
}

/** the Docker host a driver works on, as the controller sees it */
export interface HostContext {
  /** the host's network namespace */
  readonly ns: string
  /** the host's name in the lab */
  readonly host: string
  /** absent on a lab without an underlay */
  readonly underlay?: UnderlayLeg
  /** what swarm allocated for an overlay network (VNI, MTU, encryption) */
  readonly overlayOf?: (network: Network) => OverlayInfo | undefined
  /** a macvlan or ipvlan network's parent and mode on this host */
  readonly vlanOf?: (network: Network) => VlanInfo | undefined
  /** every network on this host after the change being made (a driver programs rules across its networks) */
  readonly networks: ReadonlyArray<Network>
  /** the swarm's data-path encryption keys, on a swarm host */
  readonly swarmKeys?: SwarmKeys
  /**
   * the kernel installs IPsec ESP states (Capabilities.esp); where it cannot, a driver does what
   * Docker does on such a kernel and leaves the states and policies out
   */
  readonly esp?: boolean
  /** every port published on this host after the change being made; none when absent */
  readonly published?: ReadonlyArray<PublishedPort>
}

/**
 * One container port published on a host (`docker run -p`), through the network that is the
 * container's gateway (libnetwork publishes only there): the host's hostIp:hostPort (hostIp
 * 0.0.0.0 for every address) goes to containerAddress:containerPort.
 */
export interface PublishedPort {
  readonly network: string
  readonly hostIp: string
  readonly hostPort: number
  readonly proto: "tcp" | "udp"
  /** plain address, without prefix length */
  readonly containerAddress: string
  readonly containerPort: number
  /**
   * a port of the swarm's routing mesh, towards the host's ingress sandbox (containerAddress) on
   * docker_gwbridge: libnetwork's DOCKER-INGRESS chains (service_linux.go programIngress)
   * rather than the bridge driver's DOCKER chains
   */
  readonly ingress?: true
}

/** where an endpoint lands */
export interface Attachment {
  /** the container's sandbox namespace (the host's own for host-network containers) */
  readonly sandboxNs: string
  /** a host-side interface name reserved for this endpoint by the controller, unique on the host */
  readonly hostIf: string
  /** the sandbox namespace is about to be deleted, taking every link inside it along */
  readonly sandboxClosing?: boolean
}

export interface JoinPlan {
  readonly steps: ReadonlyArray<Step>
  /** the gateway the sandbox may route through, when the network offers one */
  readonly gateway?: string
}

/**
 * The small driver interface (libnetwork's driverapi, minus what cnmlab does not need yet).
 * Every driver is written once, against the kernel interface only.
 */
export interface Driver {
  readonly name: Network["driver"]
  readonly scope: DriverScope
  /** validate driver options before anything is made; a message means InvalidOption */
  readonly checkOptions?: (network: Network) => string | undefined
  readonly createNetwork: (network: Network, host: HostContext) => ReadonlyArray<Step>
  readonly deleteNetwork: (network: Network, host: HostContext) => ReadonlyArray<Step>
  readonly join: (network: Network, endpoint: Endpoint, host: HostContext, at: Attachment) => JoinPlan
  readonly leave: (network: Network, endpoint: Endpoint, host: HostContext, at: Attachment) => ReadonlyArray<Step>
  /** global scope: an endpoint appeared on another host (called for each remote endpoint, on each host holding the network) */
  readonly peerAdd?: (network: Network, peer: Peer, host: HostContext) => ReadonlyArray<Step>
  /** global scope: that endpoint went away */
  readonly peerDelete?: (network: Network, peer: Peer, host: HostContext) => ReadonlyArray<Step>
  /**
   * global scope: the first endpoint of an encrypted network appeared on a remote host (its
   * underlay address `vtep`), counting every encrypted network this host holds: what the pair of
   * hosts needs to talk encrypted (libnetwork's overlay: setupEncryption)
   */
  readonly secureVtepAdd?: (vtep: string, host: HostContext) => ReadonlyArray<Step>
  /** the last endpoint of the encrypted networks on that remote host went away (removeEncryption) */
  readonly secureVtepDelete?: (vtep: string, host: HostContext) => ReadonlyArray<Step>
}

export const step = (name: string, doOps: ReadonlyArray<KernelOp>, undo: ReadonlyArray<KernelOp> = []): Step => ({
  name,
  do: doOps,
  undo,
})
