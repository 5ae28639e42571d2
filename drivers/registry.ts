import type { DriverName } from "../model/types.ts"
import { bridgeDriver } from "./bridge/driver.ts"
import type { Driver } from "./Driver.ts"
import { hostDriver } from "./host.ts"
import { nullDriver } from "./null.ts"

/** the drivers a controller can use at once; the others of the contract come in later issues */
export const builtinDrivers: ReadonlyMap<DriverName, Driver> = new Map<DriverName, Driver>([
  ["bridge", bridgeDriver],
  ["null", nullDriver],
  ["host", hostDriver],
])
