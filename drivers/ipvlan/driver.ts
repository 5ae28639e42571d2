import type { Driver } from "../Driver.ts"
import { vlanDriver } from "../vlan/driver.ts"

/** Docker 20.10's ipvlan driver: modes l2 and l3 (see drivers/vlan/driver.ts) */
export const ipvlanDriver: Driver = vlanDriver("ipvlan")
