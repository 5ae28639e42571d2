import { Effect } from "effect"
import { makeSimKernel } from "../backends/sim/layer.ts"
const k = makeSimKernel()
const ops: any[] = [
 { op: "nsAdd", ns: "u" }, { op: "linkAdd", ns: "u", link: { kind: "bridge", name: "ul0", up: true } },
]
for (const [i, n] of ["h1", "h2"].entries()) ops.push({ op: "nsAdd", ns: n }, { op: "linkSet", ns: n, name: "lo", up: true },
 { op: "linkAdd", ns: "u", link: { kind: "veth", name: `ul-${i}`, master: "ul0", up: true, peer: { name: "eth0", ns: n } } },
 { op: "addrAdd", ns: n, dev: "eth0", cidr: `198.18.0.${i + 1}/24` }, { op: "linkSet", ns: n, name: "eth0", up: true })
ops.push({ op: "nsAdd", ns: "c" }, { op: "linkSet", ns: "c", name: "lo", up: true },
 { op: "linkAdd", ns: "h1", link: { kind: "ipvlan", name: "eth0", parent: "eth0", mode: "l3", targetNs: "c" } },
 { op: "addrAdd", ns: "c", dev: "eth0", cidr: "10.12.0.11/24" }, { op: "linkSet", ns: "c", name: "eth0", up: true },
 { op: "routeAdd", ns: "c", route: { dst: "default", dev: "eth0", scope: "link" } },
 { op: "routeAdd", ns: "h2", route: { dst: "10.12.0.0/24", via: "198.18.0.1" } })
k.applySync(ops)
const r = Effect.runSync(k.probe("c", "198.18.0.2", { trace: true }))
console.log(JSON.stringify(r, null, 1))
