import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { isMap, isSeq, parseDocument } from "yaml"
import type { YAMLMap } from "yaml"
import { loadScenarioFile, loadScenarioText, renderScenarioInvalid } from "../../scenarios/load.ts"
import { errorOf, scenarioOf } from "./load-results.ts"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/scenarios/${name}`, import.meta.url))
const projectScenarios = fileURLToPath(new URL("../../scenarios/", import.meta.url))


/** a valid head for inline cases: every inline line number below counts from this */
const head = "version: 1\nname: inline\n"

describe("loader errors name the file, the line and the key path", () => {
  it("an unknown key, at the key's line, with the likely intended key", () => {
    const error = errorOf(loadScenarioFile(fixture("unknown-key.yaml")))
    expect(error).toMatchObject({ file: fixture("unknown-key.yaml"), line: 5, path: "networks[0].sbnet" })
    expect(error.message).toContain('unknown key "sbnet"')
    expect(error.message).toContain('did you mean "subnet"')
  })

  it("an unknown key with no near miss lists the keys allowed there", () => {
    const error = errorOf(loadScenarioFile(fixture("unknown-key-far.yaml")))
    expect(error).toMatchObject({ line: 9, path: "containers[0].networks[0].adresses" })
    expect(error.message).toContain("allowed here: network, ip, aliases")
  })

  it("a wrong type says what was expected and what was found", () => {
    const error = errorOf(loadScenarioFile(fixture("wrong-type.yaml")))
    expect(error).toMatchObject({ line: 5, path: "networks[0].internal" })
    expect(error.message).toMatch(/expected boolean, got "yes"/)
  })

  it("a driver option must be a string, as Docker's options are", () => {
    const error = errorOf(loadScenarioFile(fixture("option-not-string.yaml")))
    expect(error).toMatchObject({ line: 6, path: 'networks[0].options["com.docker.network.bridge.enable_icc"]' })
    expect(error.message).toMatch(/expected string, got false/)
  })

  it("a bad CIDR is refused at load time", () => {
    const error = errorOf(loadScenarioFile(fixture("bad-cidr.yaml")))
    expect(error).toMatchObject({ line: 7, path: "networks[1].subnet" })
    expect(error.message).toContain('"10.300.0.0/24" is not an IPv4 CIDR')
  })

  it("a network nobody defined", () => {
    const error = errorOf(loadScenarioFile(fixture("unknown-network.yaml")))
    expect(error).toMatchObject({ line: 11, path: "containers[1].networks[1]" })
    expect(error.message).toContain('unknown network "net-typo"')
  })

  it("a YAML syntax error, at the line of the error", () => {
    const error = errorOf(loadScenarioFile(fixture("syntax-error.yaml")))
    expect(error).toMatchObject({ line: 5, path: "" })
    expect(error.message).toMatch(/^YAML syntax: /)
  })

  it("a file that cannot be read", () => {
    const error = errorOf(loadScenarioFile(fixture("no-such-file.yaml")))
    expect(error).toMatchObject({ line: 0, path: "" })
    expect(renderScenarioInvalid(error)).toBe(`${fixture("no-such-file.yaml")}: cannot read the scenario: no such file`)
  })

  it("renders as FILE:LINE: KEYPATH: message", () => {
    const error = errorOf(loadScenarioFile(fixture("bad-cidr.yaml")))
    expect(renderScenarioInvalid(error)).toBe(
      `${fixture("bad-cidr.yaml")}:7: networks[1].subnet: "10.300.0.0/24" is not an IPv4 CIDR such as 10.1.0.0/24`,
    )
  })

  it.each([
    ["version other than 1", "version: 2\nname: x\n", 1, "version", /must be the number 1/],
    ["version as a string", 'version: "1"\nname: x\n', 1, "version", /must be the number 1/],
    ["missing name", "# a comment\nversion: 1\n", 2, "name", /required key is missing/],
    ["empty file", "", 1, "", /the file is empty/],
    ["a list instead of a mapping", "- a\n", 1, "", /holds a list/],
    ["a string where a list belongs", `${head}containers:\n  - name: web\n    networks: bridge\n`, 5, "containers[0].networks", /expected array, got "bridge"/],
    ["a number as a network", `${head}containers:\n  - name: web\n    networks: [3]\n`, 5, "containers[0].networks[0]", /expected a network name or \{ network, ip, aliases \}, got 3/],
    ["a bad static address", `${head}networks:\n  - name: n1\n    subnet: 10.1.0.0/24\ncontainers:\n  - name: web\n    networks:\n      - network: n1\n        ip: 10.1.0.256\n`, 10, "containers[0].networks[0].ip", /not an IPv4 address/],
    ["a bad gateway", `${head}networks:\n  - name: n1\n    gateway: 10.1.0\n`, 5, "networks[0].gateway", /not an IPv4 address/],
    ["a bad ipRange", `${head}networks:\n  - name: n1\n    ipRange: 10.1.0.0\n`, 5, "networks[0].ipRange", /not an IPv4 CIDR/],
    ["an invalid top-level container name", `${head}containers:\n  - name: web\n  - name: "-db"\n`, 5, "containers[1].name", /invalid container name "-db"/],
    ["a one-character container name (Docker wants two at least)", `${head}containers:\n  - name: a\n`, 4, "containers[0].name", /invalid container name "a"/],
    ["a duplicate container", `${head}containers:\n  - name: web\n  - name: web\n`, 5, "containers[1].name", /duplicate container name "web" \(first at containers\[0\]\.name\)/],
    ["a duplicate network", `${head}networks:\n  - name: n1\n  - name: n1\n`, 5, "networks[1].name", /duplicate network name "n1"/],
    ["a top-level network named like a predefined one", `${head}networks:\n  - name: host\n`, 4, "networks[0].name", /predefined/],
    ["an unknown host", `${head}hosts:\n  - name: h1\ncontainers:\n  - name: web\n    host: h2\n`, 7, "containers[0].host", /unknown host "h2"/],
    ["an empty hosts list", `${head}hosts: []\n`, 3, "hosts", /at least one host/],
    ["an unknown container in a reach expectation", `${head}containers:\n  - name: web\nexpect:\n  reach:\n    - { from: web, to: dbb, reachable: true }\n`, 7, "expect.reach[0].to", /unknown container "dbb"/],
    ["an unknown network in a reach expectation", `${head}containers:\n  - name: web\n  - name: db\nexpect:\n  reach:\n    - { from: web, to: db, network: nope, reachable: true }\n`, 8, "expect.reach[0].network", /unknown network "nope"/],
    ["reachable is required", `${head}containers:\n  - name: web\nexpect:\n  reach:\n    - { from: web, to: web }\n`, 7, "expect.reach[0].reachable", /required key is missing/],
    ["a bad address in a resolve expectation", `${head}containers:\n  - name: web\nexpect:\n  resolve:\n    - { from: web, name: db, addresses: [db] }\n`, 7, "expect.resolve[0].addresses[0]", /not an IPv4 address/],
    ["a step with two operations", `${head}steps:\n  - removeNetwork: { name: a }\n    removeContainer: { name: b }\n`, 4, "steps[0]", /exactly one of .*; found removeNetwork and removeContainer/],
    ["a step with no operation", `${head}steps:\n  - expectError: InvalidName\n`, 4, "steps[0]", /found none/],
    ["an error code outside the contract", `${head}steps:\n  - removeNetwork: { name: a }\n    expectError: KernelError\n`, 5, "steps[0].expectError", /one of the contract's error codes/],
    ["an expect step expecting an error", `${head}steps:\n  - expect: {}\n    expectError: InvalidName\n`, 5, "steps[0].expectError", /cannot expect an error/],
    ["a misspelt step operation", `${head}steps:\n  - conect: { container: a, network: b }\n`, 4, "steps[0].conect", /did you mean "connect"/],
    ["a connect to a network no part of the file defines", `${head}containers:\n  - name: web\nsteps:\n  - connect: { container: web, network: nowhere }\n`, 6, "steps[0].connect.network", /unknown network "nowhere": no part of the file defines it/],
    ["a disconnect of a container no part of the file defines", `${head}steps:\n  - disconnect: { container: ghost, network: bridge }\n`, 4, "steps[0].disconnect.container", /unknown container "ghost": no part of the file defines it/],
    ["a removeNetwork of a network no part of the file defines", `${head}steps:\n  - createNetwork: { name: n1 }\n  - removeNetwork: { name: n2 }\n`, 5, "steps[1].removeNetwork.name", /unknown network "n2"/],
    ["a removeContainer of a container no part of the file defines", `${head}steps:\n  - createContainer: { name: c1 }\n  - removeContainer: { name: c2 }\n`, 5, "steps[1].removeContainer.name", /unknown container "c2"/],
    ["a createContainer step on a network no part of the file defines", `${head}steps:\n  - createContainer: { name: c1, networks: [n1] }\n`, 4, "steps[0].createContainer.networks[0]", /unknown network "n1"/],
    ["an in-step check from a container no part of the file defines", `${head}containers:\n  - name: web\nsteps:\n  - expect:\n      resolve:\n        - { from: gost, name: web }\n`, 8, "steps[0].expect.resolve[0].from", /unknown container "gost"/],
    ["an unknown host in a createContainer step", `${head}steps:\n  - createContainer: { name: c1, host: h9 }\n`, 4, "steps[0].createContainer.host", /unknown host "h9": no part of the file defines it \(not in hosts\)/],
    ["`default` is a network only as the first of a new container, as in Docker", `${head}containers:\n  - name: web\nsteps:\n  - connect: { container: web, network: default }\n`, 6, "steps[0].connect.network", /unknown network "default"/],
    ["a duplicate key", `${head}name: again\n`, 3, "", /YAML syntax: Map keys must be unique/],
    ["an alias without its anchor", `${head}description: *nowhere\n`, 3, "", /alias \*nowhere/],
  ])("%s", (_, text, line, path, message) => {
    const error = errorOf(loadScenarioText(text, "inline.yaml"))
    expect({ line: error.line, path: error.path }).toEqual({ line, path })
    expect(error.message).toMatch(message)
  })

  it("reports the problem nearest the top of the file, whatever the schema's field order", () => {
    // `name` (checked first by the schema) is wrong at line 4; the typo at line 2 comes first in the file
    const error = errorOf(loadScenarioText("version: 1\ndescripton: typo\nhosts: []\nname: 3\n", "inline.yaml"))
    expect(error).toMatchObject({ line: 2, path: "descripton" })
  })
})

describe("what loads", () => {
  it("x- keys are accepted at any level and left out of the scenario", () => {
    const scenario = scenarioOf(loadScenarioFile(fixture("full.yaml")))
    expect(JSON.stringify(scenario)).not.toMatch(/"x-/)
    expect(scenario.networks[0]?.options).toEqual({ "com.docker.network.bridge.enable_icc": "false" })
  })

  it("a JSON file loads", () => {
    const scenario = scenarioOf(loadScenarioFile(fixture("minimal.json")))
    expect(scenario.name).toBe("minimal-json")
    expect(scenario.containers).toEqual([{ name: "web", host: "host1", networks: [{ network: "net-a", aliases: [] }] }])
  })

  it("normalizes defaults and both network forms into one shape", () => {
    const scenario = scenarioOf(loadScenarioFile(fixture("full.yaml")))
    expect(scenario.hosts).toEqual([{ name: "alpha" }, { name: "beta" }])
    expect(scenario.networks).toEqual([
      {
        name: "net-a",
        driver: "bridge",
        subnet: "10.1.0.0/24",
        gateway: "10.1.0.1",
        ipRange: "10.1.0.128/25",
        internal: false,
        options: { "com.docker.network.bridge.enable_icc": "false" },
      },
      { name: "net-b", driver: "macvlan", internal: true, options: {} },
    ])
    expect(scenario.containers).toEqual([
      {
        name: "web",
        host: "alpha",
        networks: [
          { network: "net-a", aliases: [] },
          { network: "net-b", ip: "10.2.0.10", aliases: ["frontend"] },
        ],
      },
      { name: "db", host: "beta", networks: [{ network: "bridge", aliases: [] }] },
      { name: "cache", host: "alpha", networks: [{ network: "bridge", aliases: [] }] },
    ])
    expect(scenario.expect.resolve).toEqual([
      { from: "web", name: "db", addresses: [] },
      { from: "db", name: "web" },
    ])
  })

  it("turns each step into one tagged operation, keeping expectError", () => {
    const scenario = scenarioOf(loadScenarioFile(fixture("full.yaml")))
    expect(scenario.steps.map((step) => step.op)).toEqual([
      "createNetwork",
      "connect",
      "disconnect",
      "createContainer",
      "expect",
      "removeContainer",
      "createNetwork",
      "removeNetwork",
    ])
    expect(scenario.steps[1]).toEqual({ op: "connect", container: "web", network: "net-c", ip: "10.3.0.7", aliases: ["x"] })
    expect(scenario.steps[3]).toEqual({
      op: "createContainer",
      container: { name: "worker", host: "alpha", networks: [{ network: "net-c", aliases: [] }] },
    })
    expect(scenario.steps[6]).toMatchObject({ op: "createNetwork", expectError: "SubnetOverlap" })
    expect(scenario.steps[4]).toEqual({
      op: "expect",
      expect: { reach: [{ from: "worker", to: "web", network: "net-c", reachable: true }], resolve: [] },
    })
  })

  it("a minimal file gets one host, no networks, no containers", () => {
    const scenario = scenarioOf(loadScenarioText("version: 1\nname: bare\n", "bare.yaml"))
    expect(scenario).toEqual({
      version: 1,
      name: "bare",
      swarm: false,
      hosts: [{ name: "host1" }],
      severalHosts: false,
      networks: [],
      containers: [],
      steps: [],
      expect: { reach: [], resolve: [] },
    })
  })

  it("a step with expectError may name missing things and break formats on purpose", () => {
    const scenario = scenarioOf(loadScenarioFile(fixture("expected-refusals.yaml")))
    expect(scenario.steps.map((step) => ("expectError" in step ? step.expectError : undefined))).toEqual([
      "InvalidName",
      undefined,
      "ContainerNotFound",
      "NetworkNotFound",
      "InvalidSubnet",
      "ActiveEndpoints",
      "NetworkNotFound",
    ])
  })

  describe("a name the file defines is checked when the step runs, not here (the contract's \"Names and when they are checked\")", () => {
    it.each([
      ["a step using a network removed before", `${head}networks:\n  - name: n1\ncontainers:\n  - name: web\nsteps:\n  - removeNetwork: { name: n1 }\n  - connect: { container: web, network: n1 }\n`],
      ["a disconnect from a network whose removal failed (Docker: NotConnected)", `${head}networks:\n  - name: n0\n  - name: n1\ncontainers:\n  - { name: c0, networks: [n0] }\n  - { name: c1, networks: [n1] }\nsteps:\n  - removeNetwork: { name: n0 }\n  - disconnect: { container: c1, network: n0 }\n`],
      ["a removeContainer twice", `${head}containers:\n  - name: web\nsteps:\n  - removeContainer: { name: web }\n  - removeContainer: { name: web }\n`],
      ["the final expectations name a removed container", `${head}containers:\n  - name: web\n  - name: db\nsteps:\n  - removeContainer: { name: db }\nexpect:\n  reach:\n    - { from: web, to: db, reachable: false }\n    - { from: db, to: web, reachable: false }\n  resolve:\n    - { from: db, name: web, addresses: [] }\n`],
      ["a step using a container created only later", `${head}networks:\n  - name: n1\nsteps:\n  - connect: { container: late, network: n1 }\n  - createContainer: { name: late }\n`],
      ["a check from a network and container created only later", `${head}steps:\n  - expect:\n      reach:\n        - { from: late, to: late2, network: ln, reachable: false }\n  - createNetwork: { name: ln }\n  - createContainer: { name: late, networks: [ln] }\n  - createContainer: { name: late2, networks: [ln] }\n`],
      ["a network whose creating step is expected to fail", `${head}containers:\n  - name: web\nsteps:\n  - createNetwork: { name: n1, subnet: 10.1.0.0/33 }\n    expectError: InvalidSubnet\n  - connect: { container: web, network: n1 }\n`],
      ["a container whose creating step is expected to fail", `${head}steps:\n  - createContainer: { name: c1, networks: [nowhere] }\n    expectError: NetworkNotFound\n  - removeContainer: { name: c1 }\n`],
    ])("%s loads", (_, text) => {
      scenarioOf(loadScenarioText(text, "inline.yaml"))
    })
  })

  it("an empty expect, reach or resolve (YAML null) checks nothing, as the Docker recorder writes it", () => {
    const text = `${head}containers:\n  - name: web\nsteps:\n  - expect:\n  - expect:\n      reach:\n      resolve:\nexpect:\n`
    const scenario = scenarioOf(loadScenarioText(text, "inline.yaml"))
    expect(scenario.steps).toEqual([
      { op: "expect", expect: { reach: [], resolve: [] } },
      { op: "expect", expect: { reach: [], resolve: [] } },
    ])
    expect(scenario.expect).toEqual({ reach: [], resolve: [] })
  })

  it("names of containers created by steps are Docker's to judge, at run time", () => {
    const scenario = scenarioOf(loadScenarioText(`${head}steps:\n  - createContainer: { name: "-x" }\n`, "inline.yaml"))
    expect(scenario.steps[0]).toMatchObject({ op: "createContainer", container: { name: "-x" } })
  })

  it("any driver name loads (DriverNotFound is a run-time answer)", () => {
    const scenario = scenarioOf(loadScenarioText(`${head}networks:\n  - name: odd\n    driver: weave\n`, "inline.yaml"))
    expect(scenario.networks[0]?.driver).toBe("weave")
  })

  it("every scenario shipped in scenarios/ loads", () => {
    const files = readdirSync(projectScenarios).filter((name) => /\.(ya?ml|json)$/.test(name))
    const failures = files
      .map((name) => loadScenarioFile(`${projectScenarios}${name}`))
      .flatMap((result) => (result.ok ? [] : [renderScenarioInvalid(result.error)]))
    expect(failures).toEqual([])
  })
})

/** full-multihost.yaml: the same properties over the multi-host keys (underlay, a network's hosts, toHost …) */
for (const file of ["full.yaml", "full-multihost.yaml"]) describe(`properties of ${file}`, () => {
  /** every map of the file, by its path in the document */
  const mapPaths = (): Array<ReadonlyArray<string | number>> => {
    const paths: Array<ReadonlyArray<string | number>> = []
    const walk = (node: unknown, path: ReadonlyArray<string | number>): void => {
      if (isMap(node)) {
        paths.push(path)
        for (const pair of node.items) walk(pair.value, [...path, String((pair.key as { value: unknown }).value)])
      } else if (isSeq(node)) {
        node.items.forEach((item, index) => walk(item, [...path, index]))
      }
    }
    walk(parseDocument(fullText()).contents, [])
    return paths
  }
  const fullText = (): string => readFileSync(fixture(file), "utf8")

  it("adding x- keys anywhere changes nothing in the loaded scenario", () => {
    const baseline = scenarioOf(loadScenarioText(fullText(), file))
    const paths = mapPaths()
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.nat({ max: paths.length - 1 }),
            key: fc.string({ minLength: 1, maxLength: 8 }).map((suffix) => `x-${suffix}`),
            value: fc.jsonValue({ maxDepth: 2 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        (additions) => {
          const doc = parseDocument(fullText())
          for (const { at, key, value } of additions) {
            const map = paths[at]!.length === 0 ? doc.contents : doc.getIn(paths[at]!, true)
            ;(map as YAMLMap).set(key, doc.createNode(value))
          }
          expect(scenarioOf(loadScenarioText(doc.toString(), file))).toEqual(baseline)
        },
      ),
      { numRuns: 60 },
    )
  })

  it("an unknown key is reported at its own path and line, wherever it is", () => {
    const paths = mapPaths().filter((path) => path.at(-1) !== "options")
    fc.assert(
      fc.property(
        fc.nat({ max: paths.length - 1 }),
        fc.stringMatching(/^[a-z][a-zA-Z]{2,10}$/).map((word) => `zz${word}`),
        (at, key) => {
          const doc = parseDocument(fullText())
          const path = paths[at]!
          const map = (path.length === 0 ? doc.contents : doc.getIn(path, true)) as YAMLMap
          map.set(key, "surprise")
          const text = doc.toString()
          const error = errorOf(loadScenarioText(text, file))
          const line = text.split("\n").findIndex((source) => source.includes(`${key}:`)) + 1
          expect(error.path.endsWith(key)).toBe(true)
          expect(error.line).toBe(line)
          expect(error.message).toContain(`unknown key "${key}"`)
        },
      ),
      { numRuns: 60 },
    )
  })
})
