import type { Driver } from "./Driver.ts"

/** a driver whose networks need nothing in the kernel: `none` and `host` */
export const withoutKernelWork = (name: "null" | "host"): Driver => ({
  name,
  scope: "local",
  createNetwork: () => [],
  deleteNetwork: () => [],
  join: () => ({ steps: [] }),
  leave: () => [],
})

/** `none`: the container keeps its own namespace with loopback only; nothing to program */
export const nullDriver = withoutKernelWork("null")
