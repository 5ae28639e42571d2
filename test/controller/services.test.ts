/**
 * Swarm services run by the controller, against the model's predictions (model/connect-predict.ts,
 * scenarios/model-run.ts): VIPs balanced in each client host's load-balancer sandbox, the routing
 * mesh from every host's published port through its ingress sandbox, dnsrr and `tasks.` names,
 * scaling (down to no task) and removal, and the contract's refusals of a bad service. Each
 * scenario runs on the simulator, and on the linux backend with real packets when root; the
 * expected answers are the model's, never the backend's. VIP and routing-mesh semantics are
 * libnetwork's (service_linux.go): Docker cannot run them on this kernel (no ip_vs), so there is no
 * Docker recording of them (test/fixtures/docker-swarm-services/README.md).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { dropLab } from "../differential/linux-labs.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import type { ConnectPrediction } from "../../model/connect-predict.ts"
import { predictServiceResolve } from "../../model/connect-predict.ts"
import { loadScenarioText, renderScenarioInvalid } from "../../scenarios/load.ts"
import { runOnModel } from "../../scenarios/model-run.ts"
import type { ReportConnect } from "../../scenarios/report-connect.ts"
import { runOn } from "../../scenarios/runner.ts"
import type { Scenario } from "../../scenarios/schema.ts"

const threeHosts = `
swarm: true
outside: {address: 203.0.113.1/24}
hosts: [{name: host1}, {name: host2}, {name: host3}]
networks:
  - {name: ov, driver: overlay, subnet: 10.20.0.0/24}
  - {name: other, driver: overlay, subnet: 10.21.0.0/24}
  - {name: local, driver: bridge, subnet: 10.30.0.0/24}
`

const scenarios: Record<string, string> = {
  "a VIP across hosts, balanced in the client's host, with dnsrr beside it": `${threeHosts}
containers:
  - {name: c1, host: host1, networks: [ov]}
  - {name: c3, host: host3, networks: [ov, other]}
services:
  - {name: api, networks: [ov, other], replicas: 3, placement: [host2, host3, host1], listen: [80/tcp, 53/udp]}
  - {name: db, networks: [ov], replicas: 2, placement: [host2, host2], endpointMode: dnsrr, listen: [5432/tcp]}
expect:
  connect:
    - {from: c1, to: api, port: 80, proto: tcp, count: 30}
    - {from: c3, to: api, port: 53, proto: udp, count: 9}
    - {from: c3, to: api, network: other, port: 80, proto: tcp, count: 6}
    - {from: c1, to: api, port: 81, proto: tcp}
    - {from: c1, to: tasks.api, port: 80, proto: tcp, count: 6}
    - {from: c1, to: db, port: 5432, proto: tcp, count: 6}
    - {from: api.3, to: api, port: 80, proto: tcp, count: 3}
  resolve:
    - {from: c1, name: api}
    - {from: c3, name: api}
    - {from: c1, name: tasks.api}
    - {from: c1, name: db}
    - {from: c1, name: tasks.db}
`,
  "scaling a VIP service up, down to no task, and removing it": `${threeHosts}
containers:
  - {name: c1, host: host1, networks: [ov]}
services:
  - {name: api, networks: [ov], replicas: 2, placement: [host2, host3], listen: [80/tcp]}
steps:
  - {scaleService: {name: api, replicas: 4, placement: [host2, host3, host3, host1]}}
  - expect:
      connect:
        - {from: c1, to: api, port: 80, proto: tcp, count: 8}
  - {scaleService: {name: api, replicas: 1, placement: [host3]}}
  - expect:
      connect:
        - {from: c1, to: api, port: 80, proto: tcp, count: 3}
  - {scaleService: {name: api, replicas: 0, placement: []}}
  - expect:
      connect:
        - {from: c1, to: api, port: 80, proto: tcp}
  - {removeService: {name: api}}
expect:
  connect:
    - {from: c1, to: api, port: 80, proto: tcp}
  resolve:
    - {from: c1, name: api}
    - {from: c1, name: tasks.api}
`,
  "a client on a host that joins the network after the service, leaves, and comes back": `${threeHosts}
services:
  - {name: api, networks: [ov], replicas: 2, placement: [host1, host2], listen: [80/tcp]}
steps:
  - {createContainer: {name: c3, host: host3, networks: [ov]}}
  - expect:
      connect:
        - {from: c3, to: api, port: 80, proto: tcp, count: 4}
  - {removeContainer: {name: c3}}
  - {createContainer: {name: c3b, host: host3, networks: [ov]}}
  - {scaleService: {name: api, replicas: 3, placement: [host1, host2, host3]}}
expect:
  connect:
    - {from: c3b, to: api, port: 80, proto: tcp, count: 6}
`,
  "the routing mesh: a published port on every host, from outside and from a host": `${threeHosts}
containers:
  - {name: c1, host: host1, networks: [ov]}
services:
  - {name: web, networks: [ov], replicas: 2, placement: [host2, host3], listen: [80/tcp, 53/udp], ports: ["9090:80/tcp", "9053:53/udp"]}
steps:
  - {createService: {name: late, networks: [other], replicas: 1, placement: [host1], listen: [8080/tcp], ports: ["9191:8080"]}}
  - expect:
      connect:
        - {from: outside, to: "host2:9191", proto: tcp, count: 2}
  - {removeService: {name: late}}
expect:
  connect:
    - {from: outside, to: "host1:9090", proto: tcp, count: 6}
    - {from: outside, to: "host2:9090", proto: tcp, count: 4}
    - {from: outside, to: "host3:9053", proto: udp, count: 4}
    - {from: host2, to: "host1:9090", proto: tcp, count: 2}
    - {from: c1, to: web, port: 80, proto: tcp, count: 4}
    - {from: outside, to: "host1:9091", proto: tcp}
    - {from: outside, to: "host2:9191", proto: tcp}
`,
  "the routing mesh from a host's own containers and from the host to 127.0.0.1": `${threeHosts}
  - {name: sealed, driver: bridge, internal: true, subnet: 10.31.0.0/24}
  - {name: local2, driver: bridge, subnet: 10.32.0.0/24}
  - {name: quiet, driver: bridge, subnet: 10.33.0.0/24, options: {com.docker.network.bridge.enable_icc: "false"}}
containers:
  - {name: c1, host: host1, networks: [ov]}
  - {name: b1, host: host1, networks: [local]}
  - {name: s1, host: host1, networks: [sealed]}
  - {name: x1, host: host1, networks: [local2], listen: [9090/tcp, 9091/tcp]}
  - {name: q1, host: host1, networks: [quiet]}
  - {name: q2, host: host1, networks: [quiet], listen: [9090/tcp, 9091/tcp]}
services:
  - {name: web, networks: [ov], replicas: 2, placement: [host2, host3], listen: [80/tcp, 53/udp], ports: ["9090:80/tcp", "9053:53/udp"]}
expect:
  connect:
    - {from: c1, to: "host1:9090", proto: tcp, count: 4}
    - {from: b1, to: "host1:9090", proto: tcp, count: 4}
    - {from: b1, to: 10.30.0.1, port: 9090, proto: tcp, count: 2}
    - {from: b1, to: "host1:9053", proto: udp, count: 2}
    - {from: c1, to: "host1:9053", proto: udp, count: 2}
    - {from: s1, to: 10.31.0.1, port: 9090, proto: tcp, count: 2}
    - {from: host1, to: 127.0.0.1, port: 9090, proto: tcp, count: 4}
    - {from: host1, to: 127.0.0.1, port: 9053, proto: udp, count: 2}
    - {from: host1, to: "host1:9090", proto: tcp, count: 2}
    - {from: b1, to: "host2:9090", proto: tcp, count: 2}
    - {from: b1, to: "host1:9091", proto: tcp}
    - {from: b1, to: x1, port: 9090, proto: tcp, network: local2}
    - {from: b1, to: x1, port: 9091, proto: tcp, network: local2}
    - {from: s1, to: x1, port: 9090, proto: tcp, network: local2}
    - {from: q1, to: q2, port: 9090, proto: tcp}
    - {from: q1, to: q2, port: 9091, proto: tcp}
`,
  "a service's name shared by a container and an alias: connections go where the DNS shuffle sends them": `${threeHosts}
containers:
  - {name: web, host: host1, networks: [ov], listen: [80/tcp]}
  - {name: cx, host: host2, networks: [{network: ov, aliases: [web, api]}], listen: [80/tcp]}
  - {name: c1, host: host1, networks: [ov]}
services:
  - {name: web, networks: [ov], replicas: 2, placement: [host1, host2], endpointMode: dnsrr, listen: [80/tcp]}
  - {name: api, networks: [ov], replicas: 1, placement: [host3], listen: [80/tcp]}
steps:
  - expect:
      connect:
        - {from: c1, to: web, port: 80, proto: tcp, count: 40}
  - {removeService: {name: web}}
expect:
  connect:
    - {from: c1, to: web, port: 80, proto: tcp, count: 20}
  resolve:
    - {from: c1, name: web}
    - {from: c1, name: tasks.web}
    - {from: c1, name: api}
`,
  "bad services are refused with the model's codes and change nothing": `${threeHosts}
containers:
  - {name: c1, host: host1, networks: [ov]}
  - {name: holder, host: host2, networks: [local], ports: ["7070:80"], listen: [80/tcp]}
services:
  - {name: api, networks: [ov], replicas: 1, placement: [host2], listen: [80/tcp]}
steps:
  - {createService: {name: onbridge, networks: [local], replicas: 1, placement: [host1]}, expectError: NetworkNotFound}
  - {createService: {name: oningress, networks: [ingress], replicas: 1, placement: [host1]}, expectError: PredefinedNetwork}
  - {createService: {name: api, networks: [ov], replicas: 1, placement: [host1]}, expectError: ContainerNameConflict}
  - {createService: {name: rr, networks: [ov], endpointMode: dnsrr, ports: ["9999:80"], replicas: 1, placement: [host1]}, expectError: InvalidPort}
  - {createService: {name: taken, networks: [ov], ports: ["7070:80"], replicas: 1, placement: [host1]}, expectError: PortInUse}
  - {scaleService: {name: nosuch, replicas: 1, placement: [host1]}, expectError: ContainerNotFound}
  - {removeService: {name: nosuch}, expectError: ContainerNotFound}
expect:
  connect:
    - {from: c1, to: api, port: 80, proto: tcp, count: 2}
    - {from: outside, to: "host1:7070", proto: tcp}
    - {from: outside, to: "host2:7070", proto: tcp}
  resolve:
    - {from: c1, name: onbridge}
    - {from: c1, name: rr}
    - {from: c1, name: api}
`,
}

const load = (body: string, name: string): Scenario => {
  const loaded = loadScenarioText(`version: 1\nname: ${name.replace(/[^a-z]+/g, "-")}\n${body}`, "inline.yaml")
  if (!loaded.ok) throw new Error(renderScenarioInvalid(loaded.error))
  return loaded.scenario
}

const sortedNames = (names: Iterable<string>): string => [...names].sort().join(", ")

/** one line per predicted connection: outcome, who may answer, the source seen, the address tried where it does not depend on the DNS shuffle */
const predictedLine = (from: string, to: string, step: number | undefined, predicted: ConnectPrediction): string =>
  `${step ?? "end"}: ${from} → ${to}: ${predicted.outcome} by [${sortedNames(predicted.answeredBy)}] seen from ${predicted.outcome === "answer" ? (predicted.seenFrom ?? "-") : "-"}` +
  (predicted.balance === "dnsShuffle" ? "" : ` via ${predicted.address ?? "-"}`)

const measuredLine = (row: ReportConnect, balance: ConnectPrediction["balance"]): string => {
  const counts = row.answeredBy === null ? {} : typeof row.answeredBy === "string" ? { [row.answeredBy]: 1 } : row.answeredBy
  return (
    `${row.step ?? "end"}: ${row.from} → ${row.to}: ${row.outcome} by [${sortedNames(Object.keys(counts))}] seen from ${row.seenFrom ?? "-"}` +
    (balance === "dnsShuffle" ? "" : ` via ${row.address ?? "-"}`)
  )
}

/** round robin (IPVS rr, nftables numgen inc): over a run of connections no answerer gets more than one more than another */
const unevenRows = (rows: ReadonlyArray<ReportConnect>, balances: ReadonlyArray<ConnectPrediction["balance"]>): Array<string> =>
  rows.flatMap((row, index) => {
    if (balances[index] !== "roundRobin" || row.answeredBy === null || typeof row.answeredBy !== "object") return []
    const counts = Object.values(row.answeredBy)
    return counts.length > 0 && Math.max(...counts) - Math.min(...counts) > 1 ? [`${row.from} → ${row.to}: ${JSON.stringify(row.answeredBy)}`] : []
  })

const isRoot = process.getuid?.() === 0

/** a fresh kernel for a variant: the simulator balancing by numgen or, as on a kernel with ip_vs, by IPVS; the linux backend */
const kernelFor = async (variant: "sim" | "sim-ipvs" | "linux"): Promise<KernelShape> =>
  variant === "linux" ? makeLinuxKernel() : makeSimKernel({ capabilities: { ipvs: variant === "sim-ipvs" } })

describe("services run by the controller, as the model predicts", () => {
  for (const variant of ["sim", "sim-ipvs", "linux"] as const) {
    const backend = variant === "linux" ? "linux" : "sim"
    describe(`on ${variant}`, () => {
      for (const [title, body] of Object.entries(scenarios)) {
        const skip = backend === "linux" && !isRoot ? "the linux backend needs root" : undefined
        if (skip !== undefined) {
          console.info(`${title} on ${backend} skipped: ${skip}`)
          it.skip(`${title} (skipped: ${skip})`, () => {})
          continue
        }
        it(
          title,
          async () => {
            const scenario = load(body, title)
            const model = runOnModel(scenario)
            const kernel = await kernelFor(variant)
            const report = await Effect.runPromise(runOn(kernel, scenario, { backend })).finally(() => Effect.runPromise(kernel.close()))
            const rows = report.connect ?? []

            expect(report.steps.map((step) => `${step.index} ${step.op} ${step.error?.code ?? "ok"}`)).toEqual(
              model.steps.map((step) => `${step.index} ${step.op} ${step.error?.code ?? "ok"}`),
            )
            expect(report.expectations.filter((expectation) => !expectation.ok)).toEqual([])
            const balances = model.connect.map((entry) => entry.predicted.balance)
            expect(model.connect.every((entry) => entry.predicted.outcome !== undefined), "the model predicts every row").toBe(true)
            expect(rows.map((row, index) => measuredLine(row, balances[index] ?? "one"))).toEqual(
              model.connect.map((entry) => predictedLine(entry.expected.from, entry.expected.to, entry.step, entry.predicted)),
            )
            expect(unevenRows(rows, balances)).toEqual([])
            // the final expect's names: the last rows of the report's resolve
            const asked = scenario.expect.resolve
            const answered = report.resolve.slice(report.resolve.length - asked.length)
            expect(answered.map((row) => `${row.from} ${row.name}: ${sortedNames(row.addresses)}`)).toEqual(
              asked.map((question) => `${question.from} ${question.name}: ${sortedNames(predictServiceResolve(model.lab, question.from, question.name))}`),
            )
            console.info(`${title} on ${variant}: ${rows.length} connect rows, ${asked.length} names and ${report.steps.length} steps as the model predicts`)
          },
          backend === "linux" ? 240_000 : 60_000,
        )
      }
    })
  }
})

describe("a refused service change leaves the kernel and the lab as they were (simulator)", () => {
  const snapshot = (kernel: ReturnType<typeof makeSimKernel>, lab: Lab) =>
    JSON.stringify([Effect.runSync(Effect.forEach(Effect.runSync(kernel.namespaces()), (ns) => kernel.read(ns))), lab.endpoints(), lab.state.services])

  it("refuses each bad service and each bad scale with the model's code", () => {
    const kernel = makeSimKernel()
    const lab = Effect.runSync(Lab.make(kernel, { hosts: [{ name: "host1" }, { name: "host2" }], runId: "svc", swarm: true }))
    Effect.runSync(lab.createNetwork({ name: "ov", driver: "overlay", subnet: "10.20.0.0/24" }))
    Effect.runSync(lab.createNetwork({ name: "local", subnet: "10.30.0.0/24" }))
    Effect.runSync(lab.createContainer({ name: "c1", host: "host1", networks: [{ network: "ov" }] }))
    Effect.runSync(lab.createService({ name: "api", networks: ["ov"], placement: ["host2"], listen: ["80/tcp"], ports: ["9090:80"] }))
    const before = snapshot(kernel, lab)
    const refusals = [
      [lab.createService({ name: "b", networks: ["local"], placement: ["host1"] }), "NetworkNotFound"],
      [lab.createService({ name: "b", networks: ["ingress"], placement: ["host1"] }), "PredefinedNetwork"],
      [lab.createService({ name: "b", networks: ["nosuch"], placement: ["host1"] }), "NetworkNotFound"],
      [lab.createService({ name: "b", networks: ["ov"], placement: ["host9"] }), "InvalidName"],
      [lab.createService({ name: "b", networks: ["ov"], placement: ["host1"], ports: ["9090:80"] }), "PortInUse"],
      [lab.createService({ name: "b", networks: ["ov"], placement: ["host1"], ports: ["80:abc"] }), "InvalidPort"],
      [lab.scaleService("api", ["host1", "host9"]), "InvalidName"],
      [lab.removeService("nosuch"), "ContainerNotFound"],
    ] as const
    for (const [effect, code] of refusals) {
      expect(Effect.runSync(Effect.flip(effect)).code).toBe(code)
      expect(snapshot(kernel, lab)).toBe(before)
    }
    console.info(`${refusals.length} refused service changes, the kernel and the lab unchanged after each`)
    Effect.runSync(lab.close())
  })

  it("takes a whole service back when the kernel refuses its VIP on one host", () => {
    const kernel = makeSimKernel()
    const lab = Effect.runSync(Lab.make(kernel, { hosts: [{ name: "host1" }, { name: "host2" }], runId: "svk", swarm: true }))
    Effect.runSync(lab.createNetwork({ name: "ov", driver: "overlay", subnet: "10.20.0.0/24" }))
    Effect.runSync(lab.createContainer({ name: "c1", host: "host1", networks: [{ network: "ov" }] }))
    const request = { name: "api", networks: ["ov"], placement: ["host2"], listen: ["80/tcp"], ports: ["9090:80"] }
    // the VIP the model will give, already on host1's load-balancer interface: its alias there is refused (EEXIST)
    const decided = model.createLabService(lab.state, request)
    if (!decided.ok) throw new Error(decided.error.message)
    const vip = decided.value.vips["ov"] as string
    const balancer = model.systemSandboxes(lab.state, "host1").find((sandbox) => sandbox.name === "#lb-ov")
    const endpoint = balancer?.endpoints.find((candidate) => candidate.network === "ov")
    const ns = lab.systemNamespaces("host1").find(([name]) => name === "#lb-ov")?.[1]
    if (endpoint?.ifname === undefined || ns === undefined) throw new Error("host1 has no load balancer on ov")
    Effect.runSync(kernel.apply([{ op: "addrAdd", ns, dev: endpoint.ifname, cidr: `${vip}/32` }]))
    const before = snapshot(kernel, lab)
    const refused = Effect.runSync(Effect.flip(lab.createService(request)))
    expect(refused).toMatchObject({ code: "KernelError" })
    expect(refused.message).toMatch(/service\.balancer/)
    expect(snapshot(kernel, lab)).toBe(before)
    expect(Effect.runSync(lab.resolve("c1", "tasks.api"))).toMatchObject({ rcode: "NXDOMAIN", addresses: [] })
    expect(Effect.runSync(lab.connectFrom("host1", "192.168.99.1", 9090, "tcp")).outcome).toBe("refused")
    console.info(`a service whose VIP host1 refuses (${vip}): tasks, names, balancers and mesh rules taken back on both hosts`)
    Effect.runSync(lab.close())
  })
})

describe("a task moved to another host keeping its address and MAC (a /29 gives it back) is reached there at once", () => {
  // the overlay's bridge on the new host had learned the MAC behind vxlan0 while the task was away; the peer's
  // withdrawal must take that entry too (libnetwork's DeleteNeighbor), or the bridge sends into the tunnel until it
  // ages out (300 s). A probe of 250 ms shows it; a 4 s TCP connect outlasts the ARP re-probe and hides it
  for (const backend of ["sim", "linux"] as const) {
    it.skipIf(backend === "linux" && !isRoot)(`on ${backend}${backend === "linux" && !isRoot ? " (skipped: the linux backend needs root)" : ""}`, async () => {
      const kernel: KernelShape = backend === "sim" ? makeSimKernel() : await makeLinuxKernel({ timeoutMs: 250 })
      const runId = `svmv${process.pid.toString(36)}`
      try {
        const lab = await Effect.runPromise(Lab.make(kernel, { hosts: ["host1", "host2"], runId, swarm: true }))
        await Effect.runPromise(lab.createNetwork({ name: "small", driver: "overlay", subnet: "10.23.0.0/29", internal: true }))
        await Effect.runPromise(lab.createService({ name: "db", networks: ["small"], placement: ["host1", "host2", "host1"], endpointMode: "dnsrr" }))
        const address = () => model.stripPrefix(lab.endpoints().find((e) => e.container === "db.2")?.address as string)
        const before = address()
        expect((await Effect.runPromise(lab.probe("db.1", before))).reachable).toBe(true)
        await Effect.runPromise(lab.scaleService("db", ["host1", "host1", "host1"]))
        expect([lab.hostOf("db.2"), address()]).toEqual(["host1", before])
        expect((await Effect.runPromise(lab.probe("db.1", before))).reachable).toBe(true)
        expect((await Effect.runPromise(lab.probe("db.3", before))).reachable).toBe(true)
        await Effect.runPromise(lab.close())
      } finally {
        if (backend === "linux") {
          await dropLab(kernel, runId)
          await Effect.runPromise(kernel.close())
        }
      }
    })
  }
})
