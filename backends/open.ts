import type { KernelShape } from "./Kernel.ts"

/** a fresh kernel of the named backend; the linux one is loaded only when asked for */
export const openKernel = async (backend: "sim" | "linux"): Promise<KernelShape> => {
  if (backend === "sim") return (await import("./sim/layer.ts")).makeSimKernel()
  return (await import("./linux/index.ts")).makeLinuxKernel()
}
