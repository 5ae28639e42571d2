import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { addon } from "../../backends/linux/addon.ts"
import { NetlinkChannel } from "../../backends/linux/netlink/channel.ts"
import { ifinfomsg, parseIfinfomsg, readString, readU8 } from "../../backends/linux/netlink/wire.ts"
import { Lab } from "../../controller/Lab.ts"
const n = Number(process.argv[2] ?? 20)
const wait = process.argv[3] === "wait"
const operstates = (ns: string) => {
  const ch = new NetlinkChannel(addon(), `/run/netns/${ns}`)
  try {
    return ch.dump(18, [ifinfomsg()]).filter(m => m.type === 16).map(m => { const l = parseIfinfomsg(m.payload); return { name: readString(l.attrs.get(3)), flags: l.flags, oper: readU8(l.attrs.get(16)) } })
  } finally { ch.close() }
}
let fails = 0
const kernel = await makeLinuxKernel({ timeoutMs: 100 })
for (let i = 0; i < n; i++) {
  const h = `cnm-proto${i}-host1`
  const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["host1"], runId: `proto${i}` }))
  await Effect.runPromise(lab.createContainer({ name: "c0", networks: [{network: "bridge"}] } as any))
  const p0 = await Effect.runPromise(lab.probe("c0", "172.17.0.1"))
  await Effect.runPromise(lab.createContainer({ name: "c2", networks: [{ network: "bridge" }] } as any))
  const snap = operstates(h).filter(l => l.name?.startsWith("veth")).map(l => `${l.name} flags=${l.flags.toString(16)} oper=${l.oper}`).join(" ")
  let waited = 0
  if (wait) { const t = performance.now(); while (operstates(h).some(l => l.name?.startsWith("veth") && (l.flags & 0x10001) === 0x10001 && l.oper !== 6)) await new Promise(r => setTimeout(r, 2)); waited = performance.now() - t }
  const p = await Effect.runPromise(lab.probe("c0", "172.17.0.3"))
  if (!p.reachable) fails++
  console.log(p.reachable ? "ok  " : "FAIL", snap, wait ? `waited ${waited.toFixed(1)}` : "")
  await Effect.runPromise(kernel.apply((await Effect.runPromise(kernel.namespaces())).map(ns => ({ op: "nsDel", ns } as const))))
}
await Effect.runPromise(kernel.close())
console.log("fails", fails, "of", n)
