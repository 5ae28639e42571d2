/**
 * The lab refuses what the port model refuses, through the controller: a bad -p spec
 * (InvalidPort) and a taken host port (PortInUse), with the model and the simulated kernel as
 * they were. The kernel does not publish ports yet (drivers), so only the decisions are checked.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"

const kernelSnapshot = (kernel: ReturnType<typeof makeSimKernel>) =>
  JSON.stringify(Effect.runSync(Effect.forEach(Effect.runSync(kernel.namespaces()), (ns) => kernel.read(ns))))

describe("lab with published ports, on the simulator", () => {
  it("refuses a taken host port and a bad spec, leaving the model and the kernel as they were", () => {
    const kernel = makeSimKernel()
    const lab = Effect.runSync(Lab.make(kernel, { hosts: [{ name: "host1" }], runId: "p" }))
    Effect.runSync(lab.createContainer({ name: "web", networks: [{ network: "bridge" }], ports: ["8080:80"], listen: ["80/tcp"] }))
    const before = { kernel: kernelSnapshot(kernel), endpoints: JSON.stringify(lab.endpoints()) }
    const taken = Effect.runSync(Effect.flip(lab.createContainer({ name: "web2", networks: [{ network: "bridge" }], ports: ["127.0.0.1:8080:80"] })))
    expect(taken.code).toBe("PortInUse")
    const bad = Effect.runSync(Effect.flip(lab.createContainer({ name: "web3", ports: ["8080:abc"] })))
    expect(bad).toMatchObject({ code: "InvalidPort", message: "Invalid containerPort: abc." })
    expect({ kernel: kernelSnapshot(kernel), endpoints: JSON.stringify(lab.endpoints()) }).toEqual(before)
    Effect.runSync(lab.close())
  })
})
