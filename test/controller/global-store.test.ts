/**
 * The global-scope store (in memory) and the peer events a lab drives through it: versions,
 * watches by prefix with replay, and a refused change across hosts leaving the store, every
 * host's programmed peers and the kernel as they were.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { type StoreEvent, MemoryStore } from "../../controller/global-store.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"

const kinds = (events: ReadonlyArray<StoreEvent<string>>) => events.map((e) => `${e.kind} ${e.key} @${e.version}`)

describe("MemoryStore", () => {
  it("numbers every change, lists by prefix, and replays a watch from a version before going live", () => {
    const store = new MemoryStore<string>()
    expect(store.version()).toBe(0)
    expect(store.apply([{ kind: "put", key: "network/a/peer/1", value: "x" }, { kind: "put", key: "network/b/peer/1", value: "y" }])).toBe(2)
    expect(store.apply([{ kind: "delete", key: "network/zzz" }])).toBe(2) // deleting nothing is no change
    expect(store.list("network/a/").map((e) => [e.key, e.value, e.version])).toEqual([["network/a/peer/1", "x", 1]])
    const seen: Array<StoreEvent<string>> = []
    const stop = store.watch("network/b/", 0, (event) => seen.push(event))
    expect(kinds(seen)).toEqual(["put network/b/peer/1 @2"])
    store.apply([{ kind: "put", key: "network/b/peer/1", value: "y2" }, { kind: "put", key: "network/a/peer/2", value: "z" }])
    store.apply([{ kind: "delete", key: "network/b/peer/1" }])
    expect(kinds(seen)).toEqual(["put network/b/peer/1 @2", "put network/b/peer/1 @3", "delete network/b/peer/1 @5"])
    expect(seen.at(-1)).toMatchObject({ kind: "delete", previous: "y2" })
    stop()
    store.apply([{ kind: "put", key: "network/b/peer/9", value: "w" }])
    expect(seen).toHaveLength(3)
    expect(store.get("network/b/peer/9")?.version).toBe(6)
  })
})

describe("peer events through the store", () => {
  it("hold exactly the model's endpoints of swarm networks, and a refused change restores store, peers and kernel", async () => {
    const kernel = makeSimKernel()
    const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["h1", "h2", "h3"], swarm: true, runId: "st" }))
    await Effect.runPromise(lab.createNetwork({ name: "ov", driver: "overlay" }))
    await Effect.runPromise(lab.createContainer({ name: "c1", host: "h1", networks: [{ network: "ov" }] }))
    const published = () => lab.store.list("network/").map((e) => `${e.value.network} ${e.value.address} ${e.value.sandbox}@${e.value.host}`)
    const everyEndpoint = () =>
      ["ingress", "ov"].flatMap((network) =>
        lab.state.hosts.flatMap((host) =>
          (model.systemSandboxes(lab.state, host.name) as ReadonlyArray<{ name: string; endpoints: ReadonlyArray<model.Endpoint> }>)
            .flatMap((s) => s.endpoints.filter((e) => e.network === network).map((e) => `${network} ${model.stripPrefix(e.address as string)} ${s.name}@${host.name}`))
            .concat(
              lab.endpoints()
                .filter((e) => e.network === network && e.host === host.name)
                .map((e) => `${network} ${model.stripPrefix(e.address as string)} ${e.container}@${host.name}`),
            ),
        ),
      )
    expect(published().sort()).toEqual(everyEndpoint().sort())
    expect(published()).toHaveLength(3 + 2) // three ingress sandboxes; c1 and h1's load balancer on ov

    // c2's join on h2 is refused by the kernel (its host-side veth name is taken behind the controller's back)
    const h2 = lab.controllers[1] as (typeof lab.controllers)[number]
    const overlayNamespaces = (await Effect.runPromise(kernel.namespaces())).filter((ns) => ns.startsWith(`${h2.hostNs}-ov-`))
    expect(overlayNamespaces).toHaveLength(2) // ingress and ov
    for (const ns of overlayNamespaces) kernel.applySync?.([{ op: "linkAdd", ns, link: { kind: "dummy", name: "vethc2" } }])
    const version = lab.store.version()
    const before = { published: published(), h1: lab.peersOf("h1", "ov"), h3: lab.peersOf("h3", "ov"), state: lab.state }
    const snapshot = async () => Effect.runPromise(Effect.forEach(await Effect.runPromise(kernel.namespaces()), (ns) => kernel.read(ns)))
    const kernelBefore = await snapshot()
    const refused = await Effect.runPromise(Effect.flip(lab.createContainer({ name: "c2", host: "h2", networks: [{ network: "ov" }] })))
    expect(refused.code).toBe("KernelError")
    expect(refused.message).toMatch(/^overlay.veth: /)
    expect(published()).toEqual(before.published)
    expect(lab.peersOf("h1", "ov")).toEqual(before.h1)
    expect(lab.peersOf("h3", "ov")).toEqual(before.h3)
    expect(lab.state).toBe(before.state)
    expect(lab.store.version()).toBeGreaterThan(version) // undone by new versions, as etcd would
    expect(await snapshot()).toEqual(kernelBefore)
    await Effect.runPromise(lab.close())
  })
})
