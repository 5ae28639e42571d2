/**
 * A checked file → the Scenario the runner consumes: defaults filled in (host1, driver bridge,
 * the first host, Docker's default network) and the short/long network forms merged into one.
 */
import type {
  Attachment,
  AttachmentEntry,
  ContainerEntry,
  ContainerSpec,
  ExpectBlock,
  Expectations,
  NetworkEntry,
  NetworkHostEntry,
  NetworkHostSpec,
  NetworkSpec,
  ReachEntry,
  ReachExpectation,
  Scenario,
  ScenarioFile,
  Step,
  StepEntry,
} from "./schema.ts"
import { normalizeConnect, normalizeService, roundRobinPlacement } from "./normalize-services.ts"

const defaultHostName = "host1"
const defaultDriver = "bridge"
const defaultNetwork = "bridge"

/** assumes rules.ts found nothing: a step holds exactly one operation */
export const normalizeScenario = (file: ScenarioFile): Scenario => {
  const hosts = file.hosts ?? [{ name: defaultHostName }]
  const firstHost = hosts[0]?.name ?? defaultHostName
  const hostNames = hosts.map((host) => host.name)
  const hostSet = new Set(hostNames)
  const expectations = (expect: ExpectBlock | null | undefined) => normalizeExpectations(expect, hostSet)
  return {
    version: file.version,
    name: file.name,
    ...(file.description !== undefined && { description: file.description }),
    swarm: file.swarm ?? false,
    ...(file.underlay?.subnet !== undefined && { underlay: file.underlay.subnet }),
    hosts: hosts.map((host) => ({ name: host.name, ...(host.address !== undefined && { address: host.address }) })),
    severalHosts: file.hosts !== undefined || file.swarm !== undefined || file.underlay !== undefined,
    networks: (file.networks ?? []).map(normalizeNetwork),
    ...(file.outside !== undefined && { outside: file.outside.address }),
    containers: (file.containers ?? []).map((container) => normalizeContainer(container, firstHost)),
    ...(file.services !== undefined && { services: file.services.map((service) => normalizeService(service, hostNames)) }),
    steps: (file.steps ?? []).map((step) => normalizeStep(step, firstHost, hostNames, expectations)),
    expect: expectations(file.expect),
  }
}

export const longForm = (entry: AttachmentEntry): Exclude<AttachmentEntry, string> =>
  typeof entry === "string" ? { network: entry } : entry

const normalizeNetwork = (network: NetworkEntry): NetworkSpec => ({
  name: network.name,
  driver: network.driver ?? defaultDriver,
  ...(network.subnet !== undefined && { subnet: network.subnet }),
  ...(network.gateway !== undefined && { gateway: network.gateway }),
  ...(network.ipRange !== undefined && { ipRange: network.ipRange }),
  internal: network.internal ?? false,
  options: { ...network.options },
  ...(network.hosts !== undefined && { hosts: network.hosts.map(networkHostLongForm) }),
})

export const networkHostLongForm = (entry: NetworkHostEntry): NetworkHostSpec =>
  typeof entry === "string" ? { host: entry } : { ...entry }

const normalizeAttachment = (entry: AttachmentEntry): Attachment => {
  const { network, ip, aliases } = longForm(entry)
  return { network, ...(ip !== undefined && { ip }), aliases: [...(aliases ?? [])] }
}

const normalizeContainer = (container: ContainerEntry, firstHost: string): ContainerSpec => {
  const networks = container.networks ?? []
  return {
    name: container.name,
    host: container.host ?? firstHost,
    // Docker puts a container with no network on `bridge`; an empty list means the same
    networks: networks.length > 0 ? networks.map(normalizeAttachment) : [{ network: defaultNetwork, aliases: [] }],
    ...(container.listen !== undefined && { listen: [...container.listen] }),
    ...(container.ports !== undefined && { ports: [...container.ports] }),
  }
}

/** an absent or empty (null) block checks nothing; `connect` appears only when the block has the key */
const normalizeExpectations = (expect: ExpectBlock | null | undefined, hosts: ReadonlySet<string>): Expectations => ({
  reach: (expect?.reach ?? []).map(normalizeReach),
  resolve: [...(expect?.resolve ?? [])],
  ...(expect?.connect !== undefined && expect.connect !== null && { connect: expect.connect.map((entry) => normalizeConnect(entry, hosts)) }),
})

/** assumes rules.ts found exactly one of `to` and `toHost` */
const normalizeReach = ({ from, to, toHost, network, reachable }: ReachEntry): ReachExpectation =>
  toHost !== undefined
    ? { from, toHost, reachable }
    : { from, to: to as string, ...(network !== undefined && { network }), reachable }

const normalizeStep = (
  step: StepEntry,
  firstHost: string,
  hosts: ReadonlyArray<string>,
  expectations: (expect: ExpectBlock | null | undefined) => Expectations,
): Step => {
  const expectError = step.expectError !== undefined ? { expectError: step.expectError } : {}
  if (step.connect !== undefined) {
    const { container, network, ip, aliases } = step.connect
    return { op: "connect", container, network, ...(ip !== undefined && { ip }), aliases: [...(aliases ?? [])], ...expectError }
  }
  if (step.disconnect !== undefined) {
    return { op: "disconnect", container: step.disconnect.container, network: step.disconnect.network, ...expectError }
  }
  if (step.createNetwork !== undefined) {
    return { op: "createNetwork", network: normalizeNetwork(step.createNetwork), ...expectError }
  }
  if (step.removeNetwork !== undefined) {
    const { name, host } = step.removeNetwork
    return { op: "removeNetwork", name, ...(host !== undefined && { host }), ...expectError }
  }
  if (step.createContainer !== undefined) {
    return { op: "createContainer", container: normalizeContainer(step.createContainer, firstHost), ...expectError }
  }
  if (step.removeContainer !== undefined) {
    return { op: "removeContainer", name: step.removeContainer.name, ...expectError }
  }
  if (step.createService !== undefined) {
    return { op: "createService", service: normalizeService(step.createService, hosts), ...expectError }
  }
  if (step.removeService !== undefined) return { op: "removeService", name: step.removeService.name, ...expectError }
  if (step.scaleService !== undefined) {
    const { name, replicas, placement } = step.scaleService
    return { op: "scaleService", name, replicas, placement: placement !== undefined ? [...placement] : roundRobinPlacement(replicas, hosts), ...expectError }
  }
  // `expect:` with nothing under it (null) is an expect step that checks nothing
  if (step.expect !== undefined) return { op: "expect", expect: expectations(step.expect) }
  throw new Error("normalizeScenario: a step without an operation passed the rules")
}
