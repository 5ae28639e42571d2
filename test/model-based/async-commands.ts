import type fc from "fast-check"
import type { Lab } from "../../controller/Lab.ts"
import type { LabCommand, LabModel, LabOperation } from "./LabModel.ts"

/**
 * The generated commands, for a backend that works asynchronously (linux). Each command still
 * resolves its positions against the model and names what it did in its toString; instead of
 * running the operation it hands it over (LabReal.handOver), and `carryOut` runs it, awaiting the
 * backend. The commands given are fast-check's own wrappers, so fast-check still knows which ones
 * ran: its shrinking, its printed counterexample and its replayPath stay as for the sync runs.
 */
export const asyncCommands = <Real>(
  commands: Iterable<LabCommand>,
  labOf: (real: Real) => Lab,
  carryOut: (m: LabModel, real: Real, operation: LabOperation, command: LabCommand) => Promise<void>,
): Array<fc.AsyncCommand<LabModel, Real>> =>
  [...commands].map((command) => ({
    check: (m) => command.check(m),
    run: async (m, real) => {
      let handed: LabOperation | undefined
      command.run(m, {
        lab: labOf(real),
        handOver: (operation) => {
          handed = operation
        },
      })
      if (handed === undefined) throw new Error(`${command.toString()} handed over no operation`)
      await carryOut(m, real, handed, command)
    },
    toString: () => command.toString(),
  }))
