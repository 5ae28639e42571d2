/**
 * Random labs (one to three hosts, swarm or not) and random operation sequences on them: every
 * lab invariant after every success, a refusal changes nothing but Docker's allocator cursors,
 * earlier labs stay intact, the matrices agree with the single predictions, and a one-host lab
 * predicts what the one-host model predicts. Prints what the generators covered.
 */
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { hostState } from "../../model/lab-store.ts"
import { labSnapshot } from "./lab-support.ts"

type Operation =
  | { readonly kind: "createNetwork"; readonly request: Model.LabNetworkRequest }
  | { readonly kind: "removeNetwork"; readonly name: string; readonly host?: string }
  | { readonly kind: "createContainer"; readonly request: Model.LabContainerRequest }
  | { readonly kind: "removeContainer"; readonly name: string }
  | { readonly kind: "connect"; readonly container: string; readonly attach: Model.AttachRequest }
  | { readonly kind: "disconnect"; readonly container: string; readonly network: string }

const hostNames = ["host1", "host2", "host3"]
/** the value once in `every` draws, else undefined */
const sometimes = <A>(arbitrary: fc.Arbitrary<A>, every: number) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: every - 1 }, { arbitrary, weight: 1 })

const labRequest: fc.Arbitrary<Model.LabRequest> = fc.record({
  hosts: fc.integer({ min: 1, max: 3 }).map((count) => hostNames.slice(0, count).map((name) => ({ name }))),
  swarm: fc.boolean(),
})

const networkName = fc.oneof(
  { arbitrary: fc.constantFrom("n0", "n1", "ov0", "ov1", "mv0", "mv1"), weight: 8 },
  { arbitrary: fc.constantFrom("bridge", "ingress", "docker_gwbridge", "ghost"), weight: 1 },
)
const containerName = fc.oneof({ arbitrary: fc.constantFrom("c0", "c1", "c2", "c3", "c4", "c5"), weight: 12 }, { arbitrary: fc.constant("x"), weight: 1 })

/** mostly what works, now and then what Docker refuses */
const mostly = <A>(good: ReadonlyArray<A>, bad: ReadonlyArray<A>): fc.Arbitrary<A> =>
  fc.oneof({ arbitrary: fc.constantFrom(...good), weight: 8 }, { arbitrary: fc.constantFrom(...bad), weight: 1 })

const vlanOptions = fc.record(
  {
    parent: mostly(["eth0", "eth0", "eth0.10", "eth0.20"], ["eth9", "eth9.3", "eth0.5000", "lo"]),
    macvlan_mode: mostly(["bridge", "bridge", "private", "vepa", "passthru"], ["bogus"]),
    ipvlan_mode: mostly(["l2", "l3"], ["l4"]),
  },
  { requiredKeys: [] },
)
const overlayOptions = fc.option(
  fc.record(
    {
      encrypted: fc.constant(""),
      "com.docker.network.driver.mtu": mostly(["1400", "9000"], ["100", "abc", "-1"]),
      "com.docker.network.driver.overlay.vxlanid_list": mostly(["5000", "4097", "0"], ["x"]),
    },
    { requiredKeys: [] },
  ),
  { nil: {}, freq: 3 },
)

/** subnet, gateway and ip-range that mostly fit together, sometimes not */
const addressing = fc.oneof(
  { arbitrary: fc.constant({}), weight: 5 },
  { arbitrary: fc.constantFrom("192.168.99.0/24", "10.70.0.0/24", "10.70.0.0/25", "10.80.0.0/29", "172.18.0.0/16").map((subnet) => ({ subnet })), weight: 3 },
  { arbitrary: fc.constantFrom({ subnet: "192.168.99.0/24", gateway: "192.168.99.254" }, { subnet: "10.80.0.0/29", gateway: "10.80.0.6" }), weight: 2 },
  { arbitrary: fc.constant({ subnet: "192.168.99.0/24", gateway: "192.168.99.254", ipRange: "192.168.99.192/27" }), weight: 1 },
  { arbitrary: fc.constantFrom({ subnet: "bad" }, { gateway: "10.70.0.1" }, { subnet: "10.70.0.0/24", ipRange: "10.99.0.0/28" }), weight: 1 },
)

/** mostly the driver the name suggests (n: bridge, ov: overlay, mv: macvlan or ipvlan), sometimes any */
const driverFor = (name: string): fc.Arbitrary<string> =>
  fc.oneof(
    {
      arbitrary: name.startsWith("ov") ? fc.constant("overlay") : name.startsWith("mv") ? fc.constantFrom("macvlan", "macvlan", "ipvlan") : fc.constant("bridge"),
      weight: 6,
    },
    { arbitrary: fc.constantFrom("bridge", "overlay", "macvlan", "ipvlan", "null", "bogus"), weight: 1 },
  )

/** the hosts a local network goes on, some with their own ip-range; now and then one no lab has */
const hostSettings = (hosts: ReadonlyArray<string>) =>
  fc.oneof({ arbitrary: fc.subarray([...hosts], { minLength: 1 }), weight: 12 }, { arbitrary: fc.constant(["nowhere"]), weight: 1 }).chain((chosen) =>
    fc.tuple(
      ...chosen.map((host) =>
        fc.oneof(
          fc.constant<string | Model.HostNetworkSettings>(host),
          fc.record({ host: fc.constant(host), ipRange: fc.constantFrom("192.168.99.128/27", "192.168.99.160/27", "192.168.99.192/27") }),
        ),
      ),
    ),
  )

const networkRequest = (hosts: ReadonlyArray<string>): fc.Arbitrary<Model.LabNetworkRequest> =>
  networkName.chain((name) =>
    fc
      .record({
        driver: driverFor(name),
        addressing,
        internal: fc.boolean(),
        vlan: vlanOptions,
        overlay: overlayOptions,
        icc: sometimes(mostly(["false"], ["nope"]), 4),
        hosts: sometimes(hostSettings(hosts), 3),
      })
      .map(({ driver, addressing, vlan, overlay, icc, hosts: on, internal }) => ({
        name,
        driver,
        internal,
        ...addressing,
        ...(on === undefined ? {} : { hosts: on }),
        options: {
          ...(driver === "macvlan" || driver === "ipvlan" ? vlan : {}),
          ...(driver === "overlay" ? overlay : {}),
          ...(icc === undefined ? {} : { "com.docker.network.bridge.enable_icc": icc }),
        },
      })),
  )

const attachRequest: fc.Arbitrary<Model.AttachRequest> = fc.record({
  network: fc.oneof({ arbitrary: networkName, weight: 3 }, { arbitrary: fc.constant("bridge"), weight: 1 }),
  ip: sometimes(fc.constantFrom("192.168.99.130", "10.70.0.5", "10.80.0.2", "10.0.1.9"), 6),
  aliases: fc.subarray(["svc", "db"]),
}).map(({ ip, ...attach }) => (ip === undefined ? attach : { ...attach, ip }))

const operation = (hosts: ReadonlyArray<string>): fc.Arbitrary<Operation> => {
  const hostName = fc.oneof({ arbitrary: fc.constantFrom(...hosts), weight: 12 }, { arbitrary: fc.constant("nowhere"), weight: 1 })
  return fc.oneof(
    { arbitrary: networkRequest(hosts).map((request) => ({ kind: "createNetwork" as const, request })), weight: 3 },
    {
      arbitrary: fc.record({ name: networkName, host: sometimes(hostName, 4) }).map(({ name, host }) => ({
        kind: "removeNetwork" as const,
        name,
        ...(host === undefined ? {} : { host }),
      })),
      weight: 1,
    },
    {
      arbitrary: fc
        .record({ name: containerName, host: hostName, networks: fc.array(attachRequest, { maxLength: 2 }) })
        .map((request) => ({ kind: "createContainer" as const, request })),
      weight: 5,
    },
    { arbitrary: containerName.map((name) => ({ kind: "removeContainer" as const, name })), weight: 1 },
    { arbitrary: fc.record({ container: containerName, attach: attachRequest }).map((op) => ({ kind: "connect" as const, ...op })), weight: 2 },
    { arbitrary: fc.record({ container: containerName, network: networkName }).map((op) => ({ kind: "disconnect" as const, ...op })), weight: 1 },
  )
}

/** networks that mostly work, for the start of a sequence: overlays, macvlan on the underlay (with or without disjoint ranges), ipvlan, bridges */
const likelyNetwork = (hosts: ReadonlyArray<string>): fc.Arbitrary<Model.LabNetworkRequest> =>
  fc.oneof(
    fc.constantFrom<Model.LabNetworkRequest>(
      { name: "ov0", driver: "overlay" },
      { name: "ov1", driver: "overlay", internal: true },
      { name: "ov1", driver: "overlay", subnet: "10.70.0.0/24", options: { encrypted: "" } },
      { name: "n0" },
      { name: "n1", internal: true },
      { name: "n1", options: { "com.docker.network.bridge.enable_icc": "false" } },
    ),
    fc
      .record({
        mode: fc.constantFrom("bridge", "bridge", "private", "vepa", "passthru"),
        disjoint: fc.boolean(),
        parent: fc.constantFrom("eth0", "eth0", "eth0.10"),
      })
      .map(({ mode, disjoint, parent }) => ({
        name: "mv0",
        driver: "macvlan",
        subnet: "192.168.99.0/24",
        gateway: "192.168.99.254",
        options: { parent, macvlan_mode: mode },
        ...(disjoint ? { hosts: hosts.map((host, index) => ({ host, ipRange: `192.168.99.${128 + 32 * index}/27` })) } : {}),
      })),
    fc.constantFrom("l2", "l3").map((mode) => ({ name: "mv1", driver: "ipvlan", subnet: "10.90.0.0/24", options: { parent: "eth0", ipvlan_mode: mode } })),
  )

const likelyContainer = (hosts: ReadonlyArray<string>): fc.Arbitrary<Operation> =>
  fc
    .record({
      name: fc.constantFrom("c0", "c1", "c2", "c3", "c4", "c5"),
      host: fc.constantFrom(...hosts),
      networks: fc.array(
        fc.record({ network: fc.constantFrom("ov0", "ov1", "mv0", "mv1", "n0", "n1", "bridge"), aliases: fc.subarray(["svc", "db"]) }),
        { minLength: 1, maxLength: 2 },
      ),
    })
    .map((request) => ({ kind: "createContainer" as const, request }))

/** a lab and operations on it that name its hosts: likely networks and containers first, then anything */
const scenario = (maxLength: number, fixed?: Model.LabRequest) =>
  (fixed === undefined ? labRequest : fc.constant(fixed)).chain((request) => {
    const hosts = (request.hosts ?? [{ name: "host1" }]).map((host) => host.name)
    return fc
      .tuple(
        fc.array(likelyNetwork(hosts).map((request) => ({ kind: "createNetwork" as const, request })), { minLength: 1, maxLength: 4 }),
        fc.array(likelyContainer(hosts), { minLength: 1, maxLength: 6 }),
        fc.array(operation(hosts), { minLength: 1, maxLength, size: "max" }),
      )
      .map(([networks, containers, rest]): [Model.LabRequest, Array<Operation>] => [request, [...networks, ...containers, ...rest]])
  })

const apply = (lab: Model.LabState, op: Operation): Model.LabOutcome<unknown> => {
  switch (op.kind) {
    case "createNetwork":
      return Model.createLabNetwork(lab, op.request)
    case "removeNetwork":
      return Model.removeLabNetwork(lab, op.name, op.host)
    case "createContainer":
      return Model.createLabContainer(lab, op.request)
    case "removeContainer":
      return Model.removeLabContainer(lab, op.name)
    case "connect":
      return Model.connectLab(lab, op.container, op.attach)
    case "disconnect":
      return Model.disconnectLab(lab, op.container, op.network)
  }
}

const newLab = (request: Model.LabRequest): Model.LabState => {
  const checked = Model.createLab(request)
  if (!checked.ok) throw new Error(checked.error.message)
  return checked.value
}

/** a lab's snapshot without Docker's allocator cursors: what a refusal must leave as it was */
const withoutCursors = (lab: Model.LabState): string => {
  const parsed = JSON.parse(labSnapshot(lab)) as Record<string, unknown>
  const { counters: _counters, swarm: _swarm, serialCursors: _serial, ...rest } = parsed
  return JSON.stringify({ ...rest, counters: [lab.nextNetworkSeq, lab.nextContainerSeq] })
}

/** what the runs covered, printed at the end */
const covered = {
  labs: 0,
  hosts: new Map<number, number>(),
  swarms: 0,
  outcomes: new Map<string, number>(),
  drivers: new Map<string, number>(),
  crossHostPairs: 0,
  undetermined: 0,
  determined: 0,
  legs: 0,
  balancers: 0,
  vlanModes: new Set<string>(),
}
const count = (map: Map<string | number, number>, key: string | number) => map.set(key, (map.get(key) ?? 0) + 1)

const record = (lab: Model.LabState) => {
  for (const row of Model.labNetworks(lab)) {
    if (!row.network.predefined) count(covered.drivers as Map<string | number, number>, row.network.driver)
    const info = row.host === undefined ? undefined : Model.vlanInfo(lab, row.host, row.network.name)
    if (info !== undefined) covered.vlanModes.add(`${row.network.driver}:${info.mode}:${info.parentKind}`)
  }
  covered.legs += Model.labContainers(lab).filter((row) => Model.gatewayLegOf(lab, row.container.name) !== undefined).length
  covered.balancers += Model.loadBalancers(lab).filter((entry) => entry.network !== "ingress").length
}

afterAll(() => {
  const sorted = (map: Map<string | number, number>) => [...map].sort((a, b) => String(a[0]).localeCompare(String(b[0]))).map(([key, value]) => `${key} ${value}`).join(", ")
  console.log(
    [
      `[lab-properties] ${covered.labs} labs (hosts: ${sorted(covered.hosts as Map<string | number, number>)}; ${covered.swarms} swarms)`,
      `  outcomes: ${sorted(covered.outcomes as Map<string | number, number>)}`,
      `  networks made: ${sorted(covered.drivers as Map<string | number, number>)}; vlan kinds: ${[...covered.vlanModes].sort().join(", ")}`,
      `  gateway legs seen ${covered.legs}, load balancers seen ${covered.balancers}`,
      `  reach predictions across hosts ${covered.crossHostPairs}: ${covered.determined} determined, ${covered.undetermined} races`,
    ].join("\n"),
  )
})

describe("random lab operation sequences", () => {
  it("keep every lab invariant, change nothing when refused but Docker's cursors, and leave earlier labs intact", () => {
    fc.assert(
      fc.property(scenario(40), ([request, operations]) => {
        let lab = newLab(request)
        covered.labs++
        count(covered.hosts as Map<string | number, number>, lab.hosts.length)
        if (lab.swarm !== undefined) covered.swarms++
        expect(Model.checkLabInvariants(lab)).toEqual([])
        const history: Array<{ lab: Model.LabState; snapshot: string }> = [{ lab, snapshot: labSnapshot(lab) }]
        for (const op of operations) {
          const before = withoutCursors(lab)
          const outcome = apply(lab, op)
          count(covered.outcomes as Map<string | number, number>, outcome.ok ? `ok:${op.kind}` : outcome.error.code)
          if (outcome.ok) {
            expect(Model.checkLabInvariants(outcome.lab)).toEqual([])
            lab = outcome.lab
          } else if (outcome.lab !== undefined) {
            expect(withoutCursors(outcome.lab)).toBe(before)
            expect(Model.checkLabInvariants(outcome.lab)).toEqual([])
            lab = outcome.lab
          }
          history.push({ lab, snapshot: labSnapshot(lab) })
        }
        record(lab)
        for (const entry of history) expect(labSnapshot(entry.lab)).toBe(entry.snapshot)
      }),
      { numRuns: 250 },
    )
  })

  it("give matrices that agree with the single predictions", () => {
    fc.assert(
      fc.property(scenario(40), ([request, operations]) => {
        const lab = operations.reduce((current, op) => {
          const outcome = apply(current, op)
          return outcome.ok ? outcome.lab : (outcome.lab ?? current)
        }, newLab(request))
        for (const row of Model.predictLabReachMatrix(lab)) {
          expect(row.reachable).toBe(Model.predictLabReach(lab, row.from, row.to, row.address))
          if (Model.hostOf(lab, row.from) !== Model.hostOf(lab, row.to)) {
            covered.crossHostPairs++
            if (row.reachable === undefined) covered.undetermined++
            else covered.determined++
          }
        }
        const hostRows = Model.predictLabReachHosts(lab)
        expect(hostRows.length).toBe(Model.labContainers(lab).length * lab.hosts.length)
        for (const row of hostRows) expect(row.reachable).toBe(Model.predictLabReachHost(lab, row.from, row.host))
      }),
      { numRuns: 150 },
    )
  })

  it("on one host, predict what the one-host model predicts (but where it knew less: macvlan modes, the host's underlay address, two default routes)", () => {
    let compared = 0
    fc.assert(
      fc.property(scenario(40, {}), ([request, operations]) => {
        const lab = operations.reduce((current, op) => {
          const outcome = apply(current, op)
          return outcome.ok ? outcome.lab : (outcome.lab ?? current)
        }, newLab(request))
        const state = hostState(lab, 0)
        const own = lab.hosts[0]?.address
        for (const row of Model.predictLabReachMatrix(lab)) {
          const target = Model.labNetwork(lab, "host1", row.network) as Model.Network
          const mode = Model.vlanInfo(lab, "host1", row.network)?.mode
          // where the one-host model knew less: private and vepa siblings, the host's own address, two default routes (ipvlan l3 beside a gateway)
          const l3Source = Model.labEndpointsOf(lab, row.from).some((endpoint) => Model.vlanInfo(lab, "host1", endpoint.network)?.mode === "l3")
          if (row.address === own || mode === "private" || mode === "vepa" || l3Source) continue
          compared++
          expect(row.reachable, `${row.from} → ${row.to} ${row.address} on ${target.driver} ${row.network}`).toBe(
            Model.predictReach(state, row.from, row.to, row.address),
          )
        }
        for (const from of Model.labContainers(lab).map((row) => row.container.name)) {
          for (const name of ["c0", "c1", "svc", "db", "c2.n0", "c3.mv0"]) {
            expect(Model.predictLabResolve(lab, from, name)).toEqual(Model.predictResolve(state, from, name))
          }
        }
      }),
      { numRuns: 200 },
    )
    expect(compared).toBeGreaterThan(0)
  })

  it("resolve every container of a swarm network by name from every other one on it, on any host", () => {
    fc.assert(
      fc.property(scenario(40, { hosts: hostNames.map((name) => ({ name })), swarm: true }), ([request, operations]) => {
        const lab = operations.reduce((current, op) => {
          const outcome = apply(current, op)
          return outcome.ok ? outcome.lab : (outcome.lab ?? current)
        }, newLab(request))
        const onSwarm = Model.labEndpoints(lab).filter((endpoint) => Model.overlayInfo(lab, endpoint.network) !== undefined)
        for (const asker of onSwarm) {
          for (const target of onSwarm) {
            if (asker.network !== target.network) continue
            const answer = Model.predictLabResolve(lab, asker.container, `${target.container}.${target.network}`)
            expect(answer).toEqual([Model.stripPrefix(target.address as string)])
          }
        }
      }),
      { numRuns: 150 },
    )
  })

  it("reach every operation and every lab code of the contract (the generator explores)", () => {
    const seen = new Set<string>()
    fc.assert(
      fc.property(scenario(60), ([request, operations]) => {
        let lab = newLab(request)
        for (const op of operations) {
          const outcome = apply(lab, op)
          seen.add(outcome.ok ? `ok:${op.kind}` : outcome.error.code)
          lab = outcome.ok ? outcome.lab : (outcome.lab ?? lab)
        }
      }),
      { numRuns: 200, seed: 42 },
    )
    for (const kind of ["createNetwork", "removeNetwork", "createContainer", "removeContainer", "connect", "disconnect"]) {
      expect(seen).toContain(`ok:${kind}`)
    }
    expect(Model.labErrorCodes.filter((code) => !seen.has(code))).toEqual([])
  })
})
