/**
 * The loader on the contract's multi-host keys (../shared/spec/scenario-v1.md, "Several hosts"):
 * what loads and how it is normalized, and each bad input refused with the file, the line and the
 * key path. Whether a well-formed request makes sense (hosts on an overlay network, removeNetwork
 * with host on a swarm network) is the run's to answer with the contract's code, never the loader's.
 */
import { describe, expect, it } from "vitest"
import { loadScenarioText } from "../../scenarios/load.ts"
import { errorOf, scenarioOf } from "./load-results.ts"


const head = "version: 1\nname: inline\n"
const twoHosts = `${head}hosts:\n  - name: host1\n  - name: host2\n`

describe("multi-host keys load and normalize", () => {
  it("swarm, underlay, host addresses, per-host network settings, host removal and toHost", () => {
    const text = `${head}swarm: true
underlay: { subnet: 10.99.0.0/24 }
hosts:
  - { name: host1, address: 10.99.0.11/24 }
  - { name: host2, address: 10.99.0.12 }
networks:
  - { name: ov, driver: overlay }
  - name: mv
    driver: macvlan
    subnet: 10.99.0.0/24
    options: { parent: eth0 }
    hosts: [host1, { host: host2, ipRange: 10.99.0.160/27, gateway: 10.99.0.254 }]
containers:
  - { name: c1, host: host2, networks: [ov] }
steps:
  - createNetwork: { name: mv2, driver: ipvlan, hosts: [host2], options: { parent: eth0 } }
  - removeNetwork: { name: mv2, host: host2 }
expect:
  reach:
    - { from: c1, toHost: host1, reachable: true }
    - { from: c1, to: c1, network: ov, reachable: true }
`
    const scenario = scenarioOf(loadScenarioText(text, "inline.yaml"))
    expect(scenario.swarm).toBe(true)
    expect(scenario.severalHosts).toBe(true)
    expect(scenario.underlay).toBe("10.99.0.0/24")
    expect(scenario.hosts).toEqual([
      { name: "host1", address: "10.99.0.11/24" },
      { name: "host2", address: "10.99.0.12" },
    ])
    expect(scenario.networks[0]).not.toHaveProperty("hosts")
    expect(scenario.networks[1]?.hosts).toEqual([{ host: "host1" }, { host: "host2", ipRange: "10.99.0.160/27", gateway: "10.99.0.254" }])
    expect(scenario.steps[0]).toMatchObject({ op: "createNetwork", network: { name: "mv2", hosts: [{ host: "host2" }] } })
    expect(scenario.steps[1]).toEqual({ op: "removeNetwork", name: "mv2", host: "host2" })
    expect(scenario.expect.reach).toEqual([
      { from: "c1", toHost: "host1", reachable: true },
      { from: "c1", to: "c1", network: "ov", reachable: true },
    ])
  })

  it("a file without hosts, swarm or underlay is a single-host file, as before", () => {
    const scenario = scenarioOf(loadScenarioText(`${head}networks:\n  - name: a\n`, "inline.yaml"))
    expect(scenario).toMatchObject({ swarm: false, severalHosts: false, hosts: [{ name: "host1" }] })
    expect(scenario).not.toHaveProperty("underlay")
    expect(scenario.networks[0]).not.toHaveProperty("hosts")
  })

  it("declaring hosts, even one, makes the report speak of hosts", () => {
    expect(scenarioOf(loadScenarioText(`${head}hosts:\n  - name: host1\n`, "inline.yaml")).severalHosts).toBe(true)
    expect(scenarioOf(loadScenarioText(`${head}swarm: false\n`, "inline.yaml")).severalHosts).toBe(true)
  })

  it("hosts on an overlay network and a removeNetwork with host of a swarm network load: the run answers them", () => {
    const text = `${twoHosts}swarm: true\nnetworks:\n  - { name: ov, driver: overlay, hosts: [host1] }\nsteps:\n  - removeNetwork: { name: ov, host: host1 }\n`
    expect(scenarioOf(loadScenarioText(text, "inline.yaml")).networks[0]?.hosts).toEqual([{ host: "host1" }])
  })
})

describe("multi-host bad input names the file, the line and the key path", () => {
  const cases: ReadonlyArray<readonly [string, string, number, string, RegExp]> = [
    ["swarm not a boolean", `${head}swarm: yes please\n`, 3, "swarm", /expected boolean/],
    ["an unknown underlay key", `${head}underlay: { subnet: 10.0.0.0/24, mtu: 1500 }\n`, 3, "underlay.mtu", /unknown key "mtu"/],
    ["an underlay subnet that is not a CIDR", `${head}underlay:\n  subnet: 10.0.0.0/33\n`, 4, "underlay.subnet", /not an IPv4 CIDR/],
    ["a host address that is no address", `${head}hosts:\n  - name: host1\n    address: 192.168.99.300\n`, 5, "hosts[0].address", /not an IPv4 address/],
    ["an unknown host in a network's hosts", `${twoHosts}networks:\n  - name: mv\n    hosts: [host1, host3]\n`, 8, "networks[0].hosts[1]", /unknown host "host3": no part of the file defines it \(not in hosts\)/],
    ["an unknown host in a long-form entry", `${twoHosts}networks:\n  - name: mv\n    hosts:\n      - { host: hostX, ipRange: 10.0.0.0/28 }\n`, 9, "networks[0].hosts[0].host", /unknown host "hostX"/],
    ["a host listed twice for a network", `${twoHosts}networks:\n  - name: mv\n    hosts: [host1, host1]\n`, 8, "networks[0].hosts[1]", /listed twice/],
    ["a per-host ipRange that is not a CIDR", `${twoHosts}networks:\n  - name: mv\n    hosts:\n      - { host: host2, ipRange: 10.1.0.0 }\n`, 9, "networks[0].hosts[0].ipRange", /not an IPv4 CIDR/],
    ["a per-host gateway that is not an address", `${twoHosts}networks:\n  - name: mv\n    hosts:\n      - { host: host2, gateway: x }\n`, 9, "networks[0].hosts[0].gateway", /not an IPv4 address/],
    ["an unknown key in a per-host entry", `${twoHosts}networks:\n  - name: mv\n    hosts:\n      - { host: host2, subnet: 10.0.0.0/24 }\n`, 9, "networks[0].hosts[0].subnet", /unknown key "subnet"/],
    ["an unknown host in a createNetwork step", `${twoHosts}steps:\n  - createNetwork: { name: mv, hosts: [host9] }\n`, 7, "steps[0].createNetwork.hosts[0]", /unknown host "host9": no part of the file defines it/],
    ["an unknown host in a removeNetwork step", `${twoHosts}steps:\n  - removeNetwork: { name: bridge, host: host9 }\n`, 7, "steps[0].removeNetwork.host", /unknown host "host9": no part of the file defines it/],
    ["an unknown key in a removeNetwork step", `${twoHosts}steps:\n  - removeNetwork: { name: bridge, hots: host1 }\n`, 7, "steps[0].removeNetwork.hots", /unknown key "hots"/],
    ["an unknown toHost", `${twoHosts}containers:\n  - name: c1\nexpect:\n  reach:\n    - { from: c1, toHost: host7, reachable: true }\n`, 10, "expect.reach[0].toHost", /unknown host "host7": no part of the file defines it/],
    ["both to and toHost", `${twoHosts}containers:\n  - name: c1\nexpect:\n  reach:\n    - { from: c1, to: c1, toHost: host1, reachable: true }\n`, 10, "expect.reach[0]", /exactly one of to .* and toHost .*; found both/],
    ["neither to nor toHost", `${twoHosts}containers:\n  - name: c1\nexpect:\n  reach:\n    - { from: c1, reachable: true }\n`, 10, "expect.reach[0]", /found neither/],
    ["toHost with a network", `${twoHosts}containers:\n  - name: c1\nexpect:\n  reach:\n    - { from: c1, toHost: host1, network: bridge, reachable: true }\n`, 10, "expect.reach[0].network", /network goes with to/],
    ["an unknown toHost in a step's expect", `${twoHosts}containers:\n  - name: c1\nsteps:\n  - expect:\n      reach:\n        - { from: c1, toHost: nohost, reachable: false }\n`, 11, "steps[0].expect.reach[0].toHost", /unknown host "nohost"/],
  ]
  for (const [what, text, line, path, message] of cases) {
    it(what, () => {
      const error = errorOf(loadScenarioText(text, "inline.yaml"))
      expect({ file: error.file, line: error.line, path: error.path }).toEqual({ file: "inline.yaml", line, path })
      expect(error.message).toMatch(message)
    })
  }
})
