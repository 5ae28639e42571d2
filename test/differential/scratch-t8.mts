import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { Lab } from "../../controller/Lab.ts"
const kernel = await makeLinuxKernel({ timeoutMs: 100 })
const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["host1"], runId: `proto8` }))
await Effect.runPromise(lab.createNetwork({ name: "n1", internal: false, options: {} } as any))
for (const c of ["c0", "c1", "c2", "c3"]) await Effect.runPromise(lab.createContainer({ name: c, networks: [{ network: "n1" }] } as any))
const nss = await Effect.runPromise(kernel.namespaces())
let t = performance.now()
for (let i = 0; i < 10; i++) for (const ns of nss) await Effect.runPromise(kernel.read(ns))
console.log("sequential read of", nss.length, "ns:", ((performance.now() - t) / 10).toFixed(1), "ms")
t = performance.now()
for (let i = 0; i < 10; i++) await Promise.all(nss.map(ns => Effect.runPromise(kernel.read(ns))))
console.log("parallel:", ((performance.now() - t) / 10).toFixed(1), "ms")
t = performance.now()
for (let i = 0; i < 10; i++) { await Effect.runPromise(lab.createContainer({ name: "xx", networks: [{ network: "n1" }] } as any)); await Effect.runPromise(lab.removeContainer("xx")) }
console.log("create+remove container:", ((performance.now() - t) / 10).toFixed(1), "ms")
t = performance.now()
for (let i = 0; i < 5; i++) { await Effect.runPromise(lab.createNetwork({ name: "xx", internal: false, options: {} } as any)); await Effect.runPromise(lab.removeNetwork("xx")) }
console.log("create+remove network:", ((performance.now() - t) / 5).toFixed(1), "ms")
t = performance.now()
for (let i = 0; i < 5; i++) { await Effect.runPromise(lab.connect("c0", { network: "bridge" } as any)); await Effect.runPromise(lab.disconnect("c0", "bridge")) }
console.log("connect+disconnect:", ((performance.now() - t) / 5).toFixed(1), "ms")
t = performance.now()
const k2 = await makeLinuxKernel({ timeoutMs: 100 })
console.log("makeLinuxKernel:", (performance.now() - t).toFixed(1), "ms")
await Effect.runPromise(k2.close())
await Effect.runPromise(kernel.close())
