/**
 * Published ports as Docker 20.10 does them (ports-20.10.md, cnm-libnetwork.md §4.5):
 *
 * - a container's ports are published through the endpoint libnetwork gives external
 *   connectivity: among its endpoints whose join set a gateway (an internal bridge's too), the one
 *   it sorts first (docker_gwbridge last, internal networks after the others, then by name). A
 *   bridge publishes; any other driver publishes nothing. A connect or disconnect that moves that
 *   endpoint moves the ports: released on the old network, allocated again on the new one (an
 *   ephemeral port is then the allocator's next). A multi-network container is started on its
 *   first network and connected to the others, so its ports move as it joins them;
 * - a join never publishes on an internal network (sandbox sbJoin: `if !n.internal`), but a leave
 *   does (sbLeave programs the new gateway endpoint whatever its network): a container created on
 *   an internal network alone publishes nothing, one that leaves every other network keeps its
 *   ports on the internal one. Such a network's ports have docker-proxy and no DNAT (its bridge
 *   has no nat chain), so every connection to them is the proxy's; on `none` ports are ignored,
 *   on `host` discarded;
 * - a `-p` without a host address is published on the network's host_binding_ipv4 (0.0.0.0
 *   unless the network says otherwise);
 * - host ports: as given, the next free port of a host range, or ephemeral from 32768 up, one
 *   by one, each (host IP, protocol, range) with its own cursor, as the portallocator keeps;
 * - a host port is published at most once per host address and protocol: the allocator refuses
 *   the same address twice ("port is already allocated"), and docker-proxy's bind refuses one
 *   address next to 0.0.0.0 ("address already in use"). Both are PortInUse, and the step that
 *   met them changes nothing (the contract's rule, where Docker leaves the container Created).
 */
import { cnmError } from "./errors.ts"
import type { CnmError } from "./errors.ts"
import { gatewayBridgeNetwork, hostState, labWith } from "./lab-store.ts"
import { givesGateway, isGatewayLeg } from "./lab-sandboxes.ts"
import type { LabState } from "./lab-types.ts"
import { type ListenSpec, type PortMapping, parseListenSpec, parsePortSpec } from "./port-spec.ts"
import { containerRecord, networkRecord } from "./representation.ts"
import type { PortBinding, PortsState, Serving } from "./service-types.ts"
import * as StringMap from "./string-map.ts"
import type { Endpoint, Network } from "./types.ts"

/** Linux's ip_local_port_range on this machine and Docker's fallback: where ephemeral ports come from */
export const ephemeralPorts = { start: 32768, end: 60999 } as const

/** libnetwork's bridge driver: how many ephemeral ports one mapping tries before it gives up */
const maxAllocatePortAttempts = 10

export type Parsed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: CnmError }

/** a container's `ports` and `listen`: the CLI refuses a bad spec before anything is created */
export const parseServing = (ports: ReadonlyArray<string> = [], listen: ReadonlyArray<string> = []): Parsed<Serving> => {
  const mappings: Array<PortMapping> = []
  for (const spec of ports) {
    const parsed = parsePortSpec(spec)
    if (!parsed.ok) return { ok: false, error: cnmError("InvalidPort", parsed.message) }
    mappings.push(...parsed.mappings)
  }
  const listening: Array<ListenSpec> = []
  for (const spec of listen) {
    const parsed = parseListenSpec(spec)
    if (!parsed.ok) return { ok: false, error: cnmError("InvalidPort", parsed.message) }
    listening.push(parsed.listen)
  }
  return { ok: true, value: { mappings, listen: listening } }
}

/**
 * The endpoint that carries a container's default route: libnetwork's gateway endpoint
 * (sandbox.go getGatewayEndpoint over Endpoint.Less): among the endpoints whose driver gives a
 * gateway, docker_gwbridge last, then by network name.
 */
export const gatewayRoute = (lab: LabState, host: number, container: string): { endpoint: Endpoint; network: Network } | undefined => {
  const state = hostState(lab, host)
  const record = containerRecord(state, container)
  if (record === undefined) return undefined
  const isLeg = (entry: { endpoint: Endpoint; network: Network }) => isGatewayLeg(lab, container, entry.endpoint) || entry.network.name === gatewayBridgeNetwork
  return record.endpoints
    .flatMap((endpoint) => {
      const network = networkRecord(state, endpoint.network)?.network
      return network !== undefined && givesGateway(lab, network) ? [{ endpoint, network }] : []
    })
    .sort((a, b) => {
      if (isLeg(a) !== isLeg(b)) return isLeg(a) ? 1 : -1
      return a.network.name < b.network.name ? -1 : a.network.name > b.network.name ? 1 : 0
    })[0]
}

/**
 * libnetwork's getGatewayEndpoint, which ProgramExternalConnectivity follows: the first, in
 * Endpoint.Less's order, of the endpoints whose join set a gateway. Unlike the default route
 * (gatewayRoute) an internal bridge counts, after every other network (its join sets the gateway
 * too: the route leads only to the host).
 */
export const externalEndpoint = (lab: LabState, host: number, container: string): { endpoint: Endpoint; network: Network } | undefined => {
  const state = hostState(lab, host)
  const record = containerRecord(state, container)
  if (record === undefined) return undefined
  const isLeg = (entry: { endpoint: Endpoint; network: Network }) => isGatewayLeg(lab, container, entry.endpoint) || entry.network.name === gatewayBridgeNetwork
  const rank = (entry: { endpoint: Endpoint; network: Network }) => (isLeg(entry) ? 2 : entry.network.internal ? 1 : 0)
  return record.endpoints
    .flatMap((endpoint) => {
      const network = networkRecord(state, endpoint.network)?.network
      if (network === undefined) return []
      const internalBridge = network.driver === "bridge" && network.internal && network.gateway !== undefined
      return givesGateway(lab, network) || internalBridge ? [{ endpoint, network }] : []
    })
    .sort((a, b) => rank(a) - rank(b) || (a.network.name < b.network.name ? -1 : a.network.name > b.network.name ? 1 : 0))[0]
}

/** the network whose endpoint has the container's external connectivity now, when it is a bridge: where its ports may sit */
export const publishingNetwork = (lab: LabState, host: number, container: string): Network | undefined => {
  const network = externalEndpoint(lab, host, container)?.network
  return network?.driver === "bridge" ? network : undefined
}

/**
 * What moved the external connectivity: a join (the container's start on its first network is
 * one) or a leave, and the network of the endpoint that had it before (undefined: none had).
 */
export interface ConnectivityMove {
  readonly kind: "join" | "leave"
  readonly before: string | undefined
}

/** the network a container's external connectivity was on: what a ConnectivityMove's `before` is read from */
export const externalNetworkName = (lab: LabState, host: number, container: string): string | undefined =>
  externalEndpoint(lab, host, container)?.network.name

/** two bindings would take one socket: same protocol and port, same address or either on every address */
export const bindingsClash = (a: Pick<PortBinding, "host" | "hostIp" | "hostPort" | "proto">, b: Pick<PortBinding, "host" | "hostIp" | "hostPort" | "proto">): boolean =>
  a.host === b.host && a.proto === b.proto && a.hostPort === b.hostPort && (a.hostIp === b.hostIp || a.hostIp === "" || b.hostIp === "")

/** every binding held on the lab's hosts: containers' and the routing mesh's */
export const allBindings = (lab: LabState): Array<PortBinding> => [
  ...StringMap.values(lab.ports.bindings).flat(),
  ...StringMap.values(lab.services).flatMap((service) => service.ports),
]

/** the network name host sockets carry: a process in the host's namespace, not a publication */
export const hostSocketNetwork = "host"

/**
 * What containers on the `host` network listen on: sockets of the host itself, which a later
 * publication's docker-proxy cannot bind (Docker 20.10: "bind: address already in use"), and
 * which answer connections to the host's addresses that no publication catches.
 */
export const hostSockets = (lab: LabState): Array<PortBinding> => {
  const sockets: Array<PortBinding> = []
  StringMap.forEach(lab.ports.serving, (serving, container) => {
    const host = StringMap.get(lab.placement, container)
    if (host === undefined || serving.listen.length === 0) return
    const onHost = containerRecord(hostState(lab, host), container)?.endpoints.some((endpoint) => endpoint.network === hostSocketNetwork)
    if (!onHost) return
    for (const entry of serving.listen) {
      sockets.push({ container, host, network: hostSocketNetwork, hostIp: "", hostPort: entry.port, containerPort: entry.port, proto: entry.proto })
    }
  })
  return sockets
}

/**
 * A server of a container on the host's network whose port the host already holds (a publication's
 * docker-proxy, another such server): its bind fails as docker-proxy's does ("address already in
 * use"), and the contract refuses the step with PortInUse rather than start a container that
 * cannot serve.
 */
const hostSocketTaken = (lab: LabState, container: string): PortBinding | undefined => {
  const own = hostSockets(lab).filter((socket) => socket.container === container)
  if (own.length === 0) return undefined
  const others = takenSockets(lab).filter((socket) => socket.container !== container)
  return own.find((socket) => others.some((other) => bindingsClash(socket, other)))
}

/** every socket a new publication must not clash with: publications and the host's own listeners */
export const takenSockets = (lab: LabState): Array<PortBinding> => [...allBindings(lab), ...hostSockets(lab)]

const addressText = (hostIp: string): string => (hostIp === "" ? "0.0.0.0" : hostIp)

const cursorKey = (mapping: PortMapping): string => {
  const range = mapping.hostPorts === undefined || mapping.hostPorts.start === 0 ? "ephemeral" : `${mapping.hostPorts.start}-${mapping.hostPorts.end}`
  return `${addressText(mapping.hostIp)}/${mapping.proto}/${range}`
}

interface Allocation {
  readonly bindings: ReadonlyArray<PortBinding>
  readonly cursors: StringMap.StringMap<number>
}

/**
 * Host ports for one container's mappings on one host, against what is held already (`held`):
 * the allocator first (same address and protocol), then the proxy's bind (0.0.0.0 next to one
 * address). The first refusal is Docker's sentence for it.
 */
export const allocatePorts = (
  held: ReadonlyArray<PortBinding>,
  cursors: StringMap.StringMap<number>,
  place: { readonly container: string; readonly host: number; readonly network: string; readonly endpoint: string },
  mappings: ReadonlyArray<PortMapping>,
): { ok: true; value: Allocation } | { ok: false; error: CnmError } => {
  const taken: Array<PortBinding> = [...held]
  const made: Array<PortBinding> = []
  let current = cursors
  const inUse = (message: string) => ({
    ok: false as const,
    error: cnmError("PortInUse", `driver failed programming external connectivity on endpoint ${place.endpoint}: ${message}`),
  })
  for (const mapping of mappings) {
    // the allocator knows publications only; a host process is met by the proxy's bind below
    const sameMap = (port: number) => taken.some((binding) => binding.network !== hostSocketNetwork && binding.host === place.host && binding.proto === mapping.proto && binding.hostIp === mapping.hostIp && binding.hostPort === port)
    const ephemeral = mapping.hostPorts === undefined || mapping.hostPorts.start === 0
    const range = ephemeral ? ephemeralPorts : (mapping.hostPorts as { start: number; end: number })
    const bindingOn = (port: number): PortBinding => ({ container: place.container, host: place.host, network: place.network, hostIp: mapping.hostIp, hostPort: port, containerPort: mapping.containerPort, proto: mapping.proto })
    const proxyRefused = (port: number) => inUse(`Error starting userland proxy: listen ${mapping.proto}4 ${addressText(mapping.hostIp)}:${port}: bind: address already in use`)
    let binding: PortBinding | undefined
    if (!ephemeral && range.start === range.end) {
      if (sameMap(range.start)) return inUse(`Bind for ${addressText(mapping.hostIp)}:${range.start} failed: port is already allocated`)
      binding = bindingOn(range.start)
      if (taken.some((other) => bindingsClash(other, binding as PortBinding))) return proxyRefused(range.start)
    } else {
      // the portallocator's checkNext: from after the cursor round the range, the first free port.
      // An ephemeral port whose proxy cannot bind (another address holds the number, or a host
      // process) is given back and the next one tried, up to libnetwork's maxAllocatePortAttempts;
      // the cursor stays where each attempt left it. A host range is not retried (bridge allocatePort)
      const key = cursorKey(mapping)
      const size = range.end - range.start + 1
      for (let attempt = 1; attempt <= (ephemeral ? maxAllocatePortAttempts : 1) && binding === undefined; attempt++) {
        const last = StringMap.get(current, key) ?? range.end
        let port: number | undefined
        for (let step = 1; step <= size && port === undefined; step++) {
          const candidate = range.start + ((last - range.start + step) % size)
          if (!sameMap(candidate)) port = candidate
        }
        if (port === undefined) return inUse("all ports are allocated")
        current = StringMap.set(current, key, port)
        const tried = bindingOn(port)
        if (!taken.some((other) => bindingsClash(other, tried))) binding = tried
        else if (!ephemeral || attempt === maxAllocatePortAttempts) return proxyRefused(port)
      }
    }
    if (binding === undefined) return inUse("all ports are allocated")
    taken.push(binding)
    made.push(binding)
  }
  return { ok: true, value: { bindings: made, cursors: current } }
}

/** records what a new container asked for (before it is published) */
export const withServing = (lab: LabState, container: string, serving: Serving): LabState =>
  serving.mappings.length === 0 && serving.listen.length === 0
    ? lab
    : labWith(lab, { ports: { ...lab.ports, serving: StringMap.set(lab.ports.serving, container, serving) } })

/** forgets a removed container's requests and bindings */
export const withoutServing = (lab: LabState, container: string): LabState =>
  StringMap.has(lab.ports.serving, container) || StringMap.has(lab.ports.bindings, container)
    ? labWith(lab, { ports: { ...lab.ports, serving: StringMap.remove(lab.ports.serving, container), bindings: StringMap.remove(lab.ports.bindings, container) } })
    : lab

/** the bridge option naming the host address a `-p` without one is published on (0.0.0.0 by default) */
export const defaultBindingIpOption = "com.docker.network.bridge.host_binding_ipv4"

/**
 * A mapping without a host address takes the publishing network's default binding address
 * (libnetwork's bridge validatePortBindingIPv4: an empty HostIP becomes the network's
 * DefaultBindingIP), so a network bound to 127.0.0.1 publishes on loopback only.
 */
const withDefaultBindingIp = (network: Network, mappings: ReadonlyArray<PortMapping>): ReadonlyArray<PortMapping> => {
  const address = network.options[defaultBindingIpOption]
  if (address === undefined || address === "" || address === "0.0.0.0") return mappings
  return mappings.map((mapping) => (mapping.hostIp === "" ? { ...mapping, hostIp: address } : mapping))
}

/**
 * Publishes the container's ports where its external connectivity now is, after `move`: nothing
 * changes when it stayed on the same endpoint; otherwise the old bindings go, and new ones are
 * allocated on the new endpoint's bridge, unless a join gave it to an internal network.
 */
export const settlePorts = (lab: LabState, host: number, container: string, move: ConnectivityMove): Parsed<LabState> => {
  const taken = hostSocketTaken(lab, container)
  if (taken !== undefined) return { ok: false, error: cnmError("PortInUse", `listen ${taken.proto}4 0.0.0.0:${taken.hostPort}: bind: address already in use`) }
  const serving = StringMap.get(lab.ports.serving, container)
  if (serving === undefined || serving.mappings.length === 0) return { ok: true, value: lab }
  const external = externalEndpoint(lab, host, container)?.network
  if (external?.name === move.before) return { ok: true, value: lab }
  const network = external?.driver === "bridge" && !(move.kind === "join" && external.internal) ? external : undefined
  const held = takenSockets(lab).filter((binding) => binding.container !== container)
  if (network === undefined) return { ok: true, value: labWith(lab, { ports: { ...lab.ports, bindings: StringMap.remove(lab.ports.bindings, container) } }) }
  const cursors = lab.ports.cursors[host] ?? StringMap.empty<number>()
  const allocated = allocatePorts(held, cursors, { container, host, network: network.name, endpoint: `${container} (${network.name})` }, withDefaultBindingIp(network, serving.mappings))
  if (!allocated.ok) return allocated
  return {
    ok: true,
    value: labWith(lab, {
      ports: {
        ...lab.ports,
        bindings: StringMap.set(lab.ports.bindings, container, allocated.value.bindings),
        cursors: lab.ports.cursors.map((entry, index) => (index === host ? allocated.value.cursors : entry)),
      },
    }),
  }
}

/** the host ports a container is published on now, in the order of its mappings */
export const portBindingsOf = (lab: LabState, container: string): ReadonlyArray<PortBinding> => StringMap.get(lab.ports.bindings, container) ?? []

/** what a container (or replica) serves */
export const listensOn = (lab: LabState, container: string, port: number, proto: string): boolean =>
  (StringMap.get(lab.ports.serving, container)?.listen ?? []).some((entry) => entry.port === port && entry.proto === proto)
