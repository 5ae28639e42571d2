import type { Driver } from "../Driver.ts"
import { vlanDriver } from "../vlan/driver.ts"

/** Docker's macvlan driver: modes bridge, private, vepa and passthru (see drivers/vlan/driver.ts) */
export const macvlanDriver: Driver = vlanDriver("macvlan")
