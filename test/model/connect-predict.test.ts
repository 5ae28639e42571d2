/**
 * Connection predictions on one host, path by path, with the answers Docker 20.10.24 gave here
 * (recorded by the services fixtures, ports-published-paths, ports-udp, ports-closed-behind-proxy,
 * outbound-masquerade, internal-network-ports): who answers, the outcome, the source address seen.
 */
import { describe, expect, it } from "vitest"
import { loadScenarioText } from "../../scenarios/load.ts"
import { runOnModel } from "../../scenarios/model-run.ts"
import { scenarioOf } from "../scenarios/load-results.ts"

const predictions = (body: string) =>
  runOnModel(scenarioOf(loadScenarioText(`version: 1\nname: paths\noutside: { address: 203.0.113.1/24 }\n${body}`, "paths.yaml"))).connect.map(
    ({ expected, predicted }) => [`${expected.from} → ${expected.to}${expected.to.includes(":") ? "" : `:${expected.port}`}/${expected.proto}`, predicted.outcome, predicted.answeredBy.join("|") || null, predicted.seenFrom ?? null],
  )

const world = `networks:
  - { name: front, subnet: 10.1.0.0/24 }
  - { name: other, subnet: 10.2.0.0/24 }
  - { name: hidden, subnet: 10.3.0.0/24, internal: true }
containers:
  - { name: web, networks: [front], listen: [80/tcp, 53/udp], ports: ["8080:80", "5353:53/udp"] }
  - { name: mute, networks: [front], ports: ["8083:80"] }
  - { name: near, networks: [front] }
  - { name: far, networks: [other] }
  - { name: shut, networks: [hidden] }
  - { name: lonely, networks: [none] }
`

describe("connections on one host, as Docker 20.10 answered", () => {
  it("every path to a published port, and the ways out", () => {
    expect(
      predictions(`${world}expect:
  connect:
    - { from: outside, to: "host1:8080" }
    - { from: host1, to: "host1:8080" }
    - { from: host1, to: 127.0.0.1, port: 8080 }
    - { from: near, to: "host1:8080" }
    - { from: far, to: "host1:8080" }
    - { from: far, to: 10.1.0.1, port: 8080 }
    - { from: near, to: web, port: 80 }
    - { from: far, to: web, port: 80, network: front }
    - { from: outside, to: 10.1.0.2, port: 80 }
    - { from: outside, to: "host1:5353", proto: udp }
    - { from: host1, to: 127.0.0.1, port: 5353, proto: udp }
    - { from: near, to: "host1:5353", proto: udp }
    - { from: near, to: 10.1.0.1, port: 5353, proto: udp }
    - { from: outside, to: "host1:8083" }
    - { from: host1, to: 127.0.0.1, port: 8083 }
    - { from: near, to: "host1:8083" }
    - { from: near, to: outside, port: 80 }
    - { from: host1, to: outside, port: 80, proto: udp }
    - { from: shut, to: outside, port: 80 }
    - { from: lonely, to: outside, port: 80 }
    - { from: outside, to: "host1:9999" }
`),
    ).toEqual([
      ["outside → host1:8080/tcp", "answer", "web", "203.0.113.1"],
      ["host1 → host1:8080/tcp", "answer", "web", "192.168.99.1"],
      ["host1 → 127.0.0.1:8080/tcp", "answer", "web", "10.1.0.1"],
      ["near → host1:8080/tcp", "answer", "web", "10.1.0.1"],
      ["far → host1:8080/tcp", "answer", "web", "10.1.0.1"],
      ["far → 10.1.0.1:8080/tcp", "answer", "web", "10.1.0.1"],
      ["near → web:80/tcp", "answer", "web", "10.1.0.4"],
      ["far → web:80/tcp", "timeout", null, null],
      ["outside → 10.1.0.2:80/tcp", "unreachable", null, null],
      ["outside → host1:5353/udp", "answer", "web", "203.0.113.1"],
      ["host1 → 127.0.0.1:5353/udp", "answer", "web", "10.1.0.1"],
      ["near → host1:5353/udp", "timeout", null, null],
      ["near → 10.1.0.1:5353/udp", "answer", "web", "10.1.0.1"],
      ["outside → host1:8083/tcp", "refused", null, null],
      ["host1 → 127.0.0.1:8083/tcp", "closed", null, null],
      ["near → host1:8083/tcp", "closed", null, null],
      ["near → outside:80/tcp", "answer", "outside", "192.168.99.1"],
      ["host1 → outside:80/udp", "answer", "outside", "192.168.99.1"],
      ["shut → outside:80/tcp", "timeout", null, null],
      ["lonely → outside:80/tcp", "unreachable", null, null],
      ["outside → host1:9999/tcp", "refused", null, null],
    ])
  })

  it("icc=false drops a neighbour's direct connection, and the published port still answers it by hairpin", () => {
    expect(
      predictions(`networks:
  - { name: quiet, subnet: 10.5.0.0/24, options: { com.docker.network.bridge.enable_icc: "false" } }
containers:
  - { name: web, networks: [quiet], listen: [80/tcp], ports: ["8080:80"] }
  - { name: peer, networks: [quiet] }
expect:
  connect:
    - { from: peer, to: web, port: 80 }
    - { from: peer, to: "host1:8080" }
`),
    ).toEqual([
      ["peer → web:80/tcp", "timeout", null, null],
      ["peer → host1:8080/tcp", "answer", "web", "10.5.0.1"],
    ])
  })

  it("ports a leave left on an internal network are docker-proxy's alone: every path is seen from its gateway (fixture three-networks-internal-left)", () => {
    expect(
      predictions(`networks:
  - { name: beta, subnet: 10.46.0.0/24 }
  - { name: inner, subnet: 10.47.0.0/24, internal: true }
containers:
  - { name: web, networks: [beta, inner], listen: [80/tcp, 53/udp], ports: ["8520:80", "8520:53/udp"] }
  - { name: nb, networks: [beta] }
steps:
  - disconnect: { container: web, network: beta }
expect:
  connect:
    - { from: outside, to: "host1:8520" }
    - { from: outside, to: "host1:8520", proto: udp }
    - { from: host1, to: 127.0.0.1, port: 8520 }
    - { from: nb, to: "host1:8520" }
    - { from: web, to: outside, port: 80 }
`),
    ).toEqual([
      ["outside → host1:8520/tcp", "answer", "web", "10.47.0.1"],
      ["outside → host1:8520/udp", "answer", "web", "10.47.0.1"],
      ["host1 → 127.0.0.1:8520/tcp", "answer", "web", "10.47.0.1"],
      ["nb → host1:8520/tcp", "answer", "web", "10.47.0.1"],
      ["web → outside:80/tcp", "timeout", null, null],
    ])
  })

  it("the host's own connection to another bridge's gateway is masqueraded by that bridge's subnet rule after DNAT (fixture ports-bound-to-gateway)", () => {
    expect(
      predictions(`networks:
  - { name: front, subnet: 10.61.0.0/24 }
  - { name: back, subnet: 10.62.0.0/24 }
containers:
  - { name: web, networks: [front], listen: [80/tcp], ports: ["10.61.0.1:8600:80"] }
  - { name: api, networks: [back], listen: [80/tcp], ports: ["172.17.0.1:8602:80"] }
expect:
  connect:
    - { from: host1, to: 10.61.0.1, port: 8600 }
    - { from: host1, to: 172.17.0.1, port: 8602 }
`),
    ).toEqual([
      ["host1 → 10.61.0.1:8600/tcp", "answer", "web", "10.61.0.1"],
      ["host1 → 172.17.0.1:8602/tcp", "answer", "api", "10.62.0.1"],
    ])
  })

  it("masquerading off is any false Go's ParseBool reads (F, FALSE, False too), on the way out and on the host's DNAT in OUTPUT", () => {
    expect(
      predictions(`networks:
  - { name: front, subnet: 10.61.0.0/24 }
  - { name: quiet, subnet: 10.63.0.0/24, options: { com.docker.network.bridge.enable_ip_masquerade: "False" } }
containers:
  - { name: web, networks: [front], listen: [80/tcp], ports: ["10.63.0.1:8604:80"] }
  - { name: q1, networks: [quiet] }
expect:
  connect:
    - { from: q1, to: outside, port: 80 }
    - { from: host1, to: 10.63.0.1, port: 8604 }
`),
    ).toEqual([
      ["q1 → outside:80/tcp", "timeout", null, null],
      ["host1 → 10.63.0.1:8604/tcp", "answer", "web", "10.63.0.1"],
    ])
  })
})
