/**
 * Swarm services in the lab model: VIPs per network (unique, taken before the replicas'
 * addresses), replicas on their placed hosts, DNS for `svc` and `tasks.svc`, connections through
 * a VIP and the routing mesh, scaling and removal, and the refusals that change nothing.
 */
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { type LabStep, addressOf, balancerOf, container, labOf, labSnapshot, mustDo, network, refusedWith, swarmOf } from "./lab-support.ts"

const service =
  (request: Partial<Model.ServiceRequest> & { name: string }): LabStep =>
  (lab) =>
    Model.createLabService(lab, { networks: ["ov"], placement: ["host1", "host2", "host2"], listen: ["80/tcp"], ...request })

const holds = (lab: Model.LabState): Model.LabState => {
  expect(Model.checkLabInvariants(lab)).toEqual([])
  return lab
}

const ask = (lab: Model.LabState, from: string, to: Model.ConnectTarget, port = 80, proto: "tcp" | "udp" = "tcp") =>
  Model.predictConnect(lab, "203.0.113.1/24", { from, to, port, proto })

const lab = holds(
  swarmOf(
    2,
    network({ name: "ov", driver: "overlay", subnet: "10.30.0.0/24" }),
    network({ name: "ov2", driver: "overlay", subnet: "10.31.0.0/24" }),
    container("c1", "host1", "ov"),
    service({ name: "api", ports: ["9090:80"] }),
    service({ name: "db", networks: ["ov", "ov2"], placement: ["host2"], endpointMode: "dnsrr" }),
  ),
)

describe("services", () => {
  it("a VIP per network, taken before the replicas' addresses, unique in its network", () => {
    const api = Model.labServices(lab).find((entry) => entry.name === "api") as Model.ServiceRecord
    expect(api.vips.ov).toBe("10.30.0.4")
    expect(["api.1", "api.2", "api.3"].map((name) => addressOf(lab, name, "ov"))).toEqual(["10.30.0.5", "10.30.0.6", "10.30.0.7"])
    expect(Object.keys(api.vips)).toEqual(["ov", "ingress"])
    expect(Model.labServices(lab).find((entry) => entry.name === "db")?.vips).toEqual({})
  })

  it("DNS: the VIP for a vip service, every replica for dnsrr and for tasks.", () => {
    expect(Model.predictServiceResolve(lab, "c1", "api")).toEqual(["10.30.0.4"])
    expect(Model.predictServiceResolve(lab, "c1", "tasks.api")).toEqual(["10.30.0.5", "10.30.0.6", "10.30.0.7"])
    expect(Model.predictServiceResolve(lab, "c1", "db")).toEqual([addressOf(lab, "db.1", "ov")])
  })

  it("a task's replica name is no DNS name: Docker's task container is `api.1.<task id>` (swarm-service-lifecycle-names)", () => {
    expect(Model.predictServiceResolve(lab, "c1", "api.1")).toEqual([])
    expect(Model.predictLabResolve(lab, "c1", "db.1")).toEqual([])
    // a connect row to the replica still means its address
    expect(ask(lab, "c1", { kind: "name", name: "db.1" }).address).toBe(addressOf(lab, "db.1", "ov"))
  })

  it("a host without an outside machine has no default route: to a container's overlay address, unreachable (swarm-dnsrr-clients-each-host)", () => {
    const question = { from: "host1", to: { kind: "address", address: addressOf(lab, "c1", "ov") as string }, port: 80, proto: "tcp" } as const
    expect(Model.predictConnect(lab, undefined, question).outcome).toBe("unreachable")
    expect(Model.predictConnect(lab, undefined, { ...question, from: "host2" }).outcome).toBe("unreachable")
  })

  it("a bridge container to an overlay address goes by its gateway into a host with no route there: unreachable at once, not dropped (swarm-service-beside-bridge)", () => {
    const beside = holds(
      swarmOf(
        2,
        network({ name: "ov", driver: "overlay", subnet: "10.64.0.0/24" }),
        network({ name: "br", driver: "bridge", subnet: "172.30.5.0/24", hosts: ["host1"] }),
        container("b1", "host1", "br"),
        container("d1", "host1", "br", "ov"),
      ),
    )
    const question = { from: "b1", to: { kind: "address", address: addressOf(beside, "d1", "ov") as string }, port: 80, proto: "tcp" } as const
    expect(Model.predictConnect(beside, undefined, question).outcome).toBe("unreachable")
  })

  it("a container on an internal overlay only has no route out: unreachable at once, not dropped (swarm-service-internal-overlay)", () => {
    const inside = holds(swarmOf(2, network({ name: "iov", driver: "overlay", subnet: "10.61.0.0/24", internal: true }), container("c9", "host1", "iov")))
    const question = { from: "c9", to: { kind: "address", address: "192.168.99.2" }, port: 80, proto: "tcp" } as const
    expect(Model.predictConnect(inside, undefined, question).outcome).toBe("unreachable")
  })

  it("a service on several of the client's networks answers with the VIP of the first one its resolver asks (by name, not attach order)", () => {
    const both = holds(
      swarmOf(
        2,
        network({ name: "ov", driver: "overlay", subnet: "10.30.0.0/24" }),
        network({ name: "ov2", driver: "overlay", subnet: "10.31.0.0/24" }),
        container("c2", "host1", "ov2", "ov"),
        service({ name: "multi", networks: ["ov2", "ov"], placement: ["host2"] }),
      ),
    )
    const multi = Model.labServices(both).find((entry) => entry.name === "multi") as Model.ServiceRecord
    expect(Model.predictServiceResolve(both, "c2", "multi")).toEqual([multi.vips.ov])
    expect(Model.predictServiceResolve(both, "c2", "tasks.multi")).toEqual([addressOf(both, "multi.1", "ov")])
    // `svc.network`: libnetwork's resolver takes the network's name off and asks that network's records (a service's too)
    expect(Model.predictServiceResolve(both, "c2", "multi.ov2")).toEqual([multi.vips.ov2])
    expect(Model.predictServiceResolve(both, "c2", "tasks.multi.ov2")).toEqual([addressOf(both, "multi.1", "ov2")])
    expect(Model.predictServiceResolve(both, "c2", "multi.ingress")).toEqual([])
    expect(ask(both, "c2", { kind: "name", name: "multi" })).toMatchObject({ address: multi.vips.ov, seenFrom: balancerOf(both, "ov", "host1") })
  })

  it("a VIP balances round robin over every replica, seen from the client host's load balancer", () => {
    const prediction = ask(lab, "c1", { kind: "name", name: "api" })
    expect(prediction).toMatchObject({ address: "10.30.0.4", outcome: "answer", answeredBy: ["api.1", "api.2", "api.3"], balance: "roundRobin", seenFrom: balancerOf(lab, "ov", "host1") })
    expect(Model.spreadOver(prediction.answeredBy, 30)).toEqual({ "api.1": 10, "api.2": 10, "api.3": 10 })
    expect(Model.spreadOver(prediction.answeredBy, 4)).toEqual({ "api.1": 2, "api.2": 1, "api.3": 1 })
  })

  it("the routing mesh answers on every host, seen from that host's ingress sandbox", () => {
    for (const host of ["host1", "host2"]) {
      const prediction = ask(lab, "outside", { kind: "hostPort", host }, 9090)
      expect(prediction).toMatchObject({ outcome: "answer", answeredBy: ["api.1", "api.2", "api.3"], seenFrom: balancerOf(lab, "ingress", host) })
    }
  })

  it("tasks.svc and dnsrr leave the choice to the DNS shuffle, seen from the client's own address", () => {
    expect(ask(lab, "c1", { kind: "name", name: "tasks.api" })).toMatchObject({ outcome: "answer", balance: "dnsShuffle", answeredBy: ["api.1", "api.2", "api.3"], seenFrom: addressOf(lab, "c1", "ov") })
    // db listens on 80 too (the request's default listen)
    expect(ask(lab, "c1", { kind: "name", name: "db" })).toMatchObject({ outcome: "answer", answeredBy: ["db.1"] })
  })

  it("scaling keeps the replicas that stay, starts new ones in order, and stops the last ones", () => {
    const up = holds(mustDo(Model.scaleLabService(lab, "api", ["host1", "host2", "host2", "host1"])).lab)
    expect(Model.labServices(up).find((entry) => entry.name === "api")?.replicas).toEqual(["api.1", "api.2", "api.3", "api.4"])
    expect(addressOf(up, "api.2", "ov")).toBe(addressOf(lab, "api.2", "ov"))
    const down = holds(mustDo(Model.scaleLabService(up, "api", ["host1"])).lab)
    expect(Model.labServices(down).find((entry) => entry.name === "api")?.replicas).toEqual(["api.1"])
    expect(Model.labContainers(down).map((row) => row.container.name)).not.toContain("api.2")
  })

  it("removing a service gives its VIPs and ports back", () => {
    const removed = holds(mustDo(Model.removeLabService(lab, "api")).lab)
    expect(Model.predictServiceResolve(removed, "c1", "api")).toEqual([])
    const again = holds(mustDo(service({ name: "web", ports: ["9090:80"] })(removed)).lab)
    expect(Model.labServices(again).find((entry) => entry.name === "web")?.ports.map((binding) => binding.hostPort)).toEqual([9090, 9090])
  })
})

describe("refusals change nothing", () => {
  const refused = (step: LabStep, code: Model.ErrorCode, on: Model.LabState = lab) => {
    const before = labSnapshot(on)
    const services = JSON.stringify(Model.labServices(on))
    expect(refusedWith(step(on))).toBe(code)
    expect(labSnapshot(on)).toBe(before)
    expect(JSON.stringify(Model.labServices(on))).toBe(services)
  }
  it.each<[string, LabStep, Model.ErrorCode]>([
    ["an ingress port another service holds", service({ name: "web", ports: ["9090:81"] }), "PortInUse"],
    ["a bad -p spec", service({ name: "web", ports: ["90:abc"] }), "InvalidPort"],
    ["dnsrr with a published port", service({ name: "web", endpointMode: "dnsrr", ports: ["9191:80"] }), "InvalidPort"],
    ["a host address in a service's port", service({ name: "web", ports: ["127.0.0.1:9191:80"] }), "InvalidPort"],
    ["a service name taken", service({ name: "api" }), "ContainerNameConflict"],
    // swarmkit wants one DNS label, where a container may take these names
    // (test/fixtures/docker-swarm-services/swarm-service-errors-midrun)
    ["a service name with a dot", service({ name: "my.svc" }), "InvalidName"],
    ["a service name ending in a dash", service({ name: "svc-" }), "InvalidName"],
    ["a service name of 64 characters", service({ name: `a${"1234567890".repeat(6)}123` }), "InvalidName"],
    // the rule must be checked in linear time: a backtracking reading of swarmkit's pattern hangs on a long name that breaks it at the end
    ["a long service name ending in a dot", service({ name: `${"a".repeat(60)}.` }), "InvalidName"],
    // two rules broken: the first Docker checks answers (swarm-service-errors-midrun)
    ["a bad name on a network nobody made (the CLI looks networks up first)", service({ name: "bad.name", networks: ["nope"] }), "NetworkNotFound"],
    ["a bad name, dnsrr with a published port (the name first)", service({ name: "bad.name", endpointMode: "dnsrr", ports: ["9191:80"] }), "InvalidName"],
    ["a taken name publishing a taken port (ports before the name)", service({ name: "api", ports: ["9090:81"] }), "PortInUse"],
    // Docker's CLI looks the name up among the swarm's networks: a user's local network is not one
    // (test/fixtures/docker-swarm-services/swarm-service-bad-input: "No such network: lb")
    ["a user's local network", service({ name: "web", networks: ["lb"] }), "NetworkNotFound"],
    ["the predefined none network", service({ name: "web", networks: ["none"] }), "NetworkNotFound"],
    ["the ingress network", service({ name: "web", networks: ["ingress"] }), "PredefinedNetwork"],
    ["a network nobody made", service({ name: "web", networks: ["nope"] }), "NetworkNotFound"],
    ["a placement on a host the lab has not", service({ name: "web", placement: ["host9"] }), "InvalidName"],
    ["a replica whose name a container has", (current) => Model.createLabService(current, { name: "c1x", networks: ["ov"], placement: ["host1"] }), "ContainerNameConflict"],
  ])("%s", (_, step, code) => {
    const on =
      _ === "a replica whose name a container has"
        ? mustDo(container("c1x.1", "host1", "ov")(lab)).lab
        : _ === "a user's local network"
          ? mustDo(network({ name: "lb", subnet: "10.35.0.0/24" })(lab)).lab
          : lab
    refused(step, code, on)
  })

  it("a service on the predefined bridge: a task on each placed host's docker0, no VIP, no load balancer, no DNS (swarm-service-default-bridge)", () => {
    const onBridge = holds(
      mustDo(
        Model.createLabService(swarmOf(2, container("c1", "host1")), { name: "s", networks: ["bridge"], placement: ["host1", "host2"], listen: ["80/tcp"] }),
      ).lab,
    )
    expect(Model.labServices(onBridge).find((entry) => entry.name === "s")?.vips).toEqual({})
    // each host's own bridge hands out its own first address: c1 took host1's
    expect(["s.1", "s.2"].map((name) => addressOf(onBridge, name, "bridge"))).toEqual(["172.17.0.3", "172.17.0.2"])
    expect(Model.predictServiceResolve(onBridge, "c1", "s")).toEqual([])
    expect(Model.predictServiceResolve(onBridge, "c1", "tasks.s")).toEqual([])
  })

  it("a service's name that a container or an alias shares: the network answers all of them, as Docker (swarm-service-container-same-name)", () => {
    const shared = holds(
      swarmOf(
        2,
        network({ name: "ov", driver: "overlay", subnet: "10.33.0.0/24" }),
        (current) => Model.createLabContainer(current, { name: "web", host: "host1", networks: [{ network: "ov" }], listen: ["80/tcp"] }),
        (current) => Model.createLabContainer(current, { name: "cx", host: "host2", networks: [{ network: "ov", aliases: ["web", "api"] }], listen: ["80/tcp"] }),
        container("c1", "host1", "ov"),
        service({ name: "web", placement: ["host1", "host2"], endpointMode: "dnsrr" }),
        service({ name: "api", placement: ["host2"] }),
      ),
    )
    const api = Model.labServices(shared).find((entry) => entry.name === "api") as Model.ServiceRecord
    const replicas = ["web.1", "web.2"].map((name) => addressOf(shared, name, "ov"))
    expect(Model.predictServiceResolve(shared, "c1", "web")).toEqual(
      [addressOf(shared, "web", "ov"), addressOf(shared, "cx", "ov"), ...replicas].sort((a, b) => (Model.parseIPv4(a as string) as number) - (Model.parseIPv4(b as string) as number)),
    )
    expect(Model.predictServiceResolve(shared, "c1", "tasks.web")).toEqual(replicas)
    expect([...Model.predictServiceResolve(shared, "c1", "api")].sort()).toEqual([addressOf(shared, "cx", "ov"), api.vips.ov].sort())
    const prediction = ask(shared, "c1", { kind: "name", name: "web" })
    expect(prediction).toMatchObject({ outcome: "answer", balance: "dnsShuffle" })
    expect([...prediction.answeredBy].sort()).toEqual(["cx", "web", "web.1", "web.2"])
  })

  it("services without a swarm", () => {
    const single = labOf({}, network({ name: "net" }))
    refused((current) => Model.createLabService(current, { name: "web", networks: ["net"], placement: ["host1"] }), "SwarmRequired", single)
  })

  it("a service whose tasks leave a host's load balancer no address (a /29 the VIPs and tasks fill first), and a scale that does", () => {
    const small = holds(swarmOf(2, network({ name: "ov", driver: "overlay", subnet: "10.23.0.0/29" }), service({ name: "idle", placement: [] })))
    // .1 the gateway, .2 idle's VIP, .3 web's, .4-.6 its tasks: neither host's balancer has an address left
    refused(service({ name: "web", placement: ["host2", "host1", "host2"] }), "PoolExhausted", small)
    const one = holds(mustDo(service({ name: "web", placement: ["host2"] })(small)).lab)
    refused((current) => Model.scaleLabService(current, "web", ["host2", "host1", "host1"]), "PoolExhausted", one)
  })

  it("removing a network a service names, even with no task running (swarm's manager keeps it; a vip service's VIP is booked there)", () => {
    const idle = mustDo(Model.scaleLabService(lab, "db", [])).lab
    refused((current) => Model.removeLabNetwork(current, "ov2"), "ActiveEndpoints", idle)
    const gone = holds(mustDo(Model.removeLabService(idle, "db")).lab)
    expect(mustDo(Model.removeLabNetwork(gone, "ov2")).value.map((row) => row.network.name)).toEqual(["ov2"])
  })

  it("removing or scaling a service nobody made", () => {
    refused((current) => Model.removeLabService(current, "ghost"), "ContainerNotFound")
    refused((current) => Model.scaleLabService(current, "ghost", ["host1"]), "ContainerNotFound")
  })
})
