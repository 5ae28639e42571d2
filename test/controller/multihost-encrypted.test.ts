/**
 * Encrypted overlay networks (`-o encrypted`) across swarm hosts, Docker 20.10's way: IPsec ESP in
 * transport mode between each pair of hosts holding endpoints of an encrypted network, a mark on
 * that network's VXLAN datagrams that sends them through it. On the simulator (which carries ESP
 * on the underlay) reach works and a removed state or a wrong key is named by the probe; on a
 * kernel without ESP (this machine's, and the simulator told so) containers attach as Docker lets
 * them and the probe and the lab say why nothing crosses.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import type { NsState } from "../../backends/kernel-types.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import { spiOf } from "../../drivers/overlay/encryption.ts"
import * as model from "../../model/index.ts"
import { onBothBackends, run, runId } from "./lab-support.ts"

const addressOf = (lab: Lab, container: string, network: string): string =>
  model.stripPrefix(lab.endpoints().find((e) => e.container === container && e.network === network)?.address as string)

const hostNs = (lab: Lab, host: string): string => lab.controllers.find((c) => c.host === host)?.hostNs as string
const underlay = (lab: Lab, host: string): string => lab.hostAddresses().find((h) => h.name === host)?.address as string
const readHost = (lab: Lab, host: string): Promise<NsState> => run(lab.kernel.read(hostNs(lab, host)))

const withLab = async (kernel: KernelShape, body: (lab: Lab) => Promise<void>) => {
  const lab = await run(Lab.make(kernel, { hosts: ["h1", "h2", "h3"], swarm: true, runId: runId("me"), keySeed: "encrypted-test" }))
  try {
    await body(lab)
  } finally {
    await run(lab.close())
  }
}

/** what h1 should hold towards h2: inbound states for the three keys, one outbound (primary key), one out policy */
const expectSecuredTowards = async (lab: Lab, host: string, remote: string) => {
  const state = await readHost(lab, host)
  const local = underlay(lab, host)
  const far = underlay(lab, remote)
  const keys = lab.swarmKeys()
  const inbound = state.xfrmStates.filter((s) => s.src === far && s.dst === local).map((s) => s.spi)
  const outbound = state.xfrmStates.filter((s) => s.src === local && s.dst === far).map((s) => s.spi)
  expect(inbound.sort()).toEqual(keys.keys.map((k) => spiOf(far, local, k.tag)).sort())
  expect(outbound).toEqual([spiOf(local, far, (keys.keys[keys.primary] as { tag: number }).tag)])
  expect(state.xfrmPolicies.filter((p) => p.template.dst === far).map((p) => `${p.dir} ${p.selector.src} ${p.selector.dst} ${p.selector.proto} ${p.selector.dport}`)).toEqual([
    `out ${local}/32 ${far}/32 udp 4789`,
  ])
}

const cases = (makeKernel: () => Promise<KernelShape>) => {
  it("an encrypted overlay: containers attach on every host; reach crosses hosts where the kernel has ESP, and the probe names what is missing where it has not", async () => {
    await withLab(await makeKernel(), async (lab) => {
      const network = await run(lab.createNetwork({ name: "sec", driver: "overlay", options: { encrypted: "" } }))
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "sec" }] }))
      await run(lab.createContainer({ name: "c2", host: "h2", networks: [{ network: "sec" }] }))
      const vni = model.overlayInfo(lab.state, "sec")?.vni as number
      expect(model.overlayInfo(lab.state, network.name)?.mtu).toBe(1424)
      // the mark and input rules of the network's VNI, on both hosts, whatever the kernel
      for (const host of ["h1", "h2"]) {
        expect((await readHost(lab, host)).firewall.map((t) => t.name)).toContain(`overlay-esp-${vni}`)
      }
      const there = await run(lab.probe("c1", addressOf(lab, "c2", "sec")))
      if (lab.kernel.capabilities.esp) {
        expect(there.reachable, there.detail).toBe(true)
        expect((await run(lab.probe("c2", addressOf(lab, "c1", "sec")))).reachable).toBe(true)
        await expectSecuredTowards(lab, "h1", "h2")
        await expectSecuredTowards(lab, "h2", "h1")
        // h3 holds no endpoint of the network: nobody talks encrypted with it
        expect((await readHost(lab, "h3")).xfrmStates).toEqual([])
        expect((await readHost(lab, "h1")).xfrmStates.some((s) => s.src === underlay(lab, "h3"))).toBe(false)
      } else {
        expect(there.reachable).toBe(false)
        expect(there.detail).toMatch(/network sec is encrypted: .*IPsec ESP.*capability esp off/)
        expect((await readHost(lab, "h1")).xfrmStates).toEqual([])
        expect((await readHost(lab, "h1")).xfrmPolicies).toEqual([])
      }
      console.log(`encrypted overlay on ${lab.kernel.backend} (esp ${lab.kernel.capabilities.esp}): c1 -> c2 ${there.reachable ? "reached" : `lost: ${there.detail}`}`)

      // the last endpoint between the two hosts goes: so do the states and the policy
      await run(lab.removeContainer("c2"))
      expect((await readHost(lab, "h1")).xfrmStates).toEqual([])
      expect((await readHost(lab, "h1")).xfrmPolicies).toEqual([])
      expect((await readHost(lab, "h2")).xfrmStates).toEqual([])
      await run(lab.removeContainer("c1"))
      await run(lab.removeNetwork("sec"))
      expect((await readHost(lab, "h1")).firewall.map((t) => t.name)).not.toContain(`overlay-esp-${vni}`)
    })
  })

  it("a plain overlay next to an encrypted one keeps crossing in clear, with no IPsec at all", async () => {
    await withLab(await makeKernel(), async (lab) => {
      await run(lab.createNetwork({ name: "plain", driver: "overlay" }))
      await run(lab.createNetwork({ name: "sec", driver: "overlay", options: { encrypted: "" } }))
      await run(lab.createContainer({ name: "p1", host: "h1", networks: [{ network: "plain" }] }))
      await run(lab.createContainer({ name: "p2", host: "h2", networks: [{ network: "plain" }] }))
      expect((await run(lab.probe("p1", addressOf(lab, "p2", "plain")))).reachable).toBe(true)
      expect((await readHost(lab, "h1")).xfrmStates).toEqual([])
    })
  })
}

onBothBackends("swarm lab, encrypted overlay", cases)

describe("swarm lab, encrypted overlay, on the simulator without ESP (as this machine's kernel)", () => {
  cases(async () => makeSimKernel({ capabilities: { esp: false } }))
})

describe("swarm lab, encrypted overlay, on the simulator: IPsec faults named by the probe trace", () => {
  const probeTrace = async (lab: Lab, from: string, to: string) => run(lab.probe(from, addressOf(lab, to, "sec"), true))

  it("a removed inbound state is 'no xfrm state for SPI', a state with another key is a key mismatch; both in the trace, at the receiving host", async () => {
    await withLab(makeSimKernel(), async (lab) => {
      await run(lab.createNetwork({ name: "sec", driver: "overlay", options: { encrypted: "" } }))
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "sec" }] }))
      await run(lab.createContainer({ name: "c2", host: "h2", networks: [{ network: "sec" }] }))
      expect((await probeTrace(lab, "c1", "c2")).reachable).toBe(true)
      const h1 = underlay(lab, "h1")
      const h2 = underlay(lab, "h2")
      const keys = lab.swarmKeys()
      const spi = spiOf(h1, h2, (keys.keys[keys.primary] as { tag: number }).tag)
      const inbound = (await readHost(lab, "h2")).xfrmStates.find((s) => s.spi === spi)
      expect(inbound).toBeDefined()
      await run(lab.kernel.apply([{ op: "xfrmStateDel", ns: hostNs(lab, "h2"), dst: h2, spi }]))
      const missing = await probeTrace(lab, "c1", "c2")
      expect([missing.reachable, missing.reason]).toEqual([false, "ipsec"])
      const hex = `0x${spi.toString(16).padStart(8, "0")}`
      expect(missing.detail).toContain(`no xfrm state for SPI ${hex}`)
      expect(missing.trace?.some((hop) => hop.ns === hostNs(lab, "h2") && hop.event.includes(`no xfrm state for SPI ${hex}`))).toBe(true)
      // the other direction is untouched
      expect(missing.trace?.some((hop) => hop.event.startsWith("esp seal"))).toBe(true)

      const wrongKey = { ...(inbound as NonNullable<typeof inbound>), aead: { ...(inbound as NonNullable<typeof inbound>).aead, key: "ff".repeat(20) } }
      await run(lab.kernel.apply([{ op: "xfrmStateAdd", ns: hostNs(lab, "h2"), state: wrongKey }]))
      const mismatch = await probeTrace(lab, "c1", "c2")
      expect([mismatch.reachable, mismatch.reason]).toEqual([false, "ipsec"])
      expect(mismatch.detail).toContain("key mismatch")
      console.log(`encrypted overlay faults on sim: ${missing.detail} | ${mismatch.detail}`)
    })
  })

  it("a key rotation: the oldest key's states go, the new key's come, the new primary seals; traffic goes on crossing", async () => {
    await withLab(makeSimKernel(), async (lab) => {
      await run(lab.createNetwork({ name: "sec", driver: "overlay", options: { encrypted: "" } }))
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "sec" }] }))
      await run(lab.createContainer({ name: "c2", host: "h2", networks: [{ network: "sec" }] }))
      const before = lab.swarmKeys()
      const after = await run(lab.rotateKeys())
      expect(after.keys.map((k) => k.tag)).toEqual([...before.keys.slice(1).map((k) => k.tag), (before.keys.at(-1)?.tag ?? 0) + 1])
      expect(lab.swarmKeys()).toEqual(after)
      await expectSecuredTowards(lab, "h1", "h2")
      await expectSecuredTowards(lab, "h2", "h1")
      const oldest = spiOf(underlay(lab, "h2"), underlay(lab, "h1"), (before.keys[0] as { tag: number }).tag)
      expect((await readHost(lab, "h1")).xfrmStates.some((s) => s.spi === oldest)).toBe(false)
      expect((await run(lab.probe("c1", addressOf(lab, "c2", "sec")))).reachable).toBe(true)
      expect((await run(lab.probe("c2", addressOf(lab, "c1", "sec")))).reachable).toBe(true)
      // h3 shares no encrypted network: it has nothing to rotate
      expect((await readHost(lab, "h3")).xfrmStates).toEqual([])
    })
  })

  it("two encrypted networks between the same hosts share one set of states, kept until the last endpoint of either goes", async () => {
    await withLab(makeSimKernel(), async (lab) => {
      await run(lab.createNetwork({ name: "sec", driver: "overlay", options: { encrypted: "" } }))
      await run(lab.createNetwork({ name: "sec2", driver: "overlay", options: { encrypted: "" } }))
      await run(lab.createContainer({ name: "a1", host: "h1", networks: [{ network: "sec" }, { network: "sec2" }] }))
      await run(lab.createContainer({ name: "a2", host: "h2", networks: [{ network: "sec" }] }))
      await run(lab.createContainer({ name: "b2", host: "h2", networks: [{ network: "sec2" }] }))
      await expectSecuredTowards(lab, "h1", "h2")
      await run(lab.removeContainer("a2"))
      await expectSecuredTowards(lab, "h1", "h2")
      expect((await run(lab.probe("a1", addressOf(lab, "b2", "sec2")))).reachable).toBe(true)
      await run(lab.removeContainer("b2"))
      expect((await readHost(lab, "h1")).xfrmStates).toEqual([])
    })
  })

  it("the hosts hold what the swarm's keys make: another key seed, other keys under the same SPIs (made from addresses and key tags)", async () => {
    const states = async (seed: string): Promise<ReadonlyArray<string>> => {
      const lab = await run(Lab.make(makeSimKernel(), { hosts: ["h1", "h2"], swarm: true, runId: runId("mk"), keySeed: seed }))
      try {
        await run(lab.createNetwork({ name: "sec", driver: "overlay", options: { encrypted: "" } }))
        await run(Effect.all([lab.createContainer({ name: "k1", host: "h1", networks: [{ network: "sec" }] }), lab.createContainer({ name: "k2", host: "h2", networks: [{ network: "sec" }] })]))
        return (await readHost(lab, "h1")).xfrmStates.map((s) => `${s.spi} ${s.aead.key}`)
      } finally {
        await run(lab.close())
      }
    }
    const spiOfEntry = (entry: string) => entry.split(" ")[0]
    const [a, again, b] = [await states("one"), await states("one"), await states("two")]
    expect(a).toHaveLength(4)
    expect(again).toEqual(a)
    expect(b.map(spiOfEntry)).toEqual(a.map(spiOfEntry))
    expect(b.filter((entry) => a.includes(entry))).toEqual([])
  })
})
