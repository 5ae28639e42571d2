import type { Driver } from "./Driver.ts"

/** `host`: the container shares the host's namespace (the controller gives it no sandbox of its own) */
export const hostDriver: Driver = {
  name: "host",
  createNetwork: () => [],
  deleteNetwork: () => [],
  join: () => ({ steps: [] }),
  leave: () => [],
}
