/**
 * CNM as pure data: networks, containers (each with its sandbox), endpoints, and the IPAM state
 * of one controller (one Docker host). No I/O, no classes.
 */

export const driverNames = ["bridge", "overlay", "macvlan", "ipvlan", "null", "host"] as const
export type DriverName = (typeof driverNames)[number]

/**
 * Where a network lives (libnetwork's scope): `local` on one Docker host with that host's IPAM,
 * `swarm` across every host of a swarm with the manager's IPAM (overlay).
 */
export type NetworkScope = "local" | "swarm"

/** the networks every controller starts with */
export const predefinedNetworks = ["bridge", "host", "none"] as const

/** what a user asks for (scenario file, step, CLI) */
export interface NetworkRequest {
  readonly name: string
  readonly driver?: string
  readonly subnet?: string
  readonly gateway?: string
  readonly ipRange?: string
  readonly internal?: boolean
  readonly options?: Readonly<Record<string, string>>
}

export interface AttachRequest {
  readonly network: string
  /** static IPv4 address (no prefix) */
  readonly ip?: string
  readonly aliases?: ReadonlyArray<string>
}

export interface ContainerRequest {
  readonly name: string
  /** omitted or empty: the default network `bridge` */
  readonly networks?: ReadonlyArray<AttachRequest>
}

export interface Network {
  /** 64 hex chars, deterministic from the controller's sequence (so runs are replayable) */
  readonly id: string
  readonly name: string
  readonly driver: DriverName
  /** CIDR in network-address form, what addresses are allocated from; absent for `host` and `none` */
  readonly subnet?: string
  /**
   * The subnet as Docker lists it (`docker network inspect`, IPAM.Config[].Subnet) and as reports
   * show it: a user subnet exactly as written, host bits included ("10.22.0.5/24": Docker 20.10
   * keeps the text and allocates from 10.22.0.0/24); an automatic one as its pool. Present
   * exactly when `subnet` is, and always the same block.
   */
  readonly configuredSubnet?: string
  /** plain address; absent for host/none */
  readonly gateway?: string
  readonly ipRange?: string
  /** the user gave the subnet (static addresses allowed only then) */
  readonly userSubnet: boolean
  readonly internal: boolean
  readonly predefined: boolean
  readonly options: Readonly<Record<string, string>>
  /** creation order, used for stable listings */
  readonly seq: number
  /** set only on swarm-scope networks; absent means local (see scopeOf) */
  readonly scope?: NetworkScope
}

export const scopeOf = (network: Network): NetworkScope => network.scope ?? "local"

export interface Endpoint {
  readonly container: string
  readonly network: string
  /** CIDR ("172.18.0.2/16"); absent on host/none */
  readonly address?: string
  readonly mac?: string
  readonly aliases: ReadonlyArray<string>
  /** interface name inside the sandbox: ethN, N from the sandbox's counter (never reused, as in Docker 20.10) */
  readonly ifname?: string
  /** the address was given by the user */
  readonly staticAddress: boolean
}

export interface Container {
  readonly name: string
  /** networks in attach order */
  readonly networks: ReadonlyArray<string>
}
