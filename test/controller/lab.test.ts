import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"

const newLab = (hosts = ["host1"]) => {
  const kernel = makeSimKernel()
  const lab = Effect.runSync(Lab.make(kernel, { hosts, runId: "t" }))
  return { kernel, lab }
}

const kernelSnapshot = (kernel: ReturnType<typeof makeSimKernel>) =>
  Effect.runSync(Effect.forEach(Effect.runSync(kernel.namespaces()), (ns) => kernel.read(ns)))

describe("lab", () => {
  it("runs a composed create-then-connect: the container is looked up when the effect runs", () => {
    const { lab } = newLab()
    Effect.runSync(lab.createNetwork({ name: "n1", subnet: "10.1.0.0/24" }))
    const composed = lab
      .createContainer({ name: "web", networks: [{ network: "n1" }] })
      .pipe(Effect.andThen(lab.connect("web", { network: "bridge" })))
    expect(Effect.runSync(composed).address).toBe("172.17.0.2/16")
  })

  it("rolls back what a refused kernel step half-built, and keeps the model unchanged", () => {
    const { kernel, lab } = newLab()
    Effect.runSync(lab.createNetwork({ name: "n1", subnet: "10.1.0.0/24" }))
    Effect.runSync(lab.createContainer({ name: "web", networks: [{ network: "n1" }] }))
    const controller = lab.controllers[0] as (typeof lab.controllers)[number]
    // the next host-side veth name is taken behind the controller's back, so the join is refused
    kernel.applySync([{ op: "linkAdd", ns: controller.hostNs, link: { kind: "dummy", name: "vethc1" } }])
    const kernelBefore = kernelSnapshot(kernel)
    const stateBefore = controller.state
    const result = Effect.runSync(Effect.result(lab.createContainer({ name: "db", networks: [{ network: "n1" }] })))
    expect(result._tag === "Failure" && result.failure.code).toBe("KernelError")
    expect(controller.state).toBe(stateBefore)
    expect(kernelSnapshot(kernel)).toEqual(kernelBefore)
    expect(model.container(controller.state, "db")).toBeUndefined()
  })

  it("keeps container names unique across hosts", () => {
    const { lab } = newLab(["h1", "h2"])
    Effect.runSync(lab.createContainer({ name: "web", host: "h1" }))
    const again = Effect.runSync(Effect.result(lab.createContainer({ name: "web", host: "h2" })))
    expect(again._tag === "Failure" && again.failure.code).toBe("ContainerNameConflict")
  })

  it("makes local networks on every host and refuses a removal on all of them when one host has endpoints", () => {
    const { lab } = newLab(["h1", "h2"])
    Effect.runSync(lab.createNetwork({ name: "n1" }))
    Effect.runSync(lab.createContainer({ name: "web", host: "h2", networks: [{ network: "n1" }] }))
    const refused = Effect.runSync(Effect.result(lab.removeNetwork("n1")))
    expect(refused._tag === "Failure" && refused.failure.code).toBe("ActiveEndpoints")
    for (const controller of lab.controllers) expect(model.network(controller.state, "n1")).toBeDefined()
  })
})
