/**
 * The rules of the contract's ports-and-services keys, beyond their shape: `-p` and `listen`
 * syntax (Docker's own refusal, so a file fails as `docker run` would), services only in a swarm,
 * replicas that match their placement, and the names connect rows use. As in rules.ts, a name is
 * checked only for being defined somewhere in the file; whether it exists is the run's question,
 * and a step with `expectError` is exempt (it may be wrong on purpose).
 */
import { parseListenSpec, parsePortSpec } from "../model/port-spec.ts"
import { isIpv4Address, isIpv4CidrOrAddress } from "./formats.ts"
import type { KeyPath } from "./key-path.ts"
import { outsideName, splitConnectTarget } from "./normalize-services.ts"
import type { ConnectEntry, ServiceEntry } from "./schema-services.ts"
import type { ContainerEntry, ExpectBlock, ScenarioFile } from "./schema.ts"
import type { Violation } from "./schema-issues.ts"

/** what the file defines that connect rows may name */
export interface ServiceNames {
  readonly hosts: ReadonlySet<string>
  readonly containers: ReadonlySet<string>
  readonly services: ReadonlySet<string>
  /** the most replicas any service of that name is given anywhere in the file */
  readonly mostReplicas: ReadonlyMap<string, number>
  readonly outside: boolean
  /** network aliases some container is given: a connection to one goes where DNS sends it */
  readonly aliases: ReadonlySet<string>
}

export const serviceNames = (file: ScenarioFile, hosts: ReadonlySet<string>, containers: ReadonlySet<string>): ServiceNames => {
  const mostReplicas = new Map<string, number>()
  const note = (name: string, replicas: number) => mostReplicas.set(name, Math.max(mostReplicas.get(name) ?? 0, replicas))
  for (const service of file.services ?? []) note(service.name, service.replicas ?? service.placement?.length ?? 1)
  for (const step of file.steps ?? []) {
    if (step.createService !== undefined) note(step.createService.name, step.createService.replicas ?? step.createService.placement?.length ?? 1)
  }
  // scaling names a service some other part defines; it only gives it more replicas
  for (const step of file.steps ?? []) {
    if (step.scaleService !== undefined && mostReplicas.has(step.scaleService.name)) note(step.scaleService.name, step.scaleService.replicas)
  }
  const aliases = new Set<string>()
  const noteAliases = (entries: ReadonlyArray<unknown> | undefined) => {
    for (const entry of entries ?? []) {
      if (typeof entry === "object" && entry !== null && "aliases" in entry) for (const alias of (entry as { aliases?: ReadonlyArray<string> }).aliases ?? []) aliases.add(alias)
    }
  }
  for (const container of file.containers ?? []) noteAliases(container.networks)
  for (const step of file.steps ?? []) {
    if (step.createContainer !== undefined) noteAliases(step.createContainer.networks)
    if (step.connect !== undefined) noteAliases([step.connect])
  }
  return { hosts, containers, services: new Set(mostReplicas.keys()), mostReplicas, outside: file.outside !== undefined, aliases }
}

/** `api.2`: the second replica of service api, when some part of the file gives api two replicas */
const isTaskName = (names: ServiceNames, name: string): boolean => {
  const dot = name.lastIndexOf(".")
  if (dot === -1) return false
  const replica = Number(name.slice(dot + 1))
  const most = names.mostReplicas.get(name.slice(0, dot))
  return most !== undefined && Number.isInteger(replica) && replica >= 1 && replica <= most
}

export function* outsideRules(file: ScenarioFile): Generator<Violation> {
  if (file.outside !== undefined && !isIpv4CidrOrAddress(file.outside.address)) {
    yield { path: ["outside", "address"], message: `"${file.outside.address}" is not an IPv4 address such as 203.0.113.1/24` }
  }
}

/** a container's (or a service's) `listen` and `ports` */
export function* servingRules(entry: Pick<ContainerEntry, "listen" | "ports">, path: KeyPath): Generator<Violation> {
  for (const [index, spec] of (entry.listen ?? []).entries()) {
    const parsed = parseListenSpec(spec)
    if (!parsed.ok) yield { path: [...path, "listen", index], message: parsed.message }
  }
  for (const [index, spec] of (entry.ports ?? []).entries()) {
    const parsed = parsePortSpec(spec)
    if (!parsed.ok) yield { path: [...path, "ports", index], message: `invalid port spec "${spec}": ${parsed.message}` }
  }
}

const unknown = (kind: string, name: string, where: string): string => `unknown ${kind} "${name}": no part of the file defines it (${where})`

export function* serviceRules(
  service: ServiceEntry,
  path: KeyPath,
  file: ScenarioFile,
  definedNetworks: ReadonlySet<string>,
  names: ServiceNames,
): Generator<Violation> {
  if (file.swarm !== true) {
    yield { path, message: "services need swarm: true (Docker: This node is not a swarm manager)" }
    return
  }
  if (service.name === "") yield { path: [...path, "name"], message: "a service name must not be empty" }
  // a service may share its name with a container, as in Docker (their names live apart): a connect
  // row to that name goes where the client's DNS sends it (runner.ts targetAddress)
  for (const [index, network] of (service.networks ?? []).entries()) {
    if (!definedNetworks.has(network)) yield { path: [...path, "networks", index], message: unknown("network", network, "not in networks, not created by any step") }
  }
  yield* placementRules(service.replicas, service.placement, path, names)
  yield* servingRules(service, path)
}

export function* placementRules(
  replicas: number | undefined,
  placement: ReadonlyArray<string> | undefined,
  path: KeyPath,
  names: ServiceNames,
): Generator<Violation> {
  if (placement === undefined) return
  for (const [index, host] of placement.entries()) {
    if (!names.hosts.has(host)) yield { path: [...path, "placement", index], message: unknown("host", host, "not in hosts") }
  }
  if (replicas !== undefined && replicas !== placement.length) {
    yield {
      path: [...path, "placement"],
      message: `placement names ${placement.length} host(s) for ${replicas} replica(s): one host per replica, in order`,
    }
  }
}

export function* serviceReference(name: string, path: KeyPath, names: ServiceNames): Generator<Violation> {
  if (!names.services.has(name)) yield { path, message: unknown("service", name, "not in services, not created by any step") }
}

/** `from`: a container, a replica (`api.1`), a host or outside */
const isSource = (names: ServiceNames, name: string): boolean =>
  names.containers.has(name) || names.hosts.has(name) || isTaskName(names, name) || (name === outsideName && names.outside)

/** who can answer: a container, a replica, or outside */
const isAnswerer = (names: ServiceNames, name: string): boolean =>
  names.containers.has(name) || isTaskName(names, name) || (name === outsideName && names.outside)

/** a name a connection can go to: DNS answers it (a container, a service, tasks.<service>, an alias) or it is a replica */
const isTarget = (names: ServiceNames, name: string): boolean =>
  names.containers.has(name) ||
  names.services.has(name) ||
  (name.startsWith(tasksPrefix) && names.services.has(name.slice(tasksPrefix.length))) ||
  names.aliases.has(name) ||
  isTaskName(names, name)

const tasksPrefix = "tasks."

export function* connectRules(expect: ExpectBlock | null, path: KeyPath, names: ServiceNames, networks: ReadonlySet<string>): Generator<Violation> {
  for (const [index, entry] of (expect?.connect ?? []).entries()) {
    const at = [...path, "connect", index]
    if (entry.network !== undefined && !networks.has(entry.network)) {
      yield { path: [...at, "network"], message: unknown("network", entry.network, "not in networks, not created by any step") }
    }
    yield* connectRow(entry, at, names, networks)
  }
}

/**
 * Docker's embedded DNS also answers `name.network`: the name asked on that network only. Names and
 * networks may hold dots themselves, so libnetwork's ResolveName tries every split of `a.b.c` (`a.b`
 * on network `c`, `a` on network `b.c`)
 */
const isNetworkQualifiedTarget = (names: ServiceNames, networks: ReadonlySet<string>, name: string): boolean => {
  for (let dot = name.indexOf("."); dot > 0; dot = name.indexOf(".", dot + 1)) {
    if (networks.has(name.slice(dot + 1)) && isTarget(names, name.slice(0, dot))) return true
  }
  return false
}

function* connectRow(entry: ConnectEntry, at: KeyPath, names: ServiceNames, networks: ReadonlySet<string>): Generator<Violation> {
  if (entry.from === outsideName && !names.outside) {
    yield { path: [...at, "from"], message: "from outside needs the file's outside: { address }" }
  } else if (!isSource(names, entry.from)) {
    yield { path: [...at, "from"], message: unknown("container or host", entry.from, "not in containers, hosts, nor a service's replica") }
  }
  const { target, port } = splitConnectTarget(entry.to, names.hosts)
  if (target.kind === "outside" && !names.outside) yield { path: [...at, "to"], message: "to outside needs the file's outside: { address }" }
  if (target.kind === "name" && !isTarget(names, target.name) && !isNetworkQualifiedTarget(names, networks, target.name)) {
    yield {
      path: [...at, "to"],
      message: `"${entry.to}" is none of a container, a service (or tasks.<service>), an alias (each also as name.network), an address, outside or host:port (a host of the file and a port)`,
    }
  }
  if (port !== undefined && entry.port !== undefined && port !== entry.port) {
    yield { path: [...at, "port"], message: `port ${entry.port} differs from the port ${port} of to "${entry.to}"` }
  }
  const tried = entry.port ?? port
  if (tried === undefined) yield { path: at, message: "a connection needs a port: port, or host:port in to" }
  else if (tried < 1 || tried > 65535) yield { path: entry.port !== undefined ? [...at, "port"] : [...at, "to"], message: `port ${tried} is not 1 to 65535` }
  if (entry.answeredBy !== undefined && entry.answeredBy !== null && !isAnswerer(names, entry.answeredBy)) {
    yield { path: [...at, "answeredBy"], message: unknown("container", entry.answeredBy, "not in containers, nor a service's replica, nor outside") }
  }
  for (const [index, name] of (entry.spread ?? []).entries()) {
    if (!isAnswerer(names, name)) yield { path: [...at, "spread", index], message: unknown("container", name, "not in containers, nor a service's replica, nor outside") }
  }
  if (entry.spread !== undefined && entry.count === undefined) {
    yield { path: [...at, "spread"], message: "spread is over several connections: give count" }
  }
  if (entry.seenFrom !== undefined && !isIpv4Address(entry.seenFrom)) {
    yield { path: [...at, "seenFrom"], message: `"${entry.seenFrom}" is not an IPv4 address such as 192.168.99.1` }
  }
}
