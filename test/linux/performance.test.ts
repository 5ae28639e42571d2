import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { CNMLAB_LINK_GROUP, type KernelOp } from "../../backends/kernel-types.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { needsRoot, nsName, root, run } from "./support.ts"

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const report = (what: string, value: string): void => {
  console.log(`[cnmlab linux perf] ${what}: ${value}`)
}

/**
 * Measured costs of the linux backend on this machine, printed, with bounds loose enough for a
 * loaded CI machine yet far below what the naive ways (an `ip` process per step) would cost.
 */
describe.skipIf(!root)(`linux backend: costs (${needsRoot})`, () => {
  let kernel: KernelShape
  const host = nsName("perf-h")
  beforeAll(async () => {
    kernel = await makeLinuxKernel()
    await run(
      kernel.apply([
        { op: "nsAdd", ns: host },
        { op: "linkAdd", ns: host, link: { kind: "bridge", name: "br0", up: true } },
        { op: "addrAdd", ns: host, dev: "br0", cidr: "10.90.0.1/16" },
      ]),
    )
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  it("creates and deletes 100 namespaces", async () => {
    const names = Array.from({ length: 100 }, (_, i) => nsName(`pn${i}`))
    let started = performance.now()
    await run(kernel.apply(names.map((ns) => ({ op: "nsAdd", ns }) as const)))
    const create = (performance.now() - started) / names.length
    started = performance.now()
    await run(kernel.apply(names.map((ns) => ({ op: "nsDel", ns }) as const)))
    const remove = (performance.now() - started) / names.length
    report("namespace create (incl. ledger, initial sysctls)", `${create.toFixed(3)} ms each`)
    report("namespace delete (incl. socket close, ledger)", `${remove.toFixed(3)} ms each`)
    expect(create).toBeLessThan(10)
    expect(remove).toBeLessThan(10)
  })

  it("attaches 50 containers Docker-style (netns, veth on the bridge, address, up, lo, default route)", async () => {
    const boxes = Array.from({ length: 50 }, (_, i) => nsName(`pa${i}`))
    const costs: number[] = []
    const vethCosts: number[] = []
    for (const [i, ns] of boxes.entries()) {
      const started = performance.now()
      await run(kernel.apply([{ op: "nsAdd", ns }]))
      const vethStarted = performance.now()
      await run(
        kernel.apply([
          { op: "linkAdd", ns: host, link: { kind: "veth", name: `pv${i}`, master: "br0", up: true, group: CNMLAB_LINK_GROUP, peer: { name: "eth0", ns } } },
        ]),
      )
      vethCosts.push(performance.now() - vethStarted)
      await run(
        kernel.apply([
          { op: "addrAdd", ns, dev: "eth0", cidr: `10.90.${1 + Math.floor(i / 200)}.${2 + (i % 200)}/16` },
          { op: "linkSet", ns, name: "eth0", up: true },
          { op: "linkSet", ns, name: "lo", up: true },
          { op: "routeAdd", ns, route: { dst: "default", via: "10.90.0.1" } },
        ]),
      )
      costs.push(performance.now() - started)
    }
    report("veth attach (RTM_NEWLINK: master + up + peer into the container)", `median ${median(vethCosts).toFixed(3)} ms`)
    report("whole container attach (7 kernel steps)", `median ${median(costs).toFixed(3)} ms`)
    expect(median(costs)).toBeLessThan(20)

    // probe latency: answered echoes, one at a time, then a 20 x 20 matrix at once
    const [a, b] = boxes as [string, string]
    await run(kernel.probe(a, "10.90.1.3"))
    const latencies: number[] = []
    for (let i = 0; i < 50; i++) {
      const started = performance.now()
      const result = await run(kernel.probe(a, "10.90.1.3"))
      latencies.push(performance.now() - started)
      expect(result.reachable).toBe(true)
    }
    report("probe, answered (socket in ns + echo + reply)", `median ${median(latencies).toFixed(3)} ms`)
    expect(b).toBeDefined()

    const matrix = boxes.slice(0, 20)
    const addressOf = (ns: string): string => `10.90.1.${2 + boxes.indexOf(ns)}`
    const started = performance.now()
    const results = await Promise.all(
      matrix.flatMap((from) => matrix.filter((to) => to !== from).map((to) => run(kernel.probe(from, addressOf(to))))),
    )
    const matrixMs = performance.now() - started
    report("20 x 20 reach matrix (380 probes at once, all answered)", `${matrixMs.toFixed(1)} ms`)
    expect(results.every((r) => r.reachable)).toBe(true)
    expect(matrixMs).toBeLessThan(5000)

    // teardown: one group delete for all host-side veths, then the namespaces
    let teardown = performance.now()
    await run(kernel.apply([{ op: "linkDelGroup", ns: host, group: CNMLAB_LINK_GROUP }]))
    const groupMs = performance.now() - teardown
    teardown = performance.now()
    await run(kernel.apply(boxes.map((ns) => ({ op: "nsDel", ns }) as KernelOp)))
    report("delete 50 veths in one RTM_DELLINK (IFLA_GROUP)", `${groupMs.toFixed(1)} ms (incl. the bridge: same group)`)
    report("delete 50 container namespaces", `${(performance.now() - teardown).toFixed(1)} ms`)
  })
})
