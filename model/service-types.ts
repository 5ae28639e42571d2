/**
 * What a lab holds for published ports and swarm services, as pure data (lab-types.ts embeds it):
 * each container's `-p` mappings and `listen` sockets, the host ports they are published on now,
 * the port allocator's cursors per host, and each service with its VIPs and replicas.
 */
import type { ListenSpec, PortMapping, PortProtocol } from "./port-spec.ts"
import type * as StringMap from "./string-map.ts"

/** what a container asked for: `ports` and what it serves */
export interface Serving {
  readonly mappings: ReadonlyArray<PortMapping>
  readonly listen: ReadonlyArray<ListenSpec>
}

/** one host port a container is published on: docker-proxy and the DNAT rule of its gateway network */
export interface PortBinding {
  readonly container: string
  /** the host's index in the lab */
  readonly host: number
  /** the bridge network that publishes it: the container's gateway network */
  readonly network: string
  /** "" is every address of the host (0.0.0.0) */
  readonly hostIp: string
  readonly hostPort: number
  readonly containerPort: number
  readonly proto: PortProtocol
}

export interface PortsState {
  /** container (or replica) → what it asked for */
  readonly serving: StringMap.StringMap<Serving>
  /** container → the bindings it holds now (none on an internal-only, `none` or `host` container) */
  readonly bindings: StringMap.StringMap<ReadonlyArray<PortBinding>>
  /**
   * per host, the allocator's last port per (host IP, protocol, range): Docker 20.10's
   * portallocator keeps one cursor per map and hands out the next free port after it
   */
  readonly cursors: ReadonlyArray<StringMap.StringMap<number>>
}

export const endpointModes = ["vip", "dnsrr"] as const
export type EndpointMode = (typeof endpointModes)[number]

/** a swarm service as the manager keeps it */
export interface ServiceRecord {
  readonly name: string
  readonly networks: ReadonlyArray<string>
  readonly endpointMode: EndpointMode
  /** vip mode: network → the VIP, taken from the network's book before any replica's address */
  readonly vips: Readonly<Record<string, string>>
  /** replica names (`api.1` …) in order, each a container of the lab on its placed host */
  readonly replicas: ReadonlyArray<string>
  readonly listen: ReadonlyArray<ListenSpec>
  /** ingress-mode ports: published on every host through the routing mesh */
  readonly ports: ReadonlyArray<PortBinding>
  readonly mappings: ReadonlyArray<PortMapping>
}
