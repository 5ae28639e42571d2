import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/kernel.ts"
import { balancerTable, buildServicesWorld, OUTSIDE_ADDRESS, portOf, publishedTables, removeWorld, type ServicesWorld, type ServiceHost, setTables } from "../../bench/services-world.ts"
import { needsRoot, root, run } from "./support.ts"

/**
 * The services benchmark times connections in a world of its own (bench/services-world.ts): this
 * holds that world to what it claims, with real connections, so that a figure never comes from a
 * path that answers wrongly or not at all. No timing here (that is bench/services.ts).
 */
describe.skipIf(!root)(`linux backend: the services bench's world answers through the bridge driver's DNAT and a balanced VIP (${needsRoot})`, () => {
  let kernel: KernelShape
  let world: ServicesWorld
  let host: ServiceHost
  const address = (name: string) => (host.containers.get(name) as { address: string }).address

  beforeAll(async () => {
    kernel = await makeLinuxKernel()
    world = await buildServicesWorld(kernel, `cnm-t${process.pid}-sb-`, [{ name: "h1", net16: "172.20", containers: ["web", "b1", "b2", "b3"] }])
    host = world.hosts[0] as ServiceHost
    const ports = [portOf(host, "web", 8080, 80), ...["b1", "b2", "b3"].map((b, i) => portOf(host, b, 8001 + i, 80)), ...Array.from({ length: 300 }, (_, i) => portOf(host, "web", 10000 + i, 80))]
    await run(kernel.apply([...setTables(host.ns, publishedTables(host, ports)), { op: "firewallSet", ns: host.ns, table: balancerTable(7070, ["b1", "b2", "b3"].map(address), 80) }]))
    for (const name of ["web", "b1", "b2", "b3"]) await run(kernel.listen({ ns: (host.containers.get(name) as { ns: string }).ns, port: 80, proto: "tcp", answer: name }))
  })
  afterAll(async () => {
    await removeWorld(kernel, world)
    await run(kernel.close())
  })

  const connect = (address: string, port: number) => run(kernel.connect({ from: world.outside, address, port, proto: "tcp" }))

  it("a published port answers from outside with the client's own source, as does the container's address directly; an unpublished port is refused", async () => {
    expect(await connect(host.address, 8080)).toMatchObject({ outcome: "answer", answeredBy: "web", seenFrom: OUTSIDE_ADDRESS })
    expect(await connect(address("web"), 80)).toMatchObject({ outcome: "answer", answeredBy: "web", seenFrom: OUTSIDE_ADDRESS })
    expect(await connect(host.address, 10299)).toMatchObject({ outcome: "answer", answeredBy: "web" })
    expect((await connect(host.address, 10300)).outcome).toBe("refused")
    console.log("services bench world: published 8080, the last of 300 more ports and the container directly answered; 10300 refused")
  })

  it("the VIP takes the three backends in turn", async () => {
    const answers: Array<string | undefined> = []
    for (let i = 0; i < 6; i++) answers.push((await connect(host.address, 7070)).answeredBy)
    console.log(`services bench world: VIP answers ${answers.join(", ")}`)
    expect(answers).toEqual(["b1", "b2", "b3", "b1", "b2", "b3"])
  })
})
