/** Small helpers for the lab tests: build labs from steps that must succeed, read what they hold. */
import { expect } from "vitest"
import * as Model from "../../model/index.ts"
import * as StringMap from "../../model/string-map.ts"
import { refusal, succeeded } from "./support.ts"

export type LabStep = (lab: Model.LabState) => Model.LabOutcome<unknown>

export const mustLab = (checked: ReturnType<typeof Model.createLab>): Model.LabState => succeeded(checked).value

/** the new lab of an operation that must succeed */
export const mustDo = <A>(outcome: Model.LabOutcome<A>): { lab: Model.LabState; value: A } => {
  const { lab, value } = succeeded(outcome)
  return { lab, value }
}

/** the error code of an operation that must be refused */
export const refusedWith = refusal

/** a lab of `count` hosts host1 … hostN */
export const hostsNamed = (count: number): ReadonlyArray<Model.HostRequest> =>
  Array.from({ length: count }, (_, index) => ({ name: `host${index + 1}` }))

export const labOf = (request: Model.LabRequest, ...steps: ReadonlyArray<LabStep>): Model.LabState =>
  steps.reduce((lab, step) => mustDo(step(lab)).lab, mustLab(Model.createLab(request)))

export const swarmOf = (hosts: number, ...steps: ReadonlyArray<LabStep>): Model.LabState =>
  labOf({ hosts: hostsNamed(hosts), swarm: true }, ...steps)

export const network = (request: Model.LabNetworkRequest): LabStep => (lab) => Model.createLabNetwork(lab, request)

export const container =
  (name: string, host: string, ...networks: ReadonlyArray<string | Model.AttachRequest>): LabStep =>
  (lab) =>
    Model.createLabContainer(lab, {
      name,
      host,
      networks: networks.map((entry) => (typeof entry === "string" ? { network: entry } : entry)),
    })

export const join = (name: string, attach: string | Model.AttachRequest): LabStep => (lab) =>
  Model.connectLab(lab, name, typeof attach === "string" ? { network: attach } : attach)

export const leave = (name: string, network: string): LabStep => (lab) => Model.disconnectLab(lab, name, network)

export const remove = (name: string): LabStep => (lab) => Model.removeLabContainer(lab, name)

export const dropNetwork = (name: string, host?: string): LabStep => (lab) => Model.removeLabNetwork(lab, name, host)

/** the listed address (no prefix) of a container on a network */
export const addressOf = (lab: Model.LabState, name: string, network: string): string | undefined => {
  const endpoint = Model.labEndpointsOf(lab, name).find((candidate) => candidate.network === network)
  return endpoint?.address === undefined ? undefined : Model.stripPrefix(endpoint.address)
}

/** the load-balancer address (no prefix) of a host on a swarm network */
export const balancerOf = (lab: Model.LabState, network: string, host: string): string | undefined => {
  const found = Model.loadBalancers(lab).find((entry) => entry.network === network && entry.host === host)
  return found === undefined ? undefined : Model.stripPrefix(found.address)
}

/** everything a lab shows through its listings, plus its counters and cursors: equal snapshots = same lab */
export const labSnapshot = (lab: Model.LabState): string =>
  JSON.stringify({
    networks: Model.labNetworks(lab),
    containers: Model.labContainers(lab),
    endpoints: Model.labEndpoints(lab),
    legs: Model.labContainers(lab).map(({ container: { name } }) => Model.gatewayLegOf(lab, name) ?? null),
    balancers: Model.loadBalancers(lab),
    sandboxes: lab.hosts.map((host) => Model.systemSandboxes(lab, host.name)),
    vlans: lab.hosts.map((host) => Model.labNetworks(lab).map((row) => Model.vlanInfo(lab, host.name, row.network.name) ?? null)),
    overlays: Model.labNetworks(lab).map((row) => Model.overlayInfo(lab, row.network.name) ?? null),
    counters: [lab.nextNetworkSeq, lab.nextContainerSeq, ...lab.hostStates.map((state) => state.poolCursor)],
    swarm: lab.swarm === undefined ? null : [lab.swarm.poolCursor, lab.swarm.vniCursor],
    serialCursors:
      lab.swarm === undefined
        ? null
        : StringMap.values(lab.swarm.networks)
            .map((entry) => [entry.network.name, entry.addresses.next] as const)
            .sort((a, b) => (a[0] < b[0] ? -1 : 1)),
  })

/** the invariants hold */
export const expectHealthy = (lab: Model.LabState): void => {
  expect(Model.checkLabInvariants(lab)).toEqual([])
}
