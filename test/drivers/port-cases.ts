import { expect, it } from "vitest"
import type { ConnectResult } from "../../backends/kernel-types.ts"
import { bridgeDriver } from "../../drivers/bridge/driver.ts"
import { dockerProxies } from "../../drivers/bridge/proxies.ts"
import type { HostContext, PublishedPort } from "../../drivers/Driver.ts"
import type { Harness } from "../conformance/harness.ts"
import { hostAddress, makeWorld, member, networkOf, run } from "./world.ts"

/**
 * The bridge driver's published ports (Docker 20.10's nat DOCKER chain, the FORWARD accept per
 * port, the masquerade), driven without a controller: host h1 is the Docker host, h2 on the same
 * underlay stands for the outside. Connections are real on linux.
 */
export const portCases = (h: () => Harness, tally: { connections: number }): void => {
  const DOCKER_HOST = hostAddress(0)
  const OUTSIDE = hostAddress(1)
  const web = networkOf("web-net", "bridge", "172.20.0.0/16", "172.20.0.1")
  const WEB = "172.20.0.2"
  const PORTS: ReadonlyArray<PublishedPort> = [
    { network: web.name, hostIp: "0.0.0.0", hostPort: 8080, proto: "tcp", containerAddress: WEB, containerPort: 80 },
    { network: web.name, hostIp: "0.0.0.0", hostPort: 5353, proto: "udp", containerAddress: WEB, containerPort: 53 },
    { network: web.name, hostIp: DOCKER_HOST, hostPort: 8081, proto: "tcp", containerAddress: WEB, containerPort: 80 },
  ]

  const connect = async (from: string, address: string, port: number, proto: "tcp" | "udp" = "tcp"): Promise<ConnectResult> => {
    tally.connections++
    return h().connect({ from, address, port, proto })
  }
  const answer = (answeredBy: string, seenFrom: string) => ({ outcome: "answer", answeredBy, seenFrom })

  /** the Docker host with web-net, its container `web` (serving 80/tcp and 53/udp) and the outside's own server */
  const published = async () => {
    const world = await makeWorld(h(), 2)
    const [base, outside] = world.hosts as [HostContext, HostContext]
    const host: HostContext = { ...base, networks: [web], published: PORTS }
    // the controller's part on a Docker host
    await h().apply({ op: "sysctlSet", ns: host.ns, key: "net.ipv4.ip_forward", value: "1" })
    await run(world, bridgeDriver.createNetwork(web, host))
    const container = await member(world, bridgeDriver, web, host, "web", WEB)
    await h().listen({ ns: container.ns, port: 80, proto: "tcp", answer: "web" })
    await h().listen({ ns: container.ns, port: 53, proto: "udp", answer: "web" })
    await h().listen({ ns: outside.ns, port: 80, proto: "tcp", answer: "outside" })
    return { world, host, outside, container }
  }

  it("a published port answers from outside with the client's own source, from the host itself through OUTPUT, and only where it is bound", async () => {
    const { host, outside, container } = await published()
    expect(await connect(outside.ns, DOCKER_HOST, 8080)).toMatchObject(answer("web", OUTSIDE))
    expect(await connect(outside.ns, DOCKER_HOST, 5353, "udp")).toMatchObject(answer("web", OUTSIDE))
    expect(await connect(outside.ns, DOCKER_HOST, 8081)).toMatchObject(answer("web", OUTSIDE))
    expect(await connect(host.ns, DOCKER_HOST, 8080)).toMatchObject(answer("web", DOCKER_HOST))
    // bound to the host's address, 8081 is not published on the bridge's own address
    expect((await connect(host.ns, web.gateway as string, 8081)).outcome).toBe("refused")
    // nothing published on 9999: the host itself resets it
    expect((await connect(outside.ns, DOCKER_HOST, 9999)).outcome).toBe("refused")
    // and the container reaches the outside masqueraded to the host's address
    expect(await connect(container.ns, OUTSIDE, 80)).toMatchObject(answer("outside", DOCKER_HOST))
  })

  it("from a container on the bridge and the host's loopback the published port is docker-proxy's: the target sees the gateway; UDP gets no answer back", async () => {
    const { world, host, outside } = await published()
    const client = await member(world, bridgeDriver, web, { ...host, published: PORTS }, "client", "172.20.0.3")
    // no DNAT from the bridge, and no proxy yet: the host's own stack refuses
    expect((await connect(client.ns, DOCKER_HOST, 8080)).outcome).toBe("refused")
    // the controller starts docker-proxy for each published port, as dockerd does
    for (const spec of dockerProxies(host.ns, PORTS)) await h().proxy(spec)
    expect(await connect(client.ns, DOCKER_HOST, 8080)).toMatchObject(answer("web", web.gateway as string))
    // the host's loopback is the proxy's too (OUTPUT does not DNAT 127/8)
    expect(await connect(host.ns, "127.0.0.1", 8080)).toMatchObject(answer("web", web.gateway as string))
    // a UDP answer goes back from the address routing picks (the gateway), not the one asked: none taken
    expect((await connect(client.ns, DOCKER_HOST, 5353, "udp")).outcome).toBe("timeout")
    // from outside the DNAT still comes first: the proxy never sees it
    expect(await connect(outside.ns, DOCKER_HOST, 8080)).toMatchObject(answer("web", OUTSIDE))
  })

  it("a leave recomputes the rules without the leaving endpoint's ports", async () => {
    const { world, host, outside, container } = await published()
    const withoutWeb: HostContext = { ...host, published: [] }
    await run(world, bridgeDriver.leave(web, container.endpoint, withoutWeb, { sandboxNs: container.ns, hostIf: container.hostIf }))
    const tables = (await h().read(host.ns)).firewall
    expect(tables.flatMap((t) => t.chains.map((c) => c.name))).not.toContain("docker-nat")
    expect((await connect(outside.ns, DOCKER_HOST, 8080)).outcome).toBe("refused")
  })
}
