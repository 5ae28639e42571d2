/**
 * Lab.removeContainers: many containers removed with one round of kernel work, on the simulator
 * and on the real kernel. The model, the lab's bookkeeping and the kernel must agree afterwards,
 * also when the kernel refuses a deletion midway.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import { needsRoot, root } from "./support.ts"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
const refusal = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

const sandboxOf = (lab: Lab, name: string): string => lab.controllerOf(name)?.sandboxOf(name) as string

const withLab = async (kernel: KernelShape, body: (lab: Lab) => Promise<void>): Promise<void> => {
  try {
    const lab = await run(Lab.make(kernel, { hosts: ["h1", "h2"], runId: `rm${Math.random().toString(36).slice(2, 7)}` }))
    await run(lab.createNetwork({ name: "net1", subnet: "10.71.0.0/24" }))
    for (const [i, name] of ["a1", "a2", "a3", "a4", "a5"].entries()) {
      await run(lab.createContainer({ name, host: i % 2 === 0 ? "h1" : "h2", networks: [{ network: "net1" }] }))
    }
    await run(lab.createContainer({ name: "hostnet", networks: [{ network: "host" }] }))
    await body(lab)
  } finally {
    await run(kernel.close())
  }
}

const cases = (makeKernel: () => Promise<KernelShape>) => {
  it("removes containers on several hosts (and a host-network one) at once; the rest stays working", async () => {
    await withLab(await makeKernel(), async (lab) => {
      const gone = ["a1", "a2", "a4", "hostnet"].map((name) => ({ name, sandbox: sandboxOf(lab, name) }))
      const removed = await run(lab.removeContainers(gone.map((g) => g.name)))
      expect(removed.map((c) => c.name).sort()).toEqual(["a1", "a2", "a4", "hostnet"])
      expect(lab.containers()).toEqual(["a3", "a5"])
      expect(lab.endpoints().map((e) => e.container).sort()).toEqual(["a3", "a5"])
      const namespaces = await run(lab.kernel.namespaces())
      for (const { name, sandbox } of gone) if (name !== "hostnet") expect(namespaces).not.toContain(sandbox)
      for (const name of ["a3", "a5"]) expect(namespaces).toContain(sandboxOf(lab, name))
      // names and addresses are free again, and what is left still forwards
      await run(lab.createContainer({ name: "a1", host: "h1", networks: [{ network: "net1" }] }))
      const a3 = lab.endpoints().find((e) => e.container === "a3")?.address?.split("/")[0] as string
      expect((await run(lab.probe("a1", a3))).reachable).toBe(true)
    })
  })

  it("refuses an unknown or repeated name before removing anything", async () => {
    await withLab(await makeKernel(), async (lab) => {
      expect((await refusal(lab.removeContainers(["a1", "nope"]))).code).toBe("ContainerNotFound")
      expect((await refusal(lab.removeContainers(["a2", "a2"]))).code).toBe("ContainerNotFound")
      expect(lab.containers()).toEqual(["a1", "a2", "a3", "a4", "a5", "hostnet"])
      const namespaces = await run(lab.kernel.namespaces())
      for (const name of ["a1", "a2"]) expect(namespaces).toContain(sandboxOf(lab, name))
    })
  })

  it("when the kernel refuses a deletion midway, exactly the containers whose namespaces are gone are removed", async () => {
    await withLab(await makeKernel(), async (lab) => {
      // a3's sandbox disappears behind the controller's back: its deletion will be refused
      await run(lab.kernel.apply([{ op: "nsDel", ns: sandboxOf(lab, "a3") }]))
      const a5 = sandboxOf(lab, "a5")
      const error = await refusal(lab.removeContainers(["a1", "a3", "a5"]))
      expect(error.code).toBe("KernelError")
      // a1 went before the refusal, a3 was already gone, a5 was never reached
      expect(lab.containers()).toEqual(["a2", "a4", "a5", "hostnet"])
      expect(await run(lab.kernel.namespaces())).toContain(a5)
      expect((await run(lab.removeContainers(["a5"]))).map((c) => c.name)).toEqual(["a5"])
      expect(await run(lab.kernel.namespaces())).not.toContain(a5)
    })
  })
}

describe("Lab.removeContainers on the simulator", () => cases(async () => makeSimKernel()))

describe.skipIf(!root)(`Lab.removeContainers on the linux kernel (${needsRoot})`, () => cases(() => makeLinuxKernel()))
