/**
 * The checks a file must pass beyond its shape: value formats, Docker's container-name rule,
 * uniqueness, one operation per step, and references to networks, containers and hosts that some
 * part of the file defines.
 *
 * A name is checked here only for being defined somewhere: in `hosts`, `networks`, `containers`, by
 * a `createNetwork`/`createContainer` step (wherever it stands, and whether or not it is expected to
 * fail), or as a predefined network. Whether the thing exists when a step uses it is the run's
 * question, answered on the state of that moment (the contract's "Names and when they are
 * checked"): steps may fail, so only the run knows. A step with `expectError` is exempt from format
 * and reference checks (it may name a missing network or a bad subnet on purpose). Names of things
 * created by steps are Docker's to judge at run time (InvalidName), never here.
 */
import { predefinedNetworks } from "../model/types.ts"
import { isIpv4Address, isIpv4Cidr, isIpv4CidrOrAddress, isValidContainerName } from "./formats.ts"
import { formatKeyPath } from "./key-path.ts"
import type { KeyPath } from "./key-path.ts"
import { longForm, networkHostLongForm } from "./normalize.ts"
import { stepOperations } from "./schema.ts"
import type { ContainerEntry, ExpectBlock, NetworkEntry, ScenarioFile } from "./schema.ts"
import type { Violation } from "./schema-issues.ts"
import { connectRules, outsideRules, placementRules, serviceNames, serviceReference, serviceRules, servingRules } from "./rules-services.ts"

export const firstRuleViolation = (file: ScenarioFile): Violation | undefined => {
  for (const violation of ruleViolations(file)) return violation
  return undefined
}

type ReferenceKind = "host" | "network" | "container"

/** every name some part of the file defines, by kind */
type Defined = Readonly<Record<ReferenceKind, ReadonlySet<string>>>

/** where a name of each kind can be defined, for the message that says it is not */
const definingPlaces: Record<ReferenceKind, string> = {
  host: "not in hosts",
  network: "not in networks, not created by any step, not one of the predefined bridge, host, none",
  container: "not in containers, not created by any step",
}

const predefinedNames: ReadonlySet<string> = new Set(predefinedNetworks)

/** what `docker run --network default` means: the default network, bridge (see model/container-ops.ts) */
const runDefaultNetwork = "default"

const definedNames = (file: ScenarioFile): Defined => {
  const steps = file.steps ?? []
  return {
    host: new Set((file.hosts ?? [{ name: "host1" }]).map((host) => host.name)),
    network: new Set([
      ...predefinedNetworks,
      ...(file.networks ?? []).map((network) => network.name),
      ...steps.flatMap((step) => (step.createNetwork !== undefined ? [step.createNetwork.name] : [])),
    ]),
    container: new Set([
      ...(file.containers ?? []).map((container) => container.name),
      ...steps.flatMap((step) => (step.createContainer !== undefined ? [step.createContainer.name] : [])),
    ]),
  }
}

/** yields in document order, so the first one is the first problem a reader meets */
function* ruleViolations(file: ScenarioFile): Generator<Violation> {
  const defined = definedNames(file)
  const services = serviceNames(file, defined.host, defined.container)
  /** where each top-level name first appears, for duplicate messages */
  const firstAt = { hosts: new Map<string, KeyPath>(), networks: new Map<string, KeyPath>(), containers: new Map<string, KeyPath>() }

  if (file.hosts !== undefined && file.hosts.length === 0) {
    yield { path: ["hosts"], message: "hosts is empty: list at least one host, or leave the key out for host1" }
  }
  if (file.underlay?.subnet !== undefined) yield* cidr(file.underlay.subnet, ["underlay", "subnet"])
  for (const [index, host] of (file.hosts ?? [{ name: "host1" }]).entries()) {
    const path = ["hosts", index, "name"]
    if (host.name === "") yield { path, message: "a host name must not be empty" }
    yield* uniqueName(firstAt.hosts, host.name, path, "host")
    if (host.address !== undefined && !isIpv4CidrOrAddress(host.address)) {
      yield { path: ["hosts", index, "address"], message: `"${host.address}" is not an IPv4 address such as 192.168.99.1/24 or 192.168.99.1` }
    }
  }

  yield* outsideRules(file)

  for (const [index, network] of (file.networks ?? []).entries()) {
    const path = ["networks", index]
    if (network.name === "") yield { path: [...path, "name"], message: "a network name must not be empty" }
    if (predefinedNames.has(network.name)) {
      yield {
        path: [...path, "name"],
        message: `"${network.name}" is one of Docker's predefined networks (bridge, host, none); it exists already`,
      }
    }
    yield* uniqueName(firstAt.networks, network.name, [...path, "name"], "network")
    yield* networkFormats(network, path)
    yield* networkHosts(network, path, defined)
  }

  for (const [index, container] of (file.containers ?? []).entries()) {
    const path = ["containers", index]
    if (!isValidContainerName(container.name)) {
      yield { path: [...path, "name"], message: invalidContainerName(container.name) }
    }
    yield* uniqueName(firstAt.containers, container.name, [...path, "name"], "container")
    yield* containerReferences(container, path, defined)
    yield* servingRules(container, path)
  }

  const serviceAt = new Map<string, KeyPath>()
  for (const [index, service] of (file.services ?? []).entries()) {
    const path = ["services", index]
    yield* uniqueName(serviceAt, service.name, [...path, "name"], "service")
    yield* serviceRules(service, path, file, defined.network, services)
  }

  for (const [index, step] of (file.steps ?? []).entries()) {
    const path = ["steps", index]
    const operations = stepOperations.filter((operation) => step[operation] !== undefined)
    const operation = operations[0]
    if (operation === undefined || operations.length > 1) {
      const found = operations.length === 0 ? "none" : operations.join(" and ")
      yield { path, message: `a step holds exactly one of ${stepOperations.join(", ")}; found ${found}` }
      continue
    }
    if (step.expectError !== undefined) {
      if (operation === "expect") {
        yield { path: [...path, "expectError"], message: "an expect step checks state; it cannot expect an error" }
      }
      continue
    }
    const at = [...path, operation]
    if (step.connect !== undefined) {
      yield* undefinedReference(defined, "container", step.connect.container, [...at, "container"])
      yield* undefinedReference(defined, "network", step.connect.network, [...at, "network"])
      if (step.connect.ip !== undefined) yield* address(step.connect.ip, [...at, "ip"])
    }
    if (step.disconnect !== undefined) {
      yield* undefinedReference(defined, "container", step.disconnect.container, [...at, "container"])
      yield* undefinedReference(defined, "network", step.disconnect.network, [...at, "network"])
    }
    if (step.createNetwork !== undefined) {
      yield* networkFormats(step.createNetwork, at)
      yield* networkHosts(step.createNetwork, at, defined)
    }
    if (step.removeNetwork !== undefined) {
      yield* undefinedReference(defined, "network", step.removeNetwork.name, [...at, "name"])
      if (step.removeNetwork.host !== undefined) yield* undefinedReference(defined, "host", step.removeNetwork.host, [...at, "host"])
    }
    if (step.createContainer !== undefined) {
      yield* containerReferences(step.createContainer, at, defined)
      yield* servingRules(step.createContainer, at)
    }
    if (step.createService !== undefined) yield* serviceRules(step.createService, at, file, defined.network, services)
    if (step.removeService !== undefined) yield* serviceReference(step.removeService.name, [...at, "name"], services)
    if (step.scaleService !== undefined) {
      yield* serviceReference(step.scaleService.name, [...at, "name"], services)
      yield* placementRules(step.scaleService.replicas, step.scaleService.placement, at, services)
    }
    if (step.removeContainer !== undefined) yield* undefinedReference(defined, "container", step.removeContainer.name, [...at, "name"])
    if (step.expect !== undefined) {
      yield* expectationReferences(step.expect, at, defined)
      yield* connectRules(step.expect, at, services, defined.network)
    }
  }

  if (file.expect !== undefined) {
    yield* expectationReferences(file.expect, ["expect"], defined)
    yield* connectRules(file.expect, ["expect"], services, defined.network)
  }
}

function* uniqueName(
  names: Map<string, KeyPath>,
  name: string,
  path: KeyPath,
  kind: string,
): Generator<Violation> {
  const first = names.get(name)
  if (first !== undefined) yield { path, message: `duplicate ${kind} name "${name}" (first at ${formatKeyPath(first)})` }
  else names.set(name, path)
}

function* networkFormats(network: NetworkEntry, path: KeyPath): Generator<Violation> {
  if (network.subnet !== undefined) yield* cidr(network.subnet, [...path, "subnet"])
  if (network.ipRange !== undefined) yield* cidr(network.ipRange, [...path, "ipRange"])
  if (network.gateway !== undefined) yield* address(network.gateway, [...path, "gateway"])
}

/** the hosts a local network is created on: defined, each once, with well-formed per-host settings */
function* networkHosts(network: NetworkEntry, path: KeyPath, defined: Defined): Generator<Violation> {
  const listed = new Map<string, KeyPath>()
  for (const [index, entry] of (network.hosts ?? []).entries()) {
    const { host, ipRange, gateway } = networkHostLongForm(entry)
    const at: KeyPath = typeof entry === "string" ? [...path, "hosts", index] : [...path, "hosts", index, "host"]
    yield* undefinedReference(defined, "host", host, at)
    const first = listed.get(host)
    if (first !== undefined) yield { path: at, message: `host "${host}" is listed twice for this network (first at ${formatKeyPath(first)})` }
    listed.set(host, at)
    if (ipRange !== undefined) yield* cidr(ipRange, [...path, "hosts", index, "ipRange"])
    if (gateway !== undefined) yield* address(gateway, [...path, "hosts", index, "gateway"])
  }
}

function* containerReferences(container: ContainerEntry, path: KeyPath, defined: Defined): Generator<Violation> {
  if (container.host !== undefined) yield* undefinedReference(defined, "host", container.host, [...path, "host"])
  const attached = new Map<string, KeyPath>()
  for (const [index, entry] of (container.networks ?? []).entries()) {
    const { network, ip } = longForm(entry)
    const at: KeyPath = typeof entry === "string" ? [...path, "networks", index] : [...path, "networks", index, "network"]
    // Docker's network mode `default` (= bridge) is a name `docker run` takes for its one network;
    // the recorder connects the others, and `docker network connect default` finds no such network
    if (!(index === 0 && network === runDefaultNetwork)) yield* undefinedReference(defined, "network", network, at)
    const first = attached.get(network)
    if (first !== undefined) {
      yield { path: at, message: `network "${network}" is listed twice for this container (first at ${formatKeyPath(first)})` }
    }
    attached.set(network, at)
    if (ip !== undefined) yield* address(ip, [...path, "networks", index, "ip"])
  }
}

function* expectationReferences(expect: ExpectBlock | null, path: KeyPath, defined: Defined): Generator<Violation> {
  for (const [index, reach] of (expect?.reach ?? []).entries()) {
    const at = [...path, "reach", index]
    yield* undefinedReference(defined, "container", reach.from, [...at, "from"])
    if ((reach.to === undefined) === (reach.toHost === undefined)) {
      const found = reach.to === undefined ? "neither" : "both"
      yield { path: at, message: `a reach check has exactly one of to (a container) and toHost (a host's underlay address); found ${found}` }
      continue
    }
    if (reach.to !== undefined) yield* undefinedReference(defined, "container", reach.to, [...at, "to"])
    if (reach.toHost !== undefined) {
      yield* undefinedReference(defined, "host", reach.toHost, [...at, "toHost"])
      if (reach.network !== undefined) {
        yield { path: [...at, "network"], message: "network goes with to (a container's addresses on it); toHost is the host's underlay address" }
      }
    }
    if (reach.network !== undefined) yield* undefinedReference(defined, "network", reach.network, [...at, "network"])
  }
  for (const [index, resolve] of (expect?.resolve ?? []).entries()) {
    const at = [...path, "resolve", index]
    yield* undefinedReference(defined, "container", resolve.from, [...at, "from"])
    for (const [position, answer] of (resolve.addresses ?? []).entries()) yield* address(answer, [...at, "addresses", position])
  }
}

/** only a name no part of the file defines: one that exists later, or existed before, is the run's to judge */
function* undefinedReference(defined: Defined, kind: ReferenceKind, name: string, path: KeyPath): Generator<Violation> {
  if (defined[kind].has(name)) return
  yield { path, message: `unknown ${kind} "${name}": no part of the file defines it (${definingPlaces[kind]})` }
}

function* cidr(text: string, path: KeyPath): Generator<Violation> {
  if (!isIpv4Cidr(text)) yield { path, message: `"${text}" is not an IPv4 CIDR such as 10.1.0.0/24` }
}

function* address(text: string, path: KeyPath): Generator<Violation> {
  if (!isIpv4Address(text)) yield { path, message: `"${text}" is not an IPv4 address such as 10.1.0.7` }
}

const invalidContainerName = (name: string): string =>
  `invalid container name "${name}": Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters at least)`
