/**
 * The lab refuses what the port model refuses, through the controller: a bad -p spec
 * (InvalidPort) and a taken host port (PortInUse), with the model and the simulated kernel as
 * they were; and the sockets a lab change carries: the docker-proxy of a published port and the
 * container's server come and go with the container, and a proxy the kernel cannot bind takes the
 * whole change back.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab, OUTSIDE } from "../../controller/Lab.ts"

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

describe("lab sockets, on the simulator", () => {
  const connect = (lab: Lab, from: string, address: string, port: number) =>
    Effect.runSync(lab.connectFrom(from, address, port, "tcp"))

  it("starts the docker-proxy and the server with the container, and stops them when it goes", () => {
    const kernel = makeSimKernel()
    const lab = Effect.runSync(Lab.make(kernel, { hosts: [{ name: "host1" }], runId: "s", outside: "203.0.113.1/24" }))
    Effect.runSync(lab.createContainer({ name: "web", networks: [{ network: "bridge" }], ports: ["8080:80"], listen: ["80/tcp"] }))
    // through the proxy (the host to its loopback): seen from the bridge's gateway
    expect(connect(lab, "host1", "127.0.0.1", 8080)).toMatchObject({ outcome: "answer", answeredBy: "web", seenFrom: "172.17.0.1" })
    // through DNAT from the outside machine: its own address kept
    expect(connect(lab, OUTSIDE, "192.168.99.1", 8080)).toMatchObject({ outcome: "answer", answeredBy: "web", seenFrom: "203.0.113.1" })
    Effect.runSync(lab.removeContainer("web"))
    expect(connect(lab, "host1", "127.0.0.1", 8080).outcome).toBe("refused")
    expect(connect(lab, OUTSIDE, "192.168.99.1", 8080).outcome).toBe("refused")
    Effect.runSync(lab.close())
  })

  it("takes the whole change back when a proxy cannot bind its port (a host process holds it)", () => {
    const kernel = makeSimKernel()
    const lab = Effect.runSync(Lab.make(kernel, { hosts: [{ name: "host1" }], runId: "b" }))
    const hostNs = (lab.controllers[0] as Lab["controllers"][number]).hostNs
    Effect.runSync(kernel.listen({ ns: hostNs, port: 8080, proto: "tcp", answer: "squatter" }))
    Effect.runSync(lab.createNetwork({ name: "front" }))
    Effect.runSync(lab.createContainer({ name: "asker", networks: [{ network: "front" }] }))
    const before = { kernel: kernelSnapshot(kernel), endpoints: JSON.stringify(lab.endpoints()) }
    const refused = Effect.runSync(Effect.flip(lab.createContainer({ name: "web", networks: [{ network: "front" }], ports: ["8080:80"], listen: ["80/tcp"] })))
    expect(refused).toMatchObject({ code: "KernelError" })
    expect(refused.message).toMatch(/ports\.proxy/)
    expect(lab.containers()).toEqual(["asker"])
    // the embedded DNS forgot the name it had been given before the proxy was refused
    expect(Effect.runSync(lab.resolve("asker", "web"))).toMatchObject({ rcode: "NXDOMAIN", addresses: [] })
    expect({ kernel: kernelSnapshot(kernel), endpoints: JSON.stringify(lab.endpoints()) }).toEqual(before)
    expect(connect(lab, "host1", "127.0.0.1", 8080)).toMatchObject({ outcome: "answer", answeredBy: "squatter" })
    Effect.runSync(lab.close())
  })
})
