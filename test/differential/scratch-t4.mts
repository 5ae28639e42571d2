import { spawnSync } from "node:child_process"
import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { Lab } from "../../controller/Lab.ts"
const n = Number(process.argv[2] ?? 20)
let fails = 0
const kernel = await makeLinuxKernel({ timeoutMs: 100 })
const sh = (...a: string[]) => spawnSync(a[0]!, a.slice(1), { encoding: "utf8" }).stdout
for (let i = 0; i < n; i++) {
  const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["host1"], runId: `proto${i}` }))
  await Effect.runPromise(lab.createContainer({ name: "c0", networks: [{network: "bridge"}] } as any))
  const p0 = await Effect.runPromise(lab.probe("c0", "172.17.0.1"))
  await Effect.runPromise(lab.createContainer({ name: "c2", networks: [{ network: "bridge" }] } as any))
  const p = await Effect.runPromise(lab.probe("c0", "172.17.0.3"))
  if (!p.reachable) { fails++;
    const h = `cnm-proto${i}-host1`
    console.log(sh("ip", "-n", h, "-s", "link"), sh("ip", "-n", `cnm-proto${i}-c-c0`, "-s", "link"), sh("ip", "-n", `cnm-proto${i}-c-c2`, "-s", "link"))
    console.log(sh("ip", "-n", `cnm-proto${i}-c-c0`, "neigh"), sh("ip", "-n", `cnm-proto${i}-c-c2`, "neigh"), sh("bridge", "-n", h, "fdb"))
    console.log(sh("ip", "netns", "exec", `cnm-proto${i}-c-c2`, "nstat", "-az"))
  }
  for (const ns of await Effect.runPromise(kernel.namespaces())) await Effect.runPromise(kernel.apply([{ op: "nsDel", ns }]))
  if (fails) break
}
await Effect.runPromise(kernel.close())
console.log("fails", fails, "of", n)
