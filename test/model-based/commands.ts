import fc from "fast-check"
import { ConnectCommand } from "./commands/ConnectCommand.ts"
import { CreateContainerCommand } from "./commands/CreateContainerCommand.ts"
import { CreateNetworkCommand } from "./commands/CreateNetworkCommand.ts"
import { DisconnectCommand } from "./commands/DisconnectCommand.ts"
import { RemoveContainerCommand } from "./commands/RemoveContainerCommand.ts"
import { RemoveNetworkCommand } from "./commands/RemoveNetworkCommand.ts"
import { containerNames, networkNames } from "./LabModel.ts"

const networkIndex = fc.nat({ max: networkNames.length - 1 })
const containerIndex = fc.nat({ max: containerNames.length - 1 })
/** a position in the current list of containers (see containerAt) */
const position = fc.nat({ max: 20 })
/** a position in the current list of networks (see networkAt): bridge/host/none hold the first three */
const networkPosition = fc.oneof({ weight: 1, arbitrary: fc.nat({ max: 2 }) }, { weight: 4, arbitrary: fc.integer({ min: 3, max: 20 }) })
// mostly dynamic addresses; a static one sometimes, the gateway (.1) and low addresses often among them
const staticHost = fc.option(fc.oneof(fc.constantFrom(1, 2, 3, 10), fc.integer({ min: 4, max: 254 })), { nil: undefined, freq: 3 })

export const labCommands = (replayPath?: string) => {
  const createNetwork = fc
    .tuple(fc.integer({ min: 3, max: networkNames.length - 1 }), fc.option(fc.nat({ max: 3 }), { nil: undefined }), fc.boolean(), fc.boolean())
    .map(([name, subnet, iccOff, internal]) => new CreateNetworkCommand(name, subnet, iccOff, internal))
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
    { maxCommands: 30, size: "medium", ...(replayPath ? { replayPath } : {}) },
  )
}
