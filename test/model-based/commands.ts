import fc from "fast-check"
import { ConnectCommand } from "./commands/ConnectCommand.ts"
import { CreateContainerCommand } from "./commands/CreateContainerCommand.ts"
import { CreateNetworkCommand } from "./commands/CreateNetworkCommand.ts"
import { DisconnectCommand } from "./commands/DisconnectCommand.ts"
import { RemoveContainerCommand } from "./commands/RemoveContainerCommand.ts"
import { RemoveNetworkCommand } from "./commands/RemoveNetworkCommand.ts"
import { containerNames, type LabCommand, networkNames } from "./LabModel.ts"

const networkIndex = fc.nat({ max: networkNames.length - 1 })
const containerIndex = fc.nat({ max: containerNames.length - 1 })
/** a position in the current list of containers (see containerAt) */
const position = fc.nat({ max: 20 })
/** a position in the current list of networks (see networkAt): bridge/host/none hold the first three */
const networkPosition = fc.oneof({ weight: 1, arbitrary: fc.nat({ max: 2 }) }, { weight: 4, arbitrary: fc.integer({ min: 3, max: 20 }) })
// mostly dynamic addresses; a static one sometimes, the gateway (.1) and low addresses often among them
const staticHost = fc.option(fc.oneof(fc.constantFrom(1, 2, 3, 10), fc.integer({ min: 4, max: 254 })), { nil: undefined, freq: 3 })

const createNetwork = fc
  .tuple(fc.integer({ min: 3, max: networkNames.length - 1 }), fc.option(fc.nat({ max: 3 }), { nil: undefined }), fc.boolean(), fc.boolean())
  .map(([name, subnet, iccOff, internal]) => new CreateNetworkCommand(name, subnet, iccOff, internal))

/**
 * A starting topology: one to three user networks, then two to four containers on one or two
 * networks each (names distinct), mostly ones created just before (positions 3 and up are the user networks, 0 is
 * bridge; see networkAt) and mostly with dynamic addresses. Put before short sequences (linux),
 * which from an empty lab would spend most of their commands on refusals. The commands are the
 * ordinary ones, checked the ordinary way.
 */
export const labTopology = () =>
  fc.array(createNetwork, { minLength: 1, maxLength: 3 }).chain((networks) => {
    const createdNetwork = fc.integer({ min: 3, max: 2 + networks.length })
    const network = fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: createdNetwork })
    const host = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 254 }) })
    const container = fc
      .tuple(containerIndex, fc.array(network, { minLength: 1, maxLength: 2 }), host)
      .map(([name, positions, staticHost]) => new CreateContainerCommand(name, positions, staticHost))
    return fc
      .uniqueArray(container, { minLength: 2, maxLength: 4, selector: (command) => command.nameIndex })
      .map((containers): ReadonlyArray<LabCommand> => [...networks, ...containers])
  })

/** `maxCommands`: shorter sequences for backends where every check costs real time (linux) */
export const labCommands = (replayPath?: string, options: { readonly maxCommands?: number } = {}) => {
  const createContainer = fc
    .tuple(containerIndex, fc.array(networkPosition, { maxLength: 3 }), staticHost)
    .map(([name, networks, host]) => new CreateContainerCommand(name, networks, host))
  const connect = fc
    .tuple(position, networkPosition, staticHost, fc.boolean())
    .map(([c, n, host, alias]) => new ConnectCommand(c, n, host, alias))
  // creations weigh more than removals, so sequences grow topologies worth probing
  return fc.commands(
    [
      createNetwork,
      createNetwork,
      createNetwork,
      // predefined names too: their refusals must agree as well
      networkIndex.map((name) => new CreateNetworkCommand(name, undefined, false, false)),
      networkPosition.map((p) => new RemoveNetworkCommand(p)),
      createContainer,
      createContainer,
      createContainer,
      createContainer,
      position.map((p) => new RemoveContainerCommand(p)),
      connect,
      connect,
      connect,
      fc.tuple(position, networkPosition).map(([c, n]) => new DisconnectCommand(c, n)),
      fc.tuple(position, networkPosition).map(([c, n]) => new DisconnectCommand(c, n)),
    ],
    { maxCommands: options.maxCommands ?? 30, size: "medium", ...(replayPath ? { replayPath } : {}) },
  )
}
