import type { Driver } from "./Driver.ts"

/** `none`: the container keeps its own namespace with loopback only; nothing to program */
export const nullDriver: Driver = {
  name: "null",
  createNetwork: () => [],
  deleteNetwork: () => [],
  join: () => ({ steps: [] }),
  leave: () => [],
}
