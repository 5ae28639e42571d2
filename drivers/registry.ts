import type { DriverName } from "../model/types.ts"
import { bridgeDriver } from "./bridge/driver.ts"
import type { Driver } from "./Driver.ts"
import { hostDriver } from "./host.ts"
import { ipvlanDriver } from "./ipvlan/driver.ts"
import { macvlanDriver } from "./macvlan/driver.ts"
import { nullDriver } from "./null.ts"
import { overlayDriver } from "./overlay/driver.ts"

/** the drivers a controller can use at once */
export const builtinDrivers: ReadonlyMap<DriverName, Driver> = new Map<DriverName, Driver>([
  ["bridge", bridgeDriver],
  ["null", nullDriver],
  ["host", hostDriver],
  ["overlay", overlayDriver],
  ["macvlan", macvlanDriver],
  ["ipvlan", ipvlanDriver],
])
