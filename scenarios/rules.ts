/**
 * The checks a file must pass beyond its shape: value formats, Docker's container-name rule,
 * uniqueness, one operation per step, and references to networks, containers and hosts that exist
 * at that point of the scenario.
 *
 * A step with `expectError` is exempt from format and reference checks (it may name a missing
 * network or a bad subnet on purpose) and, since it must fail and change nothing, it neither
 * creates nor removes anything for the steps after it. Names of things created by steps are
 * Docker's to judge at run time (InvalidName), never here.
 */
import { predefinedNetworks } from "../model/types.ts"
import { isIpv4Address, isIpv4Cidr, isValidContainerName } from "./formats.ts"
import { formatKeyPath } from "./key-path.ts"
import type { KeyPath } from "./key-path.ts"
import { longForm } from "./normalize.ts"
import { stepOperations } from "./schema.ts"
import type { ContainerEntry, ExpectBlock, NetworkEntry, ScenarioFile } from "./schema.ts"
import type { Violation } from "./schema-issues.ts"

export const firstRuleViolation = (file: ScenarioFile): Violation | undefined => {
  for (const violation of ruleViolations(file)) return violation
  return undefined
}

/** what exists at a given point of the scenario, by name → where it was defined */
interface Known {
  readonly hosts: Map<string, KeyPath>
  readonly networks: Map<string, KeyPath>
  readonly containers: Map<string, KeyPath>
}

const predefinedNames: ReadonlySet<string> = new Set(predefinedNetworks)

/** what `docker run --network default` means: the default network, bridge (see model/container-ops.ts) */
const runDefaultNetwork = "default"

/** yields in document order, so the first one is the first problem a reader meets */
function* ruleViolations(file: ScenarioFile): Generator<Violation> {
  const known: Known = {
    hosts: new Map(),
    networks: new Map(predefinedNetworks.map((name) => [name, []])),
    containers: new Map(),
  }

  if (file.hosts !== undefined && file.hosts.length === 0) {
    yield { path: ["hosts"], message: "hosts is empty: list at least one host, or leave the key out for host1" }
  }
  for (const [index, host] of (file.hosts ?? [{ name: "host1" }]).entries()) {
    const path = ["hosts", index, "name"]
    if (host.name === "") yield { path, message: "a host name must not be empty" }
    yield* uniqueName(known.hosts, host.name, path, "host")
  }

  for (const [index, network] of (file.networks ?? []).entries()) {
    const path = ["networks", index]
    if (network.name === "") yield { path: [...path, "name"], message: "a network name must not be empty" }
    if (predefinedNames.has(network.name)) {
      yield {
        path: [...path, "name"],
        message: `"${network.name}" is one of Docker's predefined networks (bridge, host, none); it exists already`,
      }
    }
    yield* uniqueName(known.networks, network.name, [...path, "name"], "network")
    yield* networkFormats(network, path)
  }

  for (const [index, container] of (file.containers ?? []).entries()) {
    const path = ["containers", index]
    if (!isValidContainerName(container.name)) {
      yield { path: [...path, "name"], message: invalidContainerName(container.name) }
    }
    yield* uniqueName(known.containers, container.name, [...path, "name"], "container")
    yield* containerReferences(container, path, known)
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
      yield* reference(known.containers, step.connect.container, [...at, "container"], "container")
      yield* reference(known.networks, step.connect.network, [...at, "network"], "network")
      if (step.connect.ip !== undefined) yield* address(step.connect.ip, [...at, "ip"])
    }
    if (step.disconnect !== undefined) {
      yield* reference(known.containers, step.disconnect.container, [...at, "container"], "container")
      yield* reference(known.networks, step.disconnect.network, [...at, "network"], "network")
    }
    if (step.createNetwork !== undefined) {
      yield* networkFormats(step.createNetwork, at)
      known.networks.set(step.createNetwork.name, [...at, "name"])
    }
    if (step.removeNetwork !== undefined) {
      yield* reference(known.networks, step.removeNetwork.name, [...at, "name"], "network")
      // removing a predefined network fails at run time (PredefinedNetwork): it stays known
      if (!predefinedNames.has(step.removeNetwork.name)) known.networks.delete(step.removeNetwork.name)
    }
    if (step.createContainer !== undefined) {
      yield* containerReferences(step.createContainer, at, known)
      known.containers.set(step.createContainer.name, [...at, "name"])
    }
    if (step.removeContainer !== undefined) {
      yield* reference(known.containers, step.removeContainer.name, [...at, "name"], "container")
      known.containers.delete(step.removeContainer.name)
    }
    if (step.expect !== undefined) yield* expectationReferences(step.expect, at, known)
  }

  if (file.expect !== undefined) yield* expectationReferences(file.expect, ["expect"], known)
}

function* uniqueName(
  names: Map<string, KeyPath>,
  name: string,
  path: KeyPath,
  kind: string,
): Generator<Violation> {
  const first = names.get(name)
  if (first !== undefined) {
    const where = first.length === 0 ? "predefined" : `first at ${formatKeyPath(first)}`
    yield { path, message: `duplicate ${kind} name "${name}" (${where})` }
  }
  names.set(name, path)
}

function* networkFormats(network: NetworkEntry, path: KeyPath): Generator<Violation> {
  if (network.subnet !== undefined) yield* cidr(network.subnet, [...path, "subnet"])
  if (network.ipRange !== undefined) yield* cidr(network.ipRange, [...path, "ipRange"])
  if (network.gateway !== undefined) yield* address(network.gateway, [...path, "gateway"])
}

function* containerReferences(container: ContainerEntry, path: KeyPath, known: Known): Generator<Violation> {
  if (container.host !== undefined) yield* reference(known.hosts, container.host, [...path, "host"], "host")
  const attached = new Map<string, KeyPath>()
  for (const [index, entry] of (container.networks ?? []).entries()) {
    const { network, ip } = longForm(entry)
    const at: KeyPath = typeof entry === "string" ? [...path, "networks", index] : [...path, "networks", index, "network"]
    // Docker's network mode `default` (= bridge) is a name `docker run` takes for its one network;
    // the recorder connects the others, and `docker network connect default` finds no such network
    if (!(index === 0 && network === runDefaultNetwork)) yield* reference(known.networks, network, at, "network")
    const first = attached.get(network)
    if (first !== undefined) {
      yield { path: at, message: `network "${network}" is listed twice for this container (first at ${formatKeyPath(first)})` }
    }
    attached.set(network, at)
    if (ip !== undefined) yield* address(ip, [...path, "networks", index, "ip"])
  }
}

function* expectationReferences(expect: ExpectBlock | null, path: KeyPath, known: Known): Generator<Violation> {
  for (const [index, reach] of (expect?.reach ?? []).entries()) {
    const at = [...path, "reach", index]
    yield* reference(known.containers, reach.from, [...at, "from"], "container")
    yield* reference(known.containers, reach.to, [...at, "to"], "container")
    if (reach.network !== undefined) yield* reference(known.networks, reach.network, [...at, "network"], "network")
  }
  for (const [index, resolve] of (expect?.resolve ?? []).entries()) {
    const at = [...path, "resolve", index]
    yield* reference(known.containers, resolve.from, [...at, "from"], "container")
    for (const [position, answer] of (resolve.addresses ?? []).entries()) yield* address(answer, [...at, "addresses", position])
  }
}

function* reference(names: Map<string, KeyPath>, name: string, path: KeyPath, kind: string): Generator<Violation> {
  if (names.has(name)) return
  yield { path, message: `unknown ${kind} "${name}": not defined at this point of the scenario` }
}

function* cidr(text: string, path: KeyPath): Generator<Violation> {
  if (!isIpv4Cidr(text)) yield { path, message: `"${text}" is not an IPv4 CIDR such as 10.1.0.0/24` }
}

function* address(text: string, path: KeyPath): Generator<Violation> {
  if (!isIpv4Address(text)) yield { path, message: `"${text}" is not an IPv4 address such as 10.1.0.7` }
}

const invalidContainerName = (name: string): string =>
  `invalid container name "${name}": Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters at least)`
