import fc from "fast-check"
import { pickOf } from "../targets.ts"
import { ConnectCommand } from "./commands/ConnectCommand.ts"
import { CreateContainerCommand, mhAttachPick, mhContainerSpec } from "./commands/CreateContainerCommand.ts"
import { CreateServiceCommand, mhServiceSpec } from "./commands/CreateServiceCommand.ts"
import { CreateNetworkCommand, everyKind, type KernelKinds, mhNetworkSpec } from "./commands/CreateNetworkCommand.ts"
import { DisconnectCommand } from "./commands/DisconnectCommand.ts"
import { RemoveContainerCommand } from "./commands/RemoveContainerCommand.ts"
import { RemoveNetworkCommand } from "./commands/RemoveNetworkCommand.ts"
import { RemoveServiceCommand } from "./commands/RemoveServiceCommand.ts"
import { mhScaleSpec, ScaleServiceCommand } from "./commands/ScaleServiceCommand.ts"
import type { MhCommand } from "./MhModel.ts"
import { hostPool } from "./picks.ts"

/** how often a pick fits: nearly always while the topology is built, 8 in 9 afterwards (refusals keep coming up) */
const TOPOLOGY_FIT = 200
const FIT = 8

export interface MhLabSpec {
  readonly hosts: ReadonlyArray<string>
  readonly swarm: boolean
}

/** two or three hosts, a swarm three times in four (overlay networks need one; without, SwarmRequired) */
export const mhLabSpec: fc.Arbitrary<MhLabSpec> = fc.record({
  hosts: fc.integer({ min: 2, max: 3 }).map((count) => hostPool.slice(0, count)),
  swarm: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
})

export interface MhSize {
  readonly maxNetworks?: number
  readonly maxContainers?: number
  readonly maxCommands?: number
  readonly maxServices?: number
}

const createNetwork = (fit: number, refusals: boolean, kinds: KernelKinds) => mhNetworkSpec(fit, refusals, kinds).map((spec) => new CreateNetworkCommand(spec))
const createContainer = (fit: number) => mhContainerSpec(fit).map((spec) => new CreateContainerCommand(spec))
const createService = (fit: number) => mhServiceSpec(fit).map((spec) => new CreateServiceCommand(spec))
const scaleService = (fit: number) => mhScaleSpec(fit).map((spec) => new ScaleServiceCommand(spec))
const connect = (fit: number) => fc.tuple(pickOf(fit), mhAttachPick(fit)).map(([container, attach]) => new ConnectCommand(container, attach))

/**
 * Built before anything is torn down: two to four networks (any driver the kernel has), then
 * three to six containers spread over the hosts, then up to two connects and one or two services,
 * with picks that almost always fit; two topologies in three begin with an overlay network (a
 * service's network).
 */
export const mhTopology = (kinds: KernelKinds = everyKind, size: MhSize = {}): fc.Arbitrary<ReadonlyArray<MhCommand>> =>
  fc
    .tuple(
      fc.array(createNetwork(TOPOLOGY_FIT, false, kinds), { minLength: 2, maxLength: size.maxNetworks ?? 4 }),
      // an overlay for the services two times in three, whatever the others are
      fc.option(mhNetworkSpec(TOPOLOGY_FIT, false, kinds).map((spec) => new CreateNetworkCommand({ ...spec, driver: "overlay" })), { freq: 3, nil: undefined }),
      fc.array(createContainer(TOPOLOGY_FIT), { minLength: 3, maxLength: size.maxContainers ?? 6 }),
      fc.array(connect(TOPOLOGY_FIT), { maxLength: 2 }),
      fc.array(createService(TOPOLOGY_FIT), { minLength: 1, maxLength: size.maxServices ?? 2 }),
    )
    .map(([networks, overlay, containers, connects, services]): ReadonlyArray<MhCommand> => [
      ...(overlay === undefined ? [] : [overlay]),
      ...networks,
      ...containers,
      ...connects,
      ...services,
    ])

/** every command after the topology; creations and connects weigh more than removals, services as much as containers */
export const mhCommands = (kinds: KernelKinds = everyKind, size: MhSize = {}, replayPath?: string) =>
  fc.commands(
    [
      createNetwork(FIT, true, kinds),
      createNetwork(FIT, true, kinds),
      fc.tuple(pickOf(FIT), fc.option(pickOf(FIT), { freq: 2, nil: undefined })).map(([network, host]) => new RemoveNetworkCommand(network, host)),
      createContainer(FIT),
      createContainer(FIT),
      pickOf(FIT).map((pick) => new RemoveContainerCommand(pick)),
      connect(FIT),
      connect(FIT),
      connect(FIT),
      fc.tuple(pickOf(FIT), pickOf(FIT)).map(([container, network]) => new DisconnectCommand(container, network)),
      fc.tuple(pickOf(FIT), pickOf(FIT)).map(([container, network]) => new DisconnectCommand(container, network)),
      createService(FIT),
      createService(FIT),
      scaleService(FIT),
      scaleService(FIT),
      pickOf(FIT).map((pick) => new RemoveServiceCommand(pick)),
    ],
    { maxCommands: size.maxCommands ?? 10, size: "medium", ...(replayPath ? { replayPath } : {}) },
  )
