/**
 * Who answers a TCP connection or a UDP exchange in a lab, and which source address the server
 * sees, as Docker 20.10 on Linux would show (ports-20.10.md, cnm-libnetwork.md §4.5 and §8.3):
 *
 * - outside (or another host) → host:port: DNAT in PREROUTING, the source kept (another host's
 *   connection arrives with that host's address, masqueraded if it came from a container);
 * - a host → its own address: DNAT in OUTPUT, seen from the address it connected to;
 * - a container → 127.0.0.1: its own loopback, only its own sockets answer;
 * - a host → 127.0.0.1, and a container → any address of its host (hairpin): docker-proxy,
 *   which connects from the publishing network's gateway; a refusing container gives `closed`
 *   (the proxy had accepted), and a UDP answer comes back from the client's own gateway, so only a
 *   client that sent to that gateway gets it;
 * - a container → outside: masqueraded to its host's address through its gateway network; an
 *   internal-only container has no way out (dropped), `none` no route at all;
 * - container → container: what the ping model says reaches (isolation, icc=false), then the
 *   server's socket decides: answer or refused;
 * - services: a VIP balances round robin over every replica (IPVS), seen from the client host's
 *   load-balancer address on that network (libnetwork's SNAT to the LB endpoint); the routing mesh
 *   does the same from any host's published port, seen from that host's ingress sandbox, and
 *   takes a host's own containers and the host's 127.0.0.1 first (DOCKER-INGRESS is inserted ahead
 *   of the bridge driver's rules), and its FORWARD accepts open the port between any two
 *   containers of a host (docs/ports-and-services.md "The routing mesh on its own host"); dnsrr,
 *   `tasks.svc` and a shared alias leave the choice to the DNS shuffle (any holder may answer, a
 *   holder of the alias reaches itself).
 *
 * A prediction does not depend on how many connections came before: a UDP `refused` (ICMP port
 * unreachable) is predicted every time, as the backends' namespaces do not rate-limit ICMP errors;
 * a Docker host's kernel does, and times out past a burst of six (docs/ports-and-services.md).
 *
 * `outcome: undefined` where the model does not predict (macvlan/ipvlan paths to the outside, a
 * race between two holders of an address): a check then only reports.
 */
import { cidrContains, parseCidrWithAddress, parseIPv4, stripPrefix } from "./cidr.ts"
import { hostState, ingressNetwork, ingressSandbox } from "./lab-store.ts"
import { predictLabReach } from "./lab-reach.ts"
import { isReplica, predictLabResolve, resolveReading, resolverNetworks } from "./lab-resolve.ts"
import { readingsOf } from "./predict.ts"
import { isGatewayLeg } from "./lab-sandboxes.ts"
import type { LabState } from "./lab-types.ts"
import { loadBalancers } from "./lab-queries.ts"
import { masqueradeEnabled } from "./options.ts"
import { gatewayRoute, hostSocketNetwork, listensOn, takenSockets } from "./ports.ts"
import { containerRecord, networkRecord } from "./representation.ts"
import type { PortBinding, ServiceRecord } from "./service-types.ts"
import { replicaAddresses } from "./services.ts"
import * as StringMap from "./string-map.ts"
import type { Endpoint, Network } from "./types.ts"

export type ConnectOutcome = "answer" | "refused" | "closed" | "unreachable" | "timeout"

/** what `to` names, as the scenario's loader splits it */
export type ConnectTarget =
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "address"; readonly address: string }
  | { readonly kind: "outside" }
  | { readonly kind: "hostPort"; readonly host: string }

export interface ConnectQuestion {
  /** a container (or replica), a host's name, or `outside` */
  readonly from: string
  readonly to: ConnectTarget
  readonly port: number
  readonly proto: "tcp" | "udp"
  /** to a container: its address on this network */
  readonly network?: string
}

/** how several answerers share connections */
export type Balance = "one" | "roundRobin" | "dnsShuffle"

export interface ConnectPrediction {
  /** the address tried; undefined when `to` names nothing that has one */
  readonly address: string | undefined
  readonly port: number
  /** undefined: not predicted */
  readonly outcome: ConnectOutcome | undefined
  /** who may answer: one, or every replica/holder over which connections are shared */
  readonly answeredBy: ReadonlyArray<string>
  readonly balance: Balance
  readonly seenFrom: string | undefined
  /** the way the connection takes, for reports and traces */
  readonly path: string
}

export const outsideParty = "outside"

interface World {
  readonly lab: LabState
  /** plain address of the outside machine, if the scenario has one */
  readonly outside: string | undefined
}

const plain = (cidr: string): string => stripPrefix(cidr)

const none = (address: string | undefined, port: number, outcome: ConnectOutcome | undefined, path: string): ConnectPrediction => ({
  address,
  port,
  outcome,
  answeredBy: [],
  balance: "one",
  seenFrom: undefined,
  path,
})

/** the container's endpoints with their networks, the gateway leg included */
const routesOf = (lab: LabState, host: number, container: string): Array<{ endpoint: Endpoint; network: Network }> => {
  const state = hostState(lab, host)
  const record = containerRecord(state, container)
  if (record === undefined) return []
  return record.endpoints.flatMap((endpoint) => {
    const network = networkRecord(state, endpoint.network)?.network
    return network === undefined ? [] : [{ endpoint, network }]
  })
}

/** the route whose subnet holds the address (the longest prefix) */
const onLinkRoute = (lab: LabState, host: number, container: string, address: number) =>
  routesOf(lab, host, container)
    .filter((route) => {
      const cidr = route.endpoint.address === undefined ? undefined : parseCidrWithAddress(route.endpoint.address)
      return cidr !== undefined && cidrContains(cidr, address)
    })
    .sort((a, b) => (parseCidrWithAddress(b.endpoint.address as string)?.prefix ?? 0) - (parseCidrWithAddress(a.endpoint.address as string)?.prefix ?? 0))[0]

/** the host's bridge network whose subnet holds the address (a host's bridges never overlap) */
const bridgeHolding = (lab: LabState, host: number, address: number): Network | undefined =>
  StringMap.values(hostState(lab, host).networks).find(({ network }) => {
    const subnet = network.driver === "bridge" && network.subnet !== undefined ? parseCidrWithAddress(network.subnet) : undefined
    return subnet !== undefined && cidrContains(subnet, address)
  })?.network

/** whether a host has a route to the address without a default one: its underlay link, or one of its bridges' subnets */
const hostRoutesTo = (lab: LabState, host: number, address: number): boolean =>
  cidrContains(lab.underlay, address) || bridgeHolding(lab, host, address) !== undefined

/** every address the host owns: its underlay address, its bridges' gateways, loopback */
const hostOwns = (lab: LabState, host: number, address: string): boolean => {
  if (address.startsWith("127.")) return true
  if (lab.hosts[host]?.address === address) return true
  return StringMap.values(hostState(lab, host).networks).some((record) => record.network.driver === "bridge" && record.network.gateway === address)
}

const hostWithAddress = (lab: LabState, address: string): number | undefined => {
  const index = lab.hosts.findIndex((host) => host.address === address)
  return index === -1 ? undefined : index
}

/** the bindings on a host that a connection to `address:port` meets */
const bindingsFor = (lab: LabState, host: number, address: string, port: number, proto: string): ReadonlyArray<PortBinding> =>
  takenSockets(lab).filter(
    (binding) => binding.host === host && binding.proto === proto && binding.hostPort === port && (binding.hostIp === "" || binding.hostIp === address),
  )

const gatewayOf = (lab: LabState, host: number, network: string): string | undefined => networkRecord(hostState(lab, host), network)?.network.gateway

/** the server side of a published port: one container, or a service's replicas through the routing mesh */
const serve = (
  world: World,
  host: number,
  binding: PortBinding,
  base: { address: string; port: number; proto: string },
  seenFrom: (binding: PortBinding) => string | undefined,
  via: "dnat" | "proxy",
  source: string | undefined,
): ConnectPrediction => {
  const { lab } = world
  // a process on the host's own network: no NAT, no proxy, the client's own address arrives
  if (binding.network === hostSocketNetwork) {
    return { address: base.address, port: base.port, outcome: "answer", answeredBy: [binding.container], balance: "one", seenFrom: source, path: "host socket" }
  }
  const service = StringMap.get(lab.services, binding.container)
  if (service !== undefined && binding.network === ingressNetwork) return mesh(world, host, service, binding, base)
  // a port on an internal network has its docker-proxy and no DNAT (the bridge driver gives such a
  // network no nat chain), so what DNAT would take arrives at the proxy, seen from that network's gateway
  if (via === "dnat" && networkRecord(hostState(lab, host), binding.network)?.network.internal === true) {
    return serve(world, host, binding, base, (b) => gatewayOf(lab, host, b.network), "proxy", source)
  }
  const listening = listensOn(lab, binding.container, binding.containerPort, binding.proto)
  if (!listening) {
    // the proxy accepted before it dialled the container; DNAT passes the container's own refusal back
    const outcome: ConnectOutcome = via === "proxy" ? (base.proto === "udp" ? "timeout" : "closed") : "refused"
    return none(base.address, base.port, outcome, via === "proxy" ? "docker-proxy to a refusing container" : "DNAT to a refusing container")
  }
  return { address: base.address, port: base.port, outcome: "answer", answeredBy: [binding.container], balance: "one", seenFrom: seenFrom(binding), path: via === "proxy" ? "docker-proxy" : "DNAT" }
}

/** a port of the routing mesh (a service's, on `ingress`), which libnetwork's DOCKER-INGRESS takes ahead of the bridge driver's rules */
const isMeshBinding = (lab: LabState, binding: PortBinding): boolean => binding.network === ingressNetwork && StringMap.has(lab.services, binding.container)

/** the routing mesh: DNAT to the host's ingress sandbox, IPVS over every replica, SNAT to the sandbox's ingress address */
const mesh = (world: World, host: number, service: ServiceRecord, binding: PortBinding, base: { address: string; port: number }): ConnectPrediction => {
  const sandbox = containerRecord(hostState(world.lab, host), ingressSandbox)
  const seenFrom = sandbox?.endpoints.find((endpoint) => endpoint.network === ingressNetwork)?.address
  return balanced(world, service, binding.containerPort, binding.proto, base, seenFrom === undefined ? undefined : plain(seenFrom), "routing mesh")
}

const balanced = (
  world: World,
  service: ServiceRecord,
  port: number,
  proto: string,
  base: { address: string; port: number },
  seenFrom: string | undefined,
  path: string,
): ConnectPrediction => {
  const replicas = service.replicas
  if (replicas.length === 0) return none(base.address, base.port, "timeout", `${path}: no replica`)
  const listening = replicas.filter((replica) => listensOn(world.lab, replica, port, proto))
  // a mix of listening and refusing replicas answers some connections and refuses others
  const outcome: ConnectOutcome | undefined = listening.length === replicas.length ? "answer" : listening.length === 0 ? "refused" : undefined
  return { address: base.address, port: base.port, outcome, answeredBy: listening, balance: "roundRobin", seenFrom, path }
}

/** a connection that arrives at host `host` from beyond it (outside, another host), source `source` */
const fromBeyond = (world: World, host: number, address: string, port: number, proto: string, source: string | undefined): ConnectPrediction => {
  const binding = bindingsFor(world.lab, host, address, port, proto)[0]
  if (binding === undefined) return none(address, port, "refused", "the host has no socket there")
  return serve(world, host, binding, { address, port, proto }, () => source, "dnat", source)
}

const fromOutside = (world: World, question: ConnectQuestion, address: string): ConnectPrediction => {
  const host = hostWithAddress(world.lab, address)
  if (host !== undefined) return fromBeyond(world, host, address, question.port, question.proto, world.outside)
  // outside has a route to the hosts' link only: a container subnet is no destination it knows
  return none(address, question.port, "unreachable", "outside has no route to a container subnet")
}

const fromHost = (world: World, host: number, question: ConnectQuestion, address: string): ConnectPrediction => {
  const { lab } = world
  const own = lab.hosts[host]?.address as string
  if (address === world.outside) {
    return { address, port: question.port, outcome: "answer", answeredBy: [outsideParty], balance: "one", seenFrom: own, path: "host route" }
  }
  if (hostOwns(lab, host, address)) {
    const binding = bindingsFor(lab, host, address, question.port, question.proto)[0]
    if (binding === undefined) return none(address, question.port, "refused", "the host has no socket there")
    if (address.startsWith("127.")) {
      return serve(world, host, binding, { address, port: question.port, proto: question.proto }, (b) => gatewayOf(lab, host, b.network), "proxy", address)
    }
    return serve(world, host, binding, { address, port: question.port, proto: question.proto }, (b) => sourceAfterOutputDnat(lab, host, address, b), "dnat", address)
  }
  const other = hostWithAddress(lab, address)
  if (other !== undefined) return fromBeyond(world, other, address, question.port, question.proto, own)
  // a container on one of the host's bridges
  const target = containerAt(lab, address)
  if (target !== undefined && target.host === host) {
    const network = networkRecord(hostState(lab, host), target.endpoint.network)?.network
    if (network?.driver === "bridge") return direct(world, target.container, address, question, network.gateway)
  }
  // without an outside machine a host has no default route: an address on none of its links (an
  // overlay's, which lives in the overlay's own namespace) is ENETUNREACH at once (recorded on Docker
  // 20.10: swarm-dnsrr-clients-each-host, host1 and host2 to a container's overlay address)
  const wanted = parseIPv4(address)
  if (world.outside === undefined && wanted !== undefined && !hostRoutesTo(lab, host, wanted)) {
    return none(address, question.port, "unreachable", "the host has no route there (no default route)")
  }
  return none(address, question.port, undefined, "host to an address the model does not route")
}

/**
 * The source a host's own connection to one of its addresses arrives from after DNAT in OUTPUT: the
 * address it asked, unless that is the gateway of another bridge that masquerades: its subnet's
 * `-s subnet ! -o br -j MASQUERADE` then takes the packet leaving by the published container's
 * bridge, and the container sees that bridge's gateway (fixture ports-bound-to-gateway:
 * 172.17.0.1:8602 published by a container on 10.62.0.0/24 is seen from 10.62.0.1)
 */
const sourceAfterOutputDnat = (lab: LabState, host: number, address: string, binding: PortBinding): string | undefined => {
  const numeric = parseIPv4(address)
  if (numeric === undefined) return address
  const asked = bridgeHolding(lab, host, numeric)
  const masquerades = asked !== undefined && !asked.internal && masqueradeEnabled(asked.options)
  return !masquerades || asked.name === binding.network ? address : gatewayOf(lab, host, binding.network)
}

/** an internal bridge network's route, the first by name: the default route of a container on internal networks only */
const internalGatewayRoute = (lab: LabState, host: number, container: string) =>
  routesOf(lab, host, container)
    .filter((route) => route.network.driver === "bridge" && route.network.internal && route.network.gateway !== undefined)
    .sort((a, b) => (a.network.name < b.network.name ? -1 : a.network.name > b.network.name ? 1 : 0))[0]

/**
 * A host address asked from an internal network: Docker's nat DOCKER chain has no RETURN for an
 * internal bridge (libnetwork programs it for the others only), so a published port is DNATed to
 * its container on another bridge, and the isolation rules drop it on the way; a socket of the
 * host's own answers, and any other port is refused by the host.
 */
const fromInternal = (world: World, host: number, question: ConnectQuestion, address: string, route: { endpoint: Endpoint; network: Network }): ConnectPrediction => {
  const binding = bindingsFor(world.lab, host, address, question.port, question.proto)[0]
  if (binding === undefined) return none(address, question.port, "refused", "the host has no socket there")
  // DOCKER-INGRESS accepts the mesh's port in FORWARD ahead of the isolation chains, both ways
  // (libnetwork service_linux.go programIngress): the internal network's drop never sees it
  if (isMeshBinding(world.lab, binding)) return serve(world, host, binding, { address, port: question.port, proto: question.proto }, () => undefined, "dnat", undefined)
  const onInternal = networkRecord(hostState(world.lab, host), binding.network)?.network.internal === true
  if (binding.network !== hostSocketNetwork && !onInternal) return none(address, question.port, "timeout", "DNAT from an internal network, dropped by isolation")
  if (question.proto === "udp" && address !== route.network.gateway && binding.hostIp === "") return none(address, question.port, "timeout", "UDP to the host: the answer leaves from the gateway address")
  // a port left on an internal network is docker-proxy's alone: nothing DNATs it
  if (onInternal) return serve(world, host, binding, { address, port: question.port, proto: question.proto }, (b) => gatewayOf(world.lab, host, b.network), "proxy", plain(route.endpoint.address as string))
  return serve(world, host, binding, { address, port: question.port, proto: question.proto }, () => undefined, "dnat", plain(route.endpoint.address as string))
}

const containerAt = (lab: LabState, address: string): { container: string; host: number; endpoint: Endpoint } | undefined => {
  for (const [host, state] of lab.hostStates.entries()) {
    for (const record of StringMap.values(state.containers)) {
      const endpoint = record.endpoints.find((candidate) => candidate.address !== undefined && plain(candidate.address) === address)
      if (endpoint !== undefined && StringMap.has(lab.placement, record.container.name)) return { container: record.container.name, host, endpoint }
    }
  }
  return undefined
}

const direct = (world: World, server: string, address: string, question: ConnectQuestion, seenFrom: string | undefined): ConnectPrediction =>
  listensOn(world.lab, server, question.port, question.proto)
    ? { address, port: question.port, outcome: "answer", answeredBy: [server], balance: "one", seenFrom, path: "direct" }
    : none(address, question.port, "refused", "direct, nothing listens")

const fromContainer = (world: World, container: string, host: number, question: ConnectQuestion, address: string): ConnectPrediction => {
  const { lab } = world
  const numeric = parseIPv4(address)
  const routes = routesOf(lab, host, container)
  const withAddress = routes.filter((route) => route.endpoint.address !== undefined)
  const networks = routes.map((route) => route.network.driver)
  if (networks.includes("host")) return fromHost(world, host, question, address)
  // a sandbox's loopback is its own (`none` has one too): the host's 127.0.0.1 and its proxies are not there
  if (address.startsWith("127.")) return direct(world, container, address, question, address)
  if (withAddress.length === 0 || numeric === undefined) return none(address, question.port, "unreachable", "no route")
  const onLink = onLinkRoute(lab, host, container, numeric)
  const gateway = gatewayRoute(lab, host, container)
  // an internal-only container still has `default via` its bridge's gateway (docs/docker-20.10.md §4):
  // the host's own addresses answer it, and what the host would forward is dropped
  const internalDefault = gateway === undefined ? internalGatewayRoute(lab, host, container) : undefined
  const route = onLink ?? gateway ?? internalDefault
  // no route at all (internal overlays or vlans only: no default route, no gateway leg): connect()
  // fails at once with ENETUNREACH (recorded on Docker 20.10: swarm-service-internal-overlay)
  if (route === undefined) return none(address, question.port, "unreachable", "no route out of an internal network")
  if (route.network.driver === "bridge" && route.network.internal && hostOwns(lab, host, address)) return fromInternal(world, host, question, address, route)
  if (route === internalDefault && containerAt(lab, address) === undefined) return none(address, question.port, "timeout", "no way out of an internal network")

  // a VIP of a service on one of the container's networks
  for (const service of StringMap.values(lab.services)) {
    const network = Object.entries(service.vips).find(([name, vip]) => vip === address && routes.some((entry) => entry.network.name === name))?.[0]
    if (network === undefined) continue
    const lb = loadBalancers(lab).find((entry) => entry.network === network && entry.host === lab.hosts[host]?.name)
    return balanced(world, service, question.port, question.proto, { address, port: question.port }, lb === undefined ? undefined : plain(lb.address), "VIP")
  }

  if (address === world.outside) {
    if (route.network.driver !== "bridge") return none(address, question.port, undefined, `out through ${route.network.driver}`)
    const options = networkRecord(hostState(lab, host), route.network.name)?.network.options
    if (options !== undefined && !masqueradeEnabled(options)) return none(address, question.port, "timeout", "out without masquerade: no way back")
    return { address, port: question.port, outcome: "answer", answeredBy: [outsideParty], balance: "one", seenFrom: lab.hosts[host]?.address, path: "masquerade" }
  }

  if (hostOwns(lab, host, address) && (route.network.driver === "bridge")) {
    const binding = bindingsFor(lab, host, address, question.port, question.proto)[0]
    if (binding === undefined) return none(address, question.port, "refused", "the host has no socket there")
    // docker-proxy on every address answers UDP from the client's own gateway: only a client that
    // sent there takes it; a proxy bound to the address asked answers from that address. The
    // mesh's port is no proxy's: DOCKER-INGRESS DNATs it ahead of the bridge's RETURN, and
    // conntrack answers from the address asked
    const mesh = isMeshBinding(lab, binding)
    if (mesh) return serve(world, host, binding, { address, port: question.port, proto: question.proto }, () => undefined, "dnat", undefined)
    if (question.proto === "udp" && address !== route.network.gateway && binding.hostIp === "") {
      return none(address, question.port, "timeout", "UDP hairpin: the proxy replies from the gateway address")
    }
    return serve(world, host, binding, { address, port: question.port, proto: question.proto }, (b) => gatewayOf(lab, host, b.network), "proxy", plain(route.endpoint.address as string))
  }

  const other = hostWithAddress(lab, address)
  if (other !== undefined && route.network.driver === "bridge") {
    return fromBeyond(world, other, address, question.port, question.proto, lab.hosts[host]?.address)
  }

  // a bridge's default route hands the packet to the host, which has no way into an overlay's own
  // namespace and, without an outside machine, no default route: it answers ENETUNREACH at once
  // (recorded on Docker 20.10: swarm-service-beside-bridge, a bridge container to an overlay address)
  if (route === gateway && route.network.driver === "bridge" && world.outside === undefined && !hostRoutesTo(lab, host, numeric)) {
    return none(address, question.port, "unreachable", "the host has no route there (no default route)")
  }

  const target = containerAt(lab, address)
  if (target === undefined) return none(address, question.port, undefined, "nobody the model knows holds the address")
  const reach = predictLabReach(lab, container, target.container, address)
  if (reach === undefined) return none(address, question.port, undefined, "two holders of the address race")
  if (!reach) return meshBypass(world, host, container, route, onLink, target, address, question) ?? none(address, question.port, "timeout", "dropped (isolation, icc=false or no path)")
  const seenFrom = onLink !== undefined ? plain(onLink.endpoint.address as string) : lab.hosts[host]?.address
  return direct(world, target.container, address, question, seenFrom)
}

/** the host takes part in the routing mesh on this port: its ingress sandbox is there and a service publishes the port */
const meshPortOn = (lab: LabState, host: number, port: number, proto: string): boolean =>
  containerRecord(hostState(lab, host), ingressSandbox) !== undefined &&
  StringMap.values(lab.services).some((service) => service.ports.some((binding) => binding.host === host && binding.proto === proto && binding.hostPort === port))

type Route = { endpoint: Endpoint; network: Network }

/**
 * A mesh port opens the bridges' isolation and icc=false for any container of the host, both
 * ways: libnetwork's filter DOCKER-INGRESS (service_linux.go programIngress) accepts `--dport H`
 * and `--sport H` ESTABLISHED from FORWARD's first rule, for any interface, ahead of the
 * isolation chains and (through br_netfilter) of an icc=false bridge's drop. Between two bridges
 * the client's subnet is masqueraded on its way out of its bridge (seen from the server's
 * gateway) unless its network does not masquerade (internal, or turned off): then its own address
 * arrives, and the server's answer takes its default route back to the host. Undefined where the
 * mesh changes nothing (another host's container, a way out that is no bridge).
 */
const meshBypass = (
  world: World,
  host: number,
  client: string,
  route: Route,
  onLink: Route | undefined,
  target: { container: string; host: number; endpoint: Endpoint },
  address: string,
  question: ConnectQuestion,
): ConnectPrediction | undefined => {
  const { lab } = world
  if (target.host !== host || route.network.driver !== "bridge" || !meshPortOn(lab, host, question.port, question.proto)) return undefined
  const serverNetwork = networkRecord(hostState(lab, host), target.endpoint.network)?.network
  if (serverNetwork?.driver !== "bridge") return undefined
  if (onLink !== undefined && onLink.network.name === serverNetwork.name) return direct(world, target.container, address, question, plain(onLink.endpoint.address as string))
  const masquerade = !route.network.internal && masqueradeEnabled(route.network.options)
  if (masquerade) return direct(world, target.container, address, question, serverNetwork.gateway)
  const back = gatewayRoute(lab, host, target.container) ?? internalGatewayRoute(lab, host, target.container)
  if (back?.network.driver !== "bridge") return undefined
  return direct(world, target.container, address, question, plain(route.endpoint.address as string))
}

/** the address a name gives the client, and who may answer there */
const resolveName = (
  world: World,
  from: string,
  name: string,
  onNetwork: string | undefined,
): { address: string | undefined; holders: ReadonlyArray<string>; balance: Balance; service?: ServiceRecord } => {
  const { lab } = world
  const host = StringMap.get(lab.placement, from)
  const fromNetworks = host === undefined ? [] : routesOf(lab, host, from).map((route) => route.network.name)
  const tasks = name.toLowerCase().startsWith("tasks.")
  const service = StringMap.get(lab.services, tasks ? name.slice("tasks.".length) : name)
  if (service !== undefined) {
    const network = resolverNetworks(lab, from).find((candidate) => service.networks.includes(candidate))
    const shared = network === undefined || onNetwork !== undefined ? undefined : sharedServiceName(lab, from, name, service, network)
    if (shared !== undefined) return { ...shared, service }
    if (network !== undefined && !tasks && service.endpointMode === "vip") {
      return { address: service.vips[network], holders: service.replicas, balance: "roundRobin", service }
    }
    if (network !== undefined) {
      const replicas = replicaAddresses(lab, service, network)
      return { address: replicas[0]?.address, holders: replicas.map((entry) => entry.replica), balance: "dnsShuffle", service }
    }
  }
  const answers = onNetwork === undefined ? predictLabResolve(lab, from, name) : []
  if (answers.length > 0) {
    const holders = answers.flatMap((address) => {
      const found = containerAt(lab, address)
      return found === undefined ? [] : [found.container]
    })
    // the embedded DNS shuffles every answer, the asker's own address too (recorded on Docker 20.10:
    // a holder of the alias reaches every holder, not only itself)
    return { address: answers[0], holders, balance: holders.length > 1 ? "dnsShuffle" : "one" }
  }
  // a client with the embedded DNS connects to what it answers: nothing when it has no answer
  if (onNetwork === undefined && usesEmbeddedDns(lab, from) && !isReplica(lab, name)) return { address: undefined, holders: [], balance: "one" }
  // no DNS (the default bridge, a host): the container's address on a network the client shares, else its first
  const target = labAddressesOf(lab, name)
  const shared =
    onNetwork !== undefined ? target.find((entry) => entry.network === onNetwork) : (target.find((entry) => fromNetworks.includes(entry.network)) ?? target[0])
  return { address: shared?.address, holders: shared === undefined ? [] : [name], balance: "one" }
}

/**
 * A service's name that containers share on the network that answers it (a container's name or an
 * alias): the resolver answers the VIP or tasks and those containers together, shuffled, and each
 * connection goes to whichever came first; undefined when only the service holds the name.
 */
const sharedServiceName = (
  lab: LabState,
  from: string,
  name: string,
  service: ServiceRecord,
  network: string,
): { address: string | undefined; holders: ReadonlyArray<string>; balance: Balance } | undefined => {
  const answers = predictServiceResolve(lab, from, name)
  const vip = name.toLowerCase().startsWith("tasks.") || service.endpointMode !== "vip" ? undefined : service.vips[network]
  const replicas = replicaAddresses(lab, service, network)
  const holders = answers.flatMap((address) => {
    if (address === vip) return service.replicas
    const replica = replicas.find((entry) => entry.address === address)
    if (replica !== undefined) return [replica.replica]
    const found = containerAt(lab, address)
    return found === undefined ? [] : [found.container]
  })
  const others = holders.filter((holder) => !service.replicas.includes(holder))
  return others.length === 0 ? undefined : { address: answers[0], holders: [...new Set(holders)], balance: "dnsShuffle" }
}

/** Docker's embedded DNS serves a container with an endpoint on a user network; the default bridge, host and none have none */
export const usesEmbeddedDns = (lab: LabState, container: string): boolean => {
  const host = StringMap.get(lab.placement, container)
  return host !== undefined && routesOf(lab, host, container).some((route) => !route.network.predefined && !isGatewayLeg(lab, container, route.endpoint))
}

/** a service's task (`api.1`): the DNS has no `api.1` (lab-resolve.ts isReplica), so a row to it means its address */
export { isReplica }

const labAddressesOf = (lab: LabState, container: string): Array<{ network: string; address: string }> => {
  const host = StringMap.get(lab.placement, container)
  if (host === undefined) return []
  return routesOf(lab, host, container).flatMap((route) =>
    route.endpoint.address === undefined || isGatewayLeg(lab, container, route.endpoint) ? [] : [{ network: route.network.name, address: plain(route.endpoint.address) }],
  )
}

/** the prediction for one connection check; `outside` is the outside machine's address (CIDR or plain) */
export const predictConnect = (lab: LabState, outside: string | undefined, question: ConnectQuestion): ConnectPrediction => {
  const world: World = { lab, outside: outside === undefined ? undefined : plain(outside) }
  const fromHostIndex = lab.hosts.findIndex((host) => host.name === question.from)
  const fromContainerHost = StringMap.get(lab.placement, question.from)
  let address: string | undefined
  let holders: ReadonlyArray<string> | undefined
  let balance: Balance = "one"
  switch (question.to.kind) {
    case "outside":
      address = world.outside
      break
    case "address":
      address = question.to.address
      break
    case "hostPort":
      address = lab.hosts.find((host) => host.name === (question.to as { host: string }).host)?.address
      break
    case "name": {
      const resolved = resolveName(world, question.from, question.to.name, question.network)
      address = resolved.address
      if (resolved.balance === "dnsShuffle") ({ holders, balance } = resolved)
      break
    }
  }
  if (address === undefined) return none(undefined, question.port, "unreachable", "the name gives no address")
  let prediction: ConnectPrediction
  if (question.from === outsideParty && world.outside !== undefined) prediction = fromOutside(world, question, address)
  else if (fromContainerHost !== undefined) prediction = fromContainer(world, question.from, fromContainerHost, question, address)
  else if (fromHostIndex !== -1) prediction = fromHost(world, fromHostIndex, question, address)
  else return none(address, question.port, undefined, "from nobody that exists now")
  if (holders === undefined || prediction.outcome !== "answer") return prediction
  // the DNS shuffle: each connection goes to whichever holder came first; the path to each is the same kind
  const listening = holders.filter((holder) => listensOn(lab, holder, question.port, question.proto))
  return { ...prediction, answeredBy: listening, balance, outcome: listening.length === holders.length ? "answer" : undefined }
}

/** round robin over `count` connections: how many each answerer gets (IPVS rr from the first) */
export const spreadOver = (answerers: ReadonlyArray<string>, count: number): Record<string, number> => {
  const counts: Record<string, number> = {}
  answerers.forEach((answerer, index) => {
    counts[answerer] = Math.floor(count / answerers.length) + (index < count % answerers.length ? 1 : 0)
  })
  return counts
}

/** ingress-published ports of the lab, for reports: host, port, service */
export const meshPorts = (lab: LabState): ReadonlyArray<PortBinding> => StringMap.values(lab.services).flatMap((service) => service.ports)

/**
 * What the embedded DNS answers `from` for `name`, services included, reading the query as
 * libnetwork's resolver does (readingsOf: the whole name, then `a.b` as name `a` on network `b`):
 * `svc` the VIP on the first network of the client's resolver order (resolverNetworks) that the
 * service is on (every replica's address in dnsrr mode), `tasks.svc` every replica's address
 * there, `svc.net` and `tasks.svc.net` the same on network `net` alone (a service's records are
 * the network's, as a container's are); any other reading as containers and aliases resolve.
 * Docker keeps a service's records and its containers' names and aliases in one map per network,
 * so the first network in resolver order that knows the name answers with all of them: a container
 * named like a service, or holding it as an alias, is answered beside the tasks or the VIP
 * (recorded on Docker 20.10: swarm-service-container-same-name).
 */
export const predictServiceResolve = (lab: LabState, from: string, name: string): ReadonlyArray<string> => {
  const host = StringMap.get(lab.placement, from)
  if (host === undefined) return []
  const networks = resolverNetworks(lab, from)
  for (const reading of readingsOf(name)) {
    const asked = reading.network === undefined ? networks : networks.filter((network) => network === reading.network)
    for (const network of asked) {
      const addresses = [...new Set([...(serviceAnswer(lab, reading.name, [network]) ?? []), ...resolveReading(lab, from, { name: reading.name, network })])]
      if (addresses.length > 0) return addresses.sort((a, b) => (parseIPv4(a) as number) - (parseIPv4(b) as number))
    }
    // a local network's names (resolveReading asks them after the swarm ones, as the resolver does)
    const addresses = resolveReading(lab, from, reading)
    if (addresses.length > 0) return addresses
  }
  return []
}

/** a service's answer on the first of `networks` it is on; undefined when `name` is no service's there */
const serviceAnswer = (lab: LabState, name: string, networks: ReadonlyArray<string>): ReadonlyArray<string> | undefined => {
  const tasks = name.startsWith("tasks.")
  const service = StringMap.get(lab.services, tasks ? name.slice("tasks.".length) : name)
  if (service === undefined) return undefined
  const network = networks.find((candidate) => service.networks.includes(candidate))
  if (network === undefined) return undefined
  const vip = service.vips[network]
  if (!tasks && service.endpointMode === "vip" && vip !== undefined) return [vip]
  return replicaAddresses(lab, service, network)
    .map((entry) => entry.address)
    .sort((a, b) => (parseIPv4(a) as number) - (parseIPv4(b) as number))
}
