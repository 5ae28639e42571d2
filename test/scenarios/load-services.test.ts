/**
 * The loader on the contract's section "Ports, the outside world, services": every key loads into
 * the normalized scenario, and every mistake is refused naming its line and key path.
 */
import { describe, expect, it } from "vitest"
import { loadScenarioText } from "../../scenarios/load.ts"
import { errorOf, scenarioOf } from "./load-results.ts"

const load = (text: string) => loadScenarioText(text, "inline.yaml")

const swarmHead = `version: 1
name: services
swarm: true
hosts: [{ name: host1 }, { name: host2 }]
outside: { address: 203.0.113.1/24 }
networks:
  - { name: ov, driver: overlay }
  - { name: front }
`

describe("the contract's example loads", () => {
  const scenario = scenarioOf(
    load(`${swarmHead}containers:
  - name: web
    networks: [front]
    listen: [80/tcp, 53/udp]
    ports: ["8080:80/tcp", "127.0.0.1:5353:53/udp"]
  - name: c1
    host: host2
    networks: [ov]
services:
  - name: api
    networks: [ov]
    replicas: 3
    placement: [host1, host2, host2]
    endpointMode: vip
    listen: [80/tcp]
    ports: ["9090:80/tcp"]
  - { name: db, networks: [ov], replicas: 3, endpointMode: dnsrr }
steps:
  - createContainer: { name: late, networks: [front], ports: ["8081:80"], listen: ["80"] }
  - createService: { name: cache, networks: [ov], placement: [host2] }
  - scaleService: { name: cache, replicas: 2 }
  - removeService: { name: cache }
  - expect:
      connect:
        - { from: outside, to: "host2:8080", answeredBy: web, outcome: answer }
expect:
  connect:
    - { from: outside, to: "host1:8080", proto: tcp, answeredBy: web }
    - { from: c1, to: api, port: 80, proto: tcp, count: 30, spread: [api.1, api.2, api.3] }
    - { from: c1, to: outside, proto: tcp, port: 80, seenFrom: "192.168.99.1" }
    - { from: host1, to: "10.0.0.9", port: 53, proto: udp, answeredBy: null }
    - { from: api.2, to: tasks.db, port: 80 }
`),
  )

  it("outside, and a container's listen and ports as written", () => {
    expect(scenario.outside).toBe("203.0.113.1/24")
    expect(scenario.containers[0]).toEqual({
      name: "web",
      host: "host1",
      networks: [{ network: "front", aliases: [] }],
      listen: ["80/tcp", "53/udp"],
      ports: ["8080:80/tcp", "127.0.0.1:5353:53/udp"],
    })
  })

  it("services with their defaults: vip, one host per replica round robin when no placement is given", () => {
    expect(scenario.services).toEqual([
      { name: "api", networks: ["ov"], replicas: 3, placement: ["host1", "host2", "host2"], endpointMode: "vip", listen: ["80/tcp"], ports: ["9090:80/tcp"] },
      { name: "db", networks: ["ov"], replicas: 3, placement: ["host1", "host2", "host1"], endpointMode: "dnsrr", listen: [], ports: [] },
    ])
  })

  it("the service steps, and createContainer with ports and listen", () => {
    expect(scenario.steps.slice(0, 4)).toEqual([
      { op: "createContainer", container: { name: "late", host: "host1", networks: [{ network: "front", aliases: [] }], ports: ["8081:80"], listen: ["80"] } },
      {
        op: "createService",
        service: { name: "cache", networks: ["ov"], replicas: 1, placement: ["host2"], endpointMode: "vip", listen: [], ports: [] },
      },
      { op: "scaleService", name: "cache", replicas: 2, placement: ["host1", "host2"] },
      { op: "removeService", name: "cache" },
    ])
  })

  it("connect rows with `to` split into what it names and the port tried", () => {
    expect(scenario.expect.connect).toEqual([
      { from: "outside", to: "host1:8080", target: { kind: "hostPort", host: "host1" }, port: 8080, proto: "tcp", answeredBy: "web" },
      {
        from: "c1",
        to: "api",
        target: { kind: "name", name: "api" },
        port: 80,
        proto: "tcp",
        count: 30,
        spread: ["api.1", "api.2", "api.3"],
      },
      { from: "c1", to: "outside", target: { kind: "outside" }, port: 80, proto: "tcp", seenFrom: "192.168.99.1" },
      { from: "host1", to: "10.0.0.9", target: { kind: "address", address: "10.0.0.9" }, port: 53, proto: "udp", answeredBy: null },
      { from: "api.2", to: "tasks.db", target: { kind: "name", name: "tasks.db" }, port: 80, proto: "tcp" },
    ])
    const inStep = scenario.steps[4]
    expect(inStep?.op === "expect" && inStep.expect.connect?.[0]).toMatchObject({ target: { kind: "hostPort", host: "host2" }, outcome: "answer" })
  })

  it("a file without the section normalizes without its keys", () => {
    const plain = scenarioOf(load("version: 1\nname: plain\ncontainers: [{ name: web }]\nexpect: { reach: [] }\n"))
    expect(Object.keys(plain)).not.toContain("outside")
    expect(Object.keys(plain)).not.toContain("services")
    expect(Object.keys(plain.expect)).toEqual(["reach", "resolve"])
    expect(Object.keys(plain.containers[0] ?? {})).toEqual(["name", "host", "networks"])
  })
})

describe("mistakes are refused at their line and key path", () => {
  const cases: ReadonlyArray<[string, string, number, string, string]> = [
    [
      "a -p spec Docker refuses, with Docker's sentence",
      "containers:\n  - name: web\n    ports: [\"8080:80\", \"99999:80\"]\n",
      5,
      "containers[0].ports[1]",
      "Invalid hostPort: 99999.",
    ],
    ["a bad protocol", "containers:\n  - name: web\n    ports:\n      - 80/xyz\n", 6, "containers[0].ports[0]", "Invalid proto: xyz."],
    ["a listen entry that is no port", "containers:\n  - name: web\n    listen: [http]\n", 5, "containers[0].listen[0]", "not a port"],
    ["a bad outside address", "outside: { address: 203.0.113/24 }\n", 3, "outside.address", "not an IPv4 address"],
    ["services without a swarm", "services:\n  - { name: api }\n", 4, "services[0]", "swarm: true"],
    [
      "a createService step without a swarm",
      "steps:\n  - createService: { name: api }\n",
      4,
      "steps[0].createService",
      "swarm: true",
    ],
    ["an unknown key of a connect row", "expect:\n  connect:\n    - { from: a, to: b, prot: udp }\n", 5, "expect.connect[0].prot", 'did you mean "proto"'],
    ["a count of 0", "containers: [{ name: web }]\nexpect:\n  connect:\n    - { from: web, to: web, port: 80, count: 0 }\n", 6, "expect.connect[0].count", "count must be"],
  ]
  it.each(cases)("%s", (_, body, line, path, message) => {
    const error = errorOf(load(`version: 1\nname: inline\n${body}`))
    expect({ line: error.line, path: error.path }).toEqual({ line, path })
    expect(error.message).toContain(message)
  })

  const swarmCases: ReadonlyArray<[string, string, string, string]> = [
    ["replicas that do not match the placement", "services:\n  - { name: api, networks: [ov], replicas: 3, placement: [host1, host2] }\n", "services[0].placement", "2 host(s) for 3 replica(s)"],
    ["a placement on a host nobody defined", "services:\n  - { name: api, placement: [host1, host9] }\n", "services[0].placement[1]", 'unknown host "host9"'],
    ["a service on a network nobody defined", "services:\n  - { name: api, networks: [nope] }\n", "services[0].networks[0]", 'unknown network "nope"'],
    ["two services of one name", "services:\n  - { name: api }\n  - { name: api }\n", "services[1].name", 'duplicate service name "api"'],
    ["an unknown endpoint mode", "services:\n  - { name: api, endpointMode: dns }\n", "services[0].endpointMode", "dnsrr"],
    ["a fractional replica count", "services:\n  - { name: api, replicas: 1.5 }\n", "services[0].replicas", "expected an integer"],
    ["removing a service nobody defines", "steps:\n  - removeService: { name: ghost }\n", "steps[0].removeService.name", 'unknown service "ghost"'],
    ["scaling a service nobody defines", "steps:\n  - scaleService: { name: ghost, replicas: 2 }\n", "steps[0].scaleService.name", 'unknown service "ghost"'],
    ["a connection from nobody", "expect:\n  connect:\n    - { from: ghost, to: outside, port: 80 }\n", "expect.connect[0].from", 'unknown container or host "ghost"'],
    ["a connection to nothing the file names", "expect:\n  connect:\n    - { from: host1, to: nowhere, port: 80 }\n", "expect.connect[0].to", "none of a container, a service"],
    ["a connection without a port", "expect:\n  connect:\n    - { from: host1, to: outside }\n", "expect.connect[0]", "needs a port"],
    ["two different ports", "expect:\n  connect:\n    - { from: outside, to: \"host1:8080\", port: 80 }\n", "expect.connect[0].port", "differs"],
    ["port 0", "expect:\n  connect:\n    - { from: outside, to: \"10.0.0.1\", port: 0 }\n", "expect.connect[0].port", "not 1 to 65535"],
    ["a replica beyond the service's", "services:\n  - { name: api, replicas: 2 }\nexpect:\n  connect:\n    - { from: outside, to: api, port: 80, count: 4, spread: [api.3] }\n", "expect.connect[0].spread[0]", 'unknown container "api.3"'],
    ["spread without count", "services:\n  - { name: api, replicas: 2 }\nexpect:\n  connect:\n    - { from: outside, to: api, port: 80, spread: [api.1] }\n", "expect.connect[0].spread", "give count"],
    ["seenFrom that is no address", "expect:\n  connect:\n    - { from: host1, to: outside, port: 80, seenFrom: host1 }\n", "expect.connect[0].seenFrom", "not an IPv4 address"],
  ]
  it.each(swarmCases)("%s", (_, body, path, message) => {
    const error = errorOf(load(`${swarmHead}${body}`))
    expect(error.path).toBe(path)
    expect(error.message).toContain(message)
    expect(error.line).toBeGreaterThan(8)
  })

  it("outside named without the file's outside", () => {
    const error = errorOf(load("version: 1\nname: inline\ncontainers: [{ name: web }]\nexpect:\n  connect:\n    - { from: web, to: outside, port: 80 }\n"))
    expect(error).toMatchObject({ line: 6, path: "expect.connect[0].to" })
    expect(error.message).toContain("outside: { address }")
  })

  it("name.network is a target (Docker's DNS answers it on that network only); an unknown network is not", () => {
    const body = (to: string) =>
      `version: 1\nname: inline\nnetworks: [{ name: front }]\ncontainers: [{ name: web, networks: [front] }, { name: c1, networks: [front] }]\nexpect:\n  connect:\n    - { from: c1, to: ${to}, port: 80 }\n`
    expect(scenarioOf(load(body("web.front"))).expect.connect?.[0]).toMatchObject({ to: "web.front", target: { kind: "name", name: "web.front" } })
    expect(errorOf(load(body("web.back")))).toMatchObject({ line: 7, path: "expect.connect[0].to" })
    expect(errorOf(load(body("nobody.front")))).toMatchObject({ line: 7, path: "expect.connect[0].to" })
  })

  it("name.network where the network's name or the container's has a dot: every split is tried, as libnetwork's ResolveName does (fixture dns-dotted-and-case)", () => {
    const body = (to: string) =>
      `version: 1\nname: inline\nnetworks: [{ name: my.net }]\ncontainers: [{ name: x.y, networks: [my.net] }, { name: c1, networks: [my.net] }]\nexpect:\n  connect:\n    - { from: c1, to: ${to}, port: 80 }\n`
    expect(scenarioOf(load(body("c1.my.net"))).expect.connect?.[0]).toMatchObject({ target: { kind: "name", name: "c1.my.net" } })
    expect(scenarioOf(load(body("x.y.my.net"))).expect.connect?.[0]).toMatchObject({ target: { kind: "name", name: "x.y.my.net" } })
    expect(errorOf(load(body("x.y.net")))).toMatchObject({ line: 7, path: "expect.connect[0].to" })
  })

  it("a step that expects InvalidPort may carry the bad spec", () => {
    const scenario = scenarioOf(load("version: 1\nname: inline\nsteps:\n  - createContainer: { name: web, ports: [\"8080:abc\"] }\n    expectError: InvalidPort\n"))
    expect(scenario.steps[0]).toMatchObject({ op: "createContainer", expectError: "InvalidPort", container: { ports: ["8080:abc"] } })
  })
})
