import fc from "fast-check"
import { ConnectCommand } from "./commands/ConnectCommand.ts"
import { CreateContainerCommand, containerSpec } from "./commands/CreateContainerCommand.ts"
import { CreateContainersCommand } from "./commands/CreateContainersCommand.ts"
import { CreateNetworkCommand, networkSpec } from "./commands/CreateNetworkCommand.ts"
import { DisconnectCommand } from "./commands/DisconnectCommand.ts"
import { RemoveContainerCommand } from "./commands/RemoveContainerCommand.ts"
import { RemoveNetworkCommand } from "./commands/RemoveNetworkCommand.ts"
import type { LabCommand } from "./LabModel.ts"
import { attachPick, pickOf } from "./targets.ts"

/**
 * How often a pick fits (targets.ts): in the starting topology 200 in 201, so that it gets built
 * (its containers are made together, all or nothing, from some twenty picks: about one in ten is
 * refused); afterwards 8 in 9, so that every refusal keeps coming up among mostly successful
 * commands.
 */
const TOPOLOGY_FIT = 200
const FIT = 8

const createNetwork = (fit: number, refusals: boolean) => networkSpec(fit, refusals).map((spec) => new CreateNetworkCommand(spec))
const createContainer = (fit: number) => containerSpec(fit).map((spec) => new CreateContainerCommand(spec))
const connect = (fit: number) => fc.tuple(pickOf(fit), attachPick(fit)).map(([container, attach]) => new ConnectCommand(container, attach))
const disconnect = fc.tuple(pickOf(FIT), pickOf(FIT)).map(([container, network]) => new DisconnectCommand(container, network))

/** smaller topologies where every kernel operation and every check costs real time (linux) */
export interface TopologySize {
  readonly maxNetworks?: number
  readonly maxContainers?: number
}

/**
 * A starting topology, built before anything is torn down: two or three user networks, then three
 * to five containers (mostly on one to three of them) made together, as a scenario's setup makes
 * them (Lab.createContainers), then up to two connects. The commands are the ordinary ones,
 * checked the ordinary way, with picks that almost always fit.
 */
export const labTopology = (size: TopologySize = {}): fc.Arbitrary<ReadonlyArray<LabCommand>> =>
  fc
    .tuple(
      fc.array(createNetwork(TOPOLOGY_FIT, false), { minLength: 2, maxLength: size.maxNetworks ?? 3 }),
      fc.array(containerSpec(TOPOLOGY_FIT, false), { minLength: 3, maxLength: size.maxContainers ?? 5 }).map((specs) => new CreateContainersCommand(specs)),
      fc.array(connect(TOPOLOGY_FIT), { maxLength: 2 }),
    )
    .map(([networks, containers, connects]): ReadonlyArray<LabCommand> => [...networks, containers, ...connects])

/**
 * The commands after the topology: every operation, creations and connects weighing more than
 * removals, so that labs stay big enough to probe. `maxCommands`: shorter sequences where every
 * check costs real time (linux).
 */
export const labCommands = (replayPath?: string, options: { readonly maxCommands?: number } = {}) =>
  fc.commands(
    [
      createNetwork(FIT, true),
      createNetwork(FIT, true),
      pickOf(FIT).map((pick) => new RemoveNetworkCommand(pick)),
      createContainer(FIT),
      createContainer(FIT),
      createContainer(FIT),
      pickOf(FIT).map((pick) => new RemoveContainerCommand(pick)),
      connect(FIT),
      connect(FIT),
      connect(FIT),
      disconnect,
      disconnect,
    ],
    { maxCommands: options.maxCommands ?? 12, size: "medium", ...(replayPath ? { replayPath } : {}) },
  )
