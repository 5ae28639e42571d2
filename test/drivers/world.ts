import { createHash } from "node:crypto"
import { Effect } from "effect"
import type { KernelOp } from "../../backends/kernel-types.ts"
import { runSteps, type StepFailure } from "../../controller/steps.ts"
import { swarmKeys } from "../../controller/keys.ts"
import type { Driver, HostContext, Peer, Step } from "../../drivers/Driver.ts"
import type { OverlayInfo, VlanInfo } from "../../model/lab-types.ts"
import type { DriverName, Endpoint, Network } from "../../model/types.ts"
import type { Harness } from "../conformance/harness.ts"

/**
 * Hand-made Docker hosts for driving the drivers without a controller: a namespace per host whose
 * eth0 sits on an underlay bridge (ul0, in a namespace of its own), as controller/Lab.ts builds
 * them; networks and endpoints written out as the model would hand them over; and what swarm and
 * the macvlan/ipvlan driver decided (VNI, MTU, parent) held in maps the host contexts read.
 */

export const UNDERLAY_MTU = 1500
export const hostAddress = (index: number): string => `198.18.0.${index + 1}`

export interface World {
  readonly harness: Harness
  readonly underlayNs: string
  readonly hosts: ReadonlyArray<HostContext>
  /** network name → what swarm allocated for it */
  readonly overlays: Map<string, OverlayInfo>
  /** `host/network` → the parent and mode on that host */
  readonly vlans: Map<string, VlanInfo>
}

export const makeWorld = async (harness: Harness, hostCount: number): Promise<World> => {
  const underlayNs = harness.ns("underlay")
  const overlays = new Map<string, OverlayInfo>()
  const vlans = new Map<string, VlanInfo>()
  const ops: KernelOp[] = [
    { op: "nsAdd", ns: underlayNs },
    { op: "linkSet", ns: underlayNs, name: "lo", up: true },
    { op: "linkAdd", ns: underlayNs, link: { kind: "bridge", name: "ul0", up: true } },
  ]
  const hosts: HostContext[] = []
  for (let index = 0; index < hostCount; index++) {
    const name = `h${index + 1}`
    const ns = harness.ns(name)
    const address = hostAddress(index)
    ops.push(
      { op: "nsAdd", ns },
      { op: "linkSet", ns, name: "lo", up: true },
      { op: "linkAdd", ns: underlayNs, link: { kind: "veth", name: `ul-${index}`, master: "ul0", up: true, peer: { name: "eth0", ns } } },
      { op: "addrAdd", ns, dev: "eth0", cidr: `${address}/24` },
      { op: "linkSet", ns, name: "eth0", up: true },
    )
    hosts.push({
      ns,
      host: name,
      underlay: { dev: "eth0", address, mtu: UNDERLAY_MTU },
      overlayOf: (network) => overlays.get(network.name),
      vlanOf: (network) => vlans.get(`${name}/${network.name}`),
      networks: [],
      swarmKeys: swarmKeys("driver cases"),
      esp: harness.kernel.capabilities.esp,
    })
  }
  await harness.apply(ops)
  return { harness, underlayNs, hosts, overlays, vlans }
}

export const networkOf = (
  name: string,
  driver: DriverName,
  subnet: string,
  gateway: string,
  extra: { readonly internal?: boolean; readonly options?: Readonly<Record<string, string>> } = {},
): Network => ({
  id: createHash("sha256").update(name).digest("hex"),
  name,
  driver,
  subnet,
  configuredSubnet: subnet,
  gateway,
  userSubnet: true,
  internal: extra.internal ?? false,
  predefined: false,
  options: extra.options ?? {},
  seq: 10,
  ...(driver === "overlay" ? { scope: "swarm" as const } : {}),
})

/** Docker 20.10's endpoint MAC: 02:42 and the IPv4 address's four bytes */
export const macOf = (address: string): string =>
  ["02", "42", ...address.split(".").map((byte) => Number(byte).toString(16).padStart(2, "0"))].join(":")

export const run = (world: World, steps: ReadonlyArray<Step>): Promise<void> =>
  Effect.runPromise(runSteps(world.harness.kernel, steps).pipe(Effect.mapError((f) => new Error(`step ${f.step}: ${f.error.message}`))))

/** the steps must be refused: the failure, with the step's name */
export const refused = async (world: World, steps: ReadonlyArray<Step>): Promise<StepFailure> => {
  const result = await Effect.runPromise(Effect.result(runSteps(world.harness.kernel, steps)))
  if (result._tag === "Success") throw new Error(`expected a refusal, but ${steps.map((s) => s.name).join(", ")} went through`)
  return result.failure
}

export interface Member {
  readonly ns: string
  readonly host: HostContext
  readonly endpoint: Endpoint
  readonly hostIf: string
  /** plain address */
  readonly address: string
}

let hostIfSeq = 0

/** a container with its own namespace (lo up), joined to `network` on `host` as eth0 */
export const member = async (
  world: World,
  driver: Driver,
  network: Network,
  host: HostContext,
  name: string,
  address: string,
  mac: string | undefined = macOf(address),
): Promise<Member & { readonly gateway: string | undefined }> => {
  const ns = world.harness.ns(`c-${name}`)
  await world.harness.apply({ op: "nsAdd", ns }, { op: "linkSet", ns, name: "lo", up: true })
  const prefix = (network.subnet as string).split("/")[1]
  const endpoint: Endpoint = {
    container: name,
    network: network.name,
    address: `${address}/${prefix}`,
    ...(mac === undefined ? {} : { mac }),
    aliases: [],
    ifname: "eth0",
    staticAddress: true,
  }
  const hostIf = `vethc${(hostIfSeq++).toString(16)}`
  const plan = driver.join(network, endpoint, host, { sandboxNs: ns, hostIf })
  await run(world, plan.steps)
  // the controller's part: a default route through the gateway the network offers
  if (plan.gateway !== undefined) await world.harness.apply({ op: "routeAdd", ns, route: { dst: "default", via: plan.gateway } })
  return { ns, host, endpoint, hostIf, address, gateway: plan.gateway }
}

/** what the other hosts learn about a member (overlay's peer record) */
export const peerOf = (m: Member): Peer => ({
  address: m.address,
  prefix: Number((m.endpoint.address as string).split("/")[1]),
  mac: m.endpoint.mac as string,
  vtep: m.host.underlay?.address as string,
})
