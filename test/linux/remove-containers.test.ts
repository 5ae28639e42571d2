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
import * as model from "../../model/index.ts"
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

  it("after a deletion refused midway in a swarm, the other hosts withdraw the removed containers' overlay peers and names", async () => {
    const kernel = await makeKernel()
    try {
      const lab = await run(Lab.make(kernel, { hosts: ["h1", "h2"], runId: `rs${Math.random().toString(36).slice(2, 7)}`, swarm: true }))
      await run(lab.createNetwork({ name: "ov", driver: "overlay" }))
      for (const name of ["a1", "a3", "a5"]) await run(lab.createContainer({ name, host: "h1", networks: [{ network: "ov" }] }))
      await run(lab.createContainer({ name: "b1", host: "h2", networks: [{ network: "ov" }] }))
      const addressOf = (name: string) => (lab.endpoints().find((e) => e.container === name)?.address as string).split("/")[0] as string
      const a1 = addressOf("a1")
      await run(lab.kernel.apply([{ op: "nsDel", ns: sandboxOf(lab, "a3") }]))
      expect((await refusal(lab.removeContainers(["a1", "a3", "a5"]))).code).toBe("KernelError")
      expect(lab.containers()).toEqual(["a5", "b1"])
      // h2 programs exactly the peers the model names, in the store and in its overlay namespace
      const peers = (host: string) => model.overlayPeers(lab.state, "ov", host).map((p) => `${p.sandbox} ${p.address}`).sort()
      expect(lab.peersOf("h2", "ov").map((p) => `${p.sandbox} ${p.address}`).sort()).toEqual(peers("h2"))
      expect(lab.peersOf("h2", "ov").map((p) => p.address)).not.toContain(a1)
      const ov = lab.networkRows().find((r) => r.network.name === "ov")?.network as model.Network
      const overlayNs = (await run(lab.kernel.namespaces())).find((ns) => ns.includes("-h2-ov-") && ns.endsWith(ov.id.slice(0, 10))) as string
      const neighbours = (await run(lab.kernel.read(overlayNs))).neighs.map((n) => n.ip).sort()
      expect(neighbours).toEqual(model.overlayPeers(lab.state, "ov", "h2").map((p) => p.address).sort())
      expect((await run(lab.resolve("b1", "a1"))).addresses).toEqual([])
      expect((await run(lab.resolve("b1", "a5"))).addresses).toEqual([addressOf("a5")])
    } finally {
      await run(kernel.close())
    }
  })
}

describe("Lab.removeContainers on the simulator", () => cases(async () => makeSimKernel()))

describe.skipIf(!root)(`Lab.removeContainers on the linux kernel (${needsRoot})`, () => cases(() => makeLinuxKernel()))
