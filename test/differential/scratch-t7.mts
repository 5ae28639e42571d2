import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { addon } from "../../backends/linux/addon.ts"
import { NetlinkChannel } from "../../backends/linux/netlink/channel.ts"
import { ifinfomsg, parseIfinfomsg, readString, readU8 } from "../../backends/linux/netlink/wire.ts"
import { Lab } from "../../controller/Lab.ts"
const states = (ns: string) => {
  const ch = new NetlinkChannel(addon(), `/run/netns/${ns}`)
  try {
    return ch.dump(18, [ifinfomsg()]).filter(m => m.type === 16).map(m => { const l = parseIfinfomsg(m.payload); return `${readString(l.attrs.get(3))}:${(l.flags & 0x10041).toString(16)}/${readU8(l.attrs.get(16))}` })
  } finally { ch.close() }
}
const kernel = await makeLinuxKernel({ timeoutMs: 100 })
const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["host1"], runId: `proto1` }))
await Effect.runPromise(lab.createNetwork({ name: "n1", internal: false, options: {} } as any))
await Effect.runPromise(lab.createContainer({ name: "c0", networks: [{ network: "n1" }] } as any))
const t = performance.now()
let last = ""
while (performance.now() - t < 1500) {
  const s = (await Effect.runPromise(kernel.namespaces())).map(ns => ns.replace("cnm-proto1-", "") + "[" + states(ns).join(" ") + "]").join(" ")
  if (s !== last) { console.log(Math.round(performance.now() - t), s); last = s }
  await new Promise(r => setTimeout(r, 5))
}
await Effect.runPromise(kernel.close())
