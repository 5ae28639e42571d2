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

/**
 * The kernel state less what depends on the order links were made in: interface indexes, the
 * random MACs of host-side links, and a bridge's MAC (Linux derives it from its ports).
 */
const comparable = (kernel: ReturnType<typeof makeSimKernel>) =>
  kernelSnapshot(kernel).map((ns) => ({
    ...ns,
    links: ns.links
      .map(({ index: _index, mac, ...link }) => ({ ...link, ...(link.kind === "bridge" || link.name.startsWith("veth") ? {} : { mac }) }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  }))

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

describe("lab: containers made together", () => {
  const requests = [
    { name: "web", networks: [{ network: "n1" }] },
    { name: "db", networks: [{ network: "n1" }, { network: "bridge" }] },
    { name: "cache", networks: [{ network: "bridge" }] },
    { name: "agent", networks: [{ network: "host" }] },
  ]

  it("end in the same model and kernel state as made one by one", () => {
    const one = newLab()
    const batch = newLab()
    for (const { lab } of [one, batch]) Effect.runSync(lab.createNetwork({ name: "n1", subnet: "10.1.0.0/24" }))
    for (const request of requests) Effect.runSync(one.lab.createContainer(request))
    Effect.runSync(batch.lab.createContainers(requests))
    expect(batch.lab.endpoints()).toEqual(one.lab.endpoints())
    expect(batch.lab.containers()).toEqual(one.lab.containers())
    expect(comparable(batch.kernel)).toEqual(comparable(one.kernel))
    expect(Effect.runSync(batch.lab.resolve("web", "db")).addresses).toEqual(["10.1.0.3"])
  })

  it("are all or nothing: a refusal for one leaves none of them, in the model or the kernel", () => {
    const { kernel, lab } = newLab()
    Effect.runSync(lab.createNetwork({ name: "n1", subnet: "10.1.0.0/24" }))
    const controller = lab.controllers[0] as (typeof lab.controllers)[number]
    // the third veth's host-side name is taken behind the controller's back
    kernel.applySync([{ op: "linkAdd", ns: controller.hostNs, link: { kind: "dummy", name: "vethc2" } }])
    const kernelBefore = comparable(kernel)
    const stateBefore = controller.state
    const result = Effect.runSync(Effect.result(lab.createContainers(requests)))
    expect(result._tag === "Failure" && result.failure.code).toBe("KernelError")
    expect(controller.state).toBe(stateBefore)
    expect(lab.containers()).toEqual([])
    expect(comparable(kernel)).toEqual(kernelBefore)
  })

  it("refuse as the model does before touching the kernel", () => {
    const { kernel, lab } = newLab()
    const kernelBefore = kernelSnapshot(kernel)
    const result = Effect.runSync(Effect.result(lab.createContainers([{ name: "web" }, { name: "web" }])))
    expect(result._tag === "Failure" && result.failure.code).toBe("ContainerNameConflict")
    expect(kernelSnapshot(kernel)).toEqual(kernelBefore)
  })
})
