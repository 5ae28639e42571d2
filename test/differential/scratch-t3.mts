import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { Lab } from "../../controller/Lab.ts"
const timeoutMs = Number(process.argv[2] ?? 100)
const sleepMs = Number(process.argv[3] ?? 0)
const n = Number(process.argv[4] ?? 20)
let fails = 0
const t0 = performance.now()
const kernel = await makeLinuxKernel({ timeoutMs })
for (let i = 0; i < n; i++) {
  const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["host1"], runId: `proto${i}` }))
  await Effect.runPromise(lab.createContainer({ name: "c0", networks: [{network: "bridge"}] } as any))
  const p0 = await Effect.runPromise(lab.probe("c0", "172.17.0.1"))
  await Effect.runPromise(lab.createContainer({ name: "c2", networks: [{ network: "bridge" }] } as any))
  if (sleepMs) await new Promise(r => setTimeout(r, sleepMs))
  const t = performance.now()
  const p = await Effect.runPromise(lab.probe("c0", "172.17.0.3"))
  if (!p.reachable) fails++
  if (!p.reachable) console.log(p0.reachable, p.reachable, p.reason, Math.round(performance.now() - t))
  for (const ns of await Effect.runPromise(kernel.namespaces())) await Effect.runPromise(kernel.apply([{ op: "nsDel", ns }]))
}
await Effect.runPromise(kernel.close())
console.log("fails", fails, "of", n, "total", Math.round(performance.now() - t0))
