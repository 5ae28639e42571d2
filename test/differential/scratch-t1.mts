import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { Lab } from "../../controller/Lab.ts"
import { measureReach } from "../../controller/measure.ts"
const t0 = performance.now()
const lap = (s: string) => console.log(s, Math.round(performance.now() - t0))
const kernel = await makeLinuxKernel({ timeoutMs: 100 })
lap("kernel")
for (let i = 0; i < 3; i++) {
  const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["host1"], runId: `proto${i}` }))
  lap("lab")
  await Effect.runPromise(lab.createNetwork({ name: "n1", internal: false, options: {} } as any))
  lap("net")
  await Effect.runPromise(lab.createContainer({ name: "c0", networks: [{ network: "n1" }, {network: "bridge"}] } as any))
  await Effect.runPromise(lab.createContainer({ name: "c1", networks: [{ network: "n1" }] } as any))
  await Effect.runPromise(lab.createContainer({ name: "c2", networks: [{ network: "bridge" }] } as any))
  lap("containers")
  const m = await Effect.runPromise(measureReach(lab, { concurrency: 64 }))
  lap("reach " + m.map(e => e.reachable ? 1 : 0).join(""))
  const m2 = await Effect.runPromise(measureReach(lab, { concurrency: 64 }))
  lap("reach again")
  await Effect.runPromise(lab.removeContainer("c0"))
  lap("rm c0")
  await Effect.runPromise(lab.disconnect("c1", "n1"))
  lap("disconnect")
  for (const ns of await Effect.runPromise(kernel.namespaces())) await Effect.runPromise(kernel.apply([{ op: "nsDel", ns }]))
  lap("teardown")
}
await Effect.runPromise(kernel.close())
lap("close")
