import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { Lab } from "../../controller/Lab.ts"
import { measureReach } from "../../controller/measure.ts"
let t0 = performance.now()
const lap = (s: string) => { console.log(s, Math.round(performance.now() - t0)); t0 = performance.now() }
for (let i = 0; i < 4; i++) {
  const kernel = await makeLinuxKernel({ timeoutMs: 100 })
  lap("kernel")
  const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["host1"], runId: `proto${i}` }))
  lap("lab")
  await Effect.runPromise(lab.createNetwork({ name: "n1", internal: false, options: {} } as any))
  await Effect.runPromise(lab.createContainer({ name: "c0", networks: [{ network: "n1" }, {network: "bridge"}] } as any))
  await Effect.runPromise(lab.createContainer({ name: "c1", networks: [{ network: "n1" }] } as any))
  lap("build")
  const p = await Effect.runPromise(lab.probe("c0", lab.endpoints().find(e => e.container === "c1")!.address!.split("/")[0]!))
  lap("first probe " + p.reachable)
  const r = await Effect.runPromise(lab.resolve("c0", "c1"))
  lap("resolve " + r.addresses)
  await Effect.runPromise(lab.createContainer({ name: "c2", networks: [{ network: "bridge" }] } as any))
  lap("c2")
  const m = await Effect.runPromise(measureReach(lab, { concurrency: 64 }))
  lap("reach " + m.map(e => e.reachable ? 1 : 0).join(""))
  await Effect.runPromise(kernel.close())
  lap("close")
}
