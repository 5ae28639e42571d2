/**
 * Swarm labs: overlay networks across hosts, on the simulator and (as root) on the real kernel.
 * Reach and names are measured (probes and DNS queries through the kernel); what each host's
 * overlay driver was told by the global-scope store is compared with the model's overlayPeers.
 */
import { expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { onBothBackends, refusal, run, runId } from "./lab-support.ts"

const addressOf = (lab: Lab, container: string, network: string): string =>
  model.stripPrefix(lab.endpoints().find((e) => e.container === container && e.network === network)?.address as string)

/** every host's programmed peers on the network are the model's overlayPeers for that host */
const expectPeersAsModel = (lab: Lab, network: string) => {
  for (const host of lab.hosts) {
    const programmed = lab.peersOf(host, network).map((p) => `${p.sandbox} ${p.address} ${p.mac} via ${p.vtep}`)
    const predicted = model
      .overlayPeers(lab.state, network, host)
      .map((p) => `${p.sandbox} ${p.address} ${p.mac} via ${p.vtep}`)
      .sort()
    expect(programmed.sort(), `peers programmed on ${host}`).toEqual(predicted)
  }
}

const withLab = async (kernel: KernelShape, options: { hosts: string[]; swarm?: boolean }, body: (lab: Lab) => Promise<void>) => {
  const lab = await run(Lab.make(kernel, { ...options, runId: runId("mo") }))
  try {
    await body(lab)
  } finally {
    await run(lab.close())
  }
}

const cases = (makeKernel: () => Promise<KernelShape>) => {
  it("overlay containers on two hosts reach each other and resolve each other's names; peers come and go with them", async () => {
    await withLab(await makeKernel(), { hosts: ["h1", "h2"], swarm: true }, async (lab) => {
      await run(lab.createNetwork({ name: "ov", driver: "overlay" }))
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "ov" }] }))
      await run(lab.createContainer({ name: "c2", host: "h2", networks: [{ network: "ov", aliases: ["db"] }] }))
      expect(lab.endpoints().map((e) => `${e.container}@${e.host} ${e.network} ${e.address}`)).toEqual([
        "c1@h1 ov 10.0.1.2/24",
        "c2@h2 ov 10.0.1.4/24",
      ])
      expect((await run(lab.probe("c1", addressOf(lab, "c2", "ov")))).reachable).toBe(true)
      expect((await run(lab.probe("c2", addressOf(lab, "c1", "ov")))).reachable).toBe(true)
      expect((await run(lab.resolve("c1", "c2"))).addresses).toEqual(["10.0.1.4"])
      expect((await run(lab.resolve("c1", "db"))).addresses).toEqual(["10.0.1.4"])
      expect((await run(lab.resolve("c2", "c1"))).addresses).toEqual(["10.0.1.2"])
      expectPeersAsModel(lab, "ov")
      expect(lab.peersOf("h1", "ov").map((p) => p.sandbox)).toEqual(["c2", "#lb-ov"])

      await run(lab.disconnect("c2", "ov"))
      expectPeersAsModel(lab, "ov")
      expect(lab.peersOf("h1", "ov")).toEqual([])
      expect((await run(lab.resolve("c1", "c2"))).addresses).toEqual([])
      expect((await run(lab.probe("c1", "10.0.1.4"))).reachable).toBe(false)
    })
  })

  it("gives an overlay container its docker_gwbridge leg (not listed), through which it reaches the other host", async () => {
    await withLab(await makeKernel(), { hosts: ["h1", "h2"], swarm: true }, async (lab) => {
      expect(lab.networkRows().map((r) => `${r.network.name} ${r.scope}${r.host ? ` ${r.host}` : ""}`)).toEqual(
        model.labNetworks(lab.state).map((r) => `${r.network.name} ${r.scope}${r.host ? ` ${r.host}` : ""}`),
      )
      expect(lab.networkRows().filter((r) => r.network.name === "docker_gwbridge").map((r) => r.host)).toEqual(["h1", "h2"])
      expect(lab.networkRows().filter((r) => r.network.name === "ingress").map((r) => r.scope)).toEqual(["swarm"])
      for (const host of ["h1", "h2"]) {
        const sandboxes = lab.systemNamespaces(host).map(([name]) => name)
        expect(sandboxes).toEqual(["#ingress-sbox"])
        const ns = (lab.systemNamespaces(host)[0] as readonly [string, string])[1]
        expect(await run(lab.kernel.namespaces())).toContain(ns)
      }
      await run(lab.createNetwork({ name: "ov", driver: "overlay" }))
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "ov" }] }))
      expect(lab.systemNamespaces("h1").map(([name]) => name)).toEqual(["#ingress-sbox", "#lb-ov"])
      const leg = model.gatewayLegOf(lab.state, "c1") as model.Endpoint
      expect(leg.network).toBe("docker_gwbridge")
      expect(lab.endpoints().map((e) => e.network)).toEqual(["ov"])
      const sandbox = lab.controllerOf("c1")?.sandboxOf("c1") as string
      const addrs = (await run(lab.kernel.read(sandbox))).addrs.map((a) => a.cidr)
      expect(addrs).toContain(leg.address)
      expect((await run(lab.probeHost("c1", "h2"))).reachable).toBe(true)
      // a bridge network gives a way out: the leg goes, in the kernel too
      await run(lab.createNetwork({ name: "front", hosts: ["h1"] }))
      await run(lab.connect("c1", { network: "front" }))
      expect(model.gatewayLegOf(lab.state, "c1")).toBeUndefined()
      expect((await run(lab.kernel.read(sandbox))).addrs.map((a) => a.cidr)).not.toContain(leg.address)
    })
  })

  it("routes by an internal bridge before the gateway leg, as libnetwork's epHeap orders them (the leg last)", async () => {
    await withLab(await makeKernel(), { hosts: ["h1", "h2"], swarm: true }, async (lab) => {
      await run(lab.createNetwork({ name: "inner", internal: true }))
      await run(lab.createNetwork({ name: "ov", driver: "overlay" }))
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "inner" }] }))
      await run(lab.connect("c1", { network: "ov" }))
      // the internal network does not count as a way out, so the leg is made; the default route stays on the internal bridge
      expect(model.gatewayLegOf(lab.state, "c1")?.network).toBe("docker_gwbridge")
      const inner = lab.networkRows().find((r) => r.network.name === "inner" && r.host === "h1")?.network as model.Network
      const sandbox = lab.controllerOf("c1")?.sandboxOf("c1") as string
      const routes = (await run(lab.kernel.read(sandbox))).routes.filter((r) => r.dst === "default").map((r) => r.via)
      expect(routes).toEqual([inner.gateway])
      expect((await run(lab.probeHost("c1", "h2"))).reachable).toBe(false)
      expect(model.predictLabReachHost(lab.state, "c1", "h2")).toBe(false)
    })
  })

  it("asked for docker_gwbridge itself, replaces the gateway leg with a new interface, as the model numbers it", async () => {
    await withLab(await makeKernel(), { hosts: ["h1", "h2"], swarm: true }, async (lab) => {
      await run(lab.createNetwork({ name: "inner", internal: true }))
      await run(lab.createNetwork({ name: "ov", driver: "overlay" }))
      await run(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "inner" }, { network: "ov" }] }))
      const leg = model.gatewayLegOf(lab.state, "c1") as model.Endpoint
      await run(lab.connect("c1", { network: "docker_gwbridge" }))
      const sandbox = lab.controllerOf("c1")?.sandboxOf("c1") as string
      const read = await run(lab.kernel.read(sandbox))
      const listed = model.labEndpointsOf(lab.state, "c1")
      expect(listed.map((e) => e.ifname)).not.toContain(leg.ifname)
      expect(read.links.filter((l) => l.kind !== "loopback").map((l) => l.name).sort()).toEqual(listed.map((e) => e.ifname).sort())
      expect(read.addrs.filter((a) => a.dev !== "lo").map((a) => `${a.dev} ${a.cidr}`).sort()).toEqual(listed.map((e) => `${e.ifname} ${e.address}`).sort())
    })
  })

  it("answers names as Docker does: a swarm network before a local one, nothing from gateway legs", async () => {
    await withLab(await makeKernel(), { hosts: ["h1", "h2"], swarm: true }, async (lab) => {
      await run(lab.createNetwork({ name: "ov", driver: "overlay" }))
      await run(lab.createNetwork({ name: "br", hosts: ["h1"] }))
      await run(lab.createContainer({ name: "c1", host: "h2", networks: [{ network: "ov" }] }))
      await run(lab.createContainer({ name: "c2", host: "h1", networks: [{ network: "br" }, { network: "ov" }] }))
      await run(lab.createContainer({ name: "c3", host: "h1", networks: [{ network: "br" }, { network: "ov" }] }))
      await run(lab.createContainer({ name: "c4", host: "h1", networks: [{ network: "ov" }] }))
      await run(lab.createContainer({ name: "c5", host: "h1", networks: [{ network: "ov" }] }))
      const ov = (name: string) => [addressOf(lab, name, "ov")]
      // Docker 20.10 (test/fixtures/docker-swarm overlay-and-bridge): c3 on br and ov asking for c2 gets c2's ov address
      expect((await run(lab.resolve("c3", "c2"))).addresses).toEqual(ov("c2"))
      expect((await run(lab.resolve("c1", "c2"))).addresses).toEqual(ov("c2"))
      expect((await run(lab.resolve("c2", "c1"))).addresses).toEqual(ov("c1"))
      expect((await run(lab.resolve("c2", "c4"))).addresses).toEqual(ov("c4"))
      // c1, c4 and c5 have gateway legs on docker_gwbridge (c4 and c5 on the same host's): none is a name there
      for (const name of ["c1", "c4", "c5"]) expect(model.gatewayLegOf(lab.state, name)).toBeDefined()
      expect((await run(lab.resolve("c4", "c1"))).addresses).toEqual(ov("c1"))
      expect((await run(lab.resolve("c4", "c5"))).addresses).toEqual(ov("c5"))
    })
  })

  it("refuses to remove an overlay network that a container on another host uses (ActiveEndpoints), and changes nothing", async () => {
    await withLab(await makeKernel(), { hosts: ["h1", "h2", "h3"], swarm: true }, async (lab) => {
      await run(lab.createNetwork({ name: "ov", driver: "overlay" }))
      await run(lab.createContainer({ name: "c3", host: "h3", networks: [{ network: "ov" }] }))
      const namespaces = [...(await run(lab.kernel.namespaces()))].sort()
      const state = lab.state
      expect((await refusal(lab.removeNetwork("ov"))).code).toBe("ActiveEndpoints")
      expect(lab.state).toBe(state)
      expect([...(await run(lab.kernel.namespaces()))].sort()).toEqual(namespaces)
      await run(lab.removeContainer("c3"))
      expectPeersAsModel(lab, "ov")
      await run(lab.removeNetwork("ov"))
      expect(lab.networkRows().some((r) => r.network.name === "ov")).toBe(false)
      const left = await run(lab.kernel.namespaces())
      expect(left.filter((ns) => ns.includes("-ov-") || ns.includes("-lb-ov"))).toHaveLength(lab.hosts.length) // ingress's own
    })
  })

  it("names an encrypted overlay whose data path the kernel cannot build (no ESP) instead of losing its traffic silently", async () => {
    await withLab(await makeKernel(), { hosts: ["h1", "h2"], swarm: true }, async (lab) => {
      await run(lab.createNetwork({ name: "plain", driver: "overlay" }))
      await run(lab.createNetwork({ name: "sec", driver: "overlay", options: { encrypted: "" } }))
      const gaps = lab.dataPathGaps()
      if (lab.kernel.capabilities.esp) expect(gaps).toEqual([])
      else expect(gaps.map((g) => `${g.network} ${g.capability}`)).toEqual(["sec esp"])
    })
  })

  it("refuses an overlay network without swarm (SwarmRequired) before touching any host", async () => {
    await withLab(await makeKernel(), { hosts: ["h1", "h2"] }, async (lab) => {
      const namespaces = [...(await run(lab.kernel.namespaces()))].sort()
      expect((await refusal(lab.createNetwork({ name: "ov", driver: "overlay" }))).code).toBe("SwarmRequired")
      expect([...(await run(lab.kernel.namespaces()))].sort()).toEqual(namespaces)
    })
  })
}

onBothBackends("swarm lab, overlay networks", cases)
