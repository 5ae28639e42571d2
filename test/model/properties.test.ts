/**
 * Random operation sequences against the model: invariants after every success, nothing
 * changed by a refusal (but Docker's pool cursor after a failed create), every earlier state intact, dynamic addresses equal to what a plain
 * scan of the network computes, and the reach matrix agreeing with predictReach.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { cidrContains, formatIPv4, lastAddress, parseCidr, parseIPv4, stripPrefix } from "../../model/cidr.ts"
import * as Model from "../../model/index.ts"
import { snapshot } from "./support.ts"

type Operation =
  | { readonly kind: "createNetwork"; readonly request: Model.NetworkRequest }
  | { readonly kind: "removeNetwork"; readonly name: string }
  | { readonly kind: "createContainer"; readonly request: Model.ContainerRequest }
  | { readonly kind: "removeContainer"; readonly name: string }
  | { readonly kind: "connect"; readonly container: string; readonly attach: Model.AttachRequest }
  | { readonly kind: "disconnect"; readonly container: string; readonly network: string }

const networkName = fc.oneof(
  { arbitrary: fc.constantFrom("n0", "n1", "n2", "n3"), weight: 4 },
  { arbitrary: fc.constantFrom("bridge", "host", "none", "ghost"), weight: 1 },
)
const containerName = fc.constantFrom("c0", "c1", "c2", "c3", "c4", "x")
const optional = <A>(arbitrary: fc.Arbitrary<A>) => fc.option(arbitrary, { nil: undefined, freq: 2 })

const networkRequest: fc.Arbitrary<Model.NetworkRequest> = fc
  .record({
    name: networkName,
    driver: optional(fc.constantFrom("bridge", "overlay", "macvlan", "ipvlan", "null", "bogus")),
    subnet: optional(
      fc.constantFrom(
        "10.0.0.0/29",
        "10.0.0.0/28",
        "10.0.0.8/29",
        "10.0.1.0/30",
        "10.0.1.0/31",
        "172.18.0.0/24",
        "192.168.0.0/20",
        "10.0.0.0/8",
        "bad",
      ),
    ),
    gateway: fc.option(fc.constantFrom("10.0.0.1", "10.0.0.6", "10.0.1.2", "172.18.0.9"), { nil: undefined, freq: 5 }),
    ipRange: fc.option(fc.constantFrom("10.0.0.4/30", "10.0.0.0/30", "10.0.1.0/32", "10.0.0.8/30"), { nil: undefined, freq: 4 }),
    internal: fc.boolean(),
    icc: optional(fc.constantFrom("false", "true", "0", "nope")),
  })
  .map(({ icc, ...request }) => ({
    ...request,
    ...(icc === undefined ? {} : { options: { "com.docker.network.bridge.enable_icc": icc } }),
  }))

const attachRequest: fc.Arbitrary<Model.AttachRequest> = fc.record({
  network: networkName,
  ip: fc.option(
    fc.constantFrom(
      "10.0.0.1",
      "10.0.0.2",
      "10.0.0.3",
      "10.0.0.5",
      "10.0.0.9",
      "10.0.1.1",
      "10.0.1.2",
      "172.18.0.5",
      "172.17.0.9",
      "nonsense",
    ),
    {
      nil: undefined,
      freq: 3,
    },
  ),
  aliases: fc.subarray(["a", "B", "svc"]),
})

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: networkRequest.map((request) => ({ kind: "createNetwork" as const, request })), weight: 3 },
  { arbitrary: networkName.map((name) => ({ kind: "removeNetwork" as const, name })), weight: 2 },
  {
    arbitrary: fc
      .record({ name: containerName, networks: fc.option(fc.array(attachRequest, { maxLength: 2 }), { nil: undefined }) })
      .map(({ name, networks }) => ({
        kind: "createContainer" as const,
        request: networks === undefined ? { name } : { name, networks },
      })),
    weight: 4,
  },
  { arbitrary: containerName.map((name) => ({ kind: "removeContainer" as const, name })), weight: 2 },
  {
    arbitrary: fc
      .record({ container: containerName, attach: attachRequest })
      .map((fields) => ({ kind: "connect" as const, ...fields })),
    weight: 4,
  },
  {
    arbitrary: fc
      .record({ container: containerName, network: networkName })
      .map((fields) => ({ kind: "disconnect" as const, ...fields })),
    weight: 3,
  },
)

const apply = (state: Model.CnmState, op: Operation): Model.Outcome<unknown> => {
  switch (op.kind) {
    case "createNetwork":
      return Model.createNetwork(state, op.request)
    case "removeNetwork":
      return Model.removeNetwork(state, op.name)
    case "createContainer":
      return Model.createContainer(state, op.request)
    case "removeContainer":
      return Model.removeContainer(state, op.name)
    case "connect":
      return Model.connect(state, op.container, op.attach)
    case "disconnect":
      return Model.disconnect(state, op.container, op.network)
  }
}

/** the attach requests an operation makes, if it creates endpoints */
const attachesOf = (op: Operation): ReadonlyArray<Model.AttachRequest> => {
  if (op.kind === "connect") return [op.attach]
  if (op.kind !== "createContainer") return []
  const networks = op.request.networks ?? []
  return networks.length === 0 ? [{ network: "bridge" }] : networks
}

/** the address IPAM must hand out, computed by scanning the network as it was before the operation */
const expectedDynamicAddress = (before: Model.CnmState, networkName: string): string => {
  const network = Model.network(before, networkName)!
  const subnet = parseCidr(network.subnet!)!
  const range = network.ipRange === undefined ? subnet : parseCidr(network.ipRange)!
  const taken = new Set(
    Model.endpointsOn(before, networkName).flatMap((endpoint) =>
      endpoint.address === undefined ? [] : [parseIPv4(stripPrefix(endpoint.address))],
    ),
  )
  taken.add(parseIPv4(network.gateway!)).add(subnet.base).add(lastAddress(subnet))
  for (let address = range.base; address <= lastAddress(range); address++) {
    if (!taken.has(address) && cidrContains(subnet, address)) return formatIPv4(address)
  }
  throw new Error("the model handed out an address where a scan finds none")
}

const checkNewEndpoints = (before: Model.CnmState, op: Operation, endpoints: ReadonlyArray<Model.Endpoint>) => {
  const attaches = attachesOf(op)
  expect(endpoints.map((endpoint) => endpoint.network)).toEqual(attaches.map((attach) => attach.network))
  endpoints.forEach((endpoint, index) => {
    const attach = attaches[index]!
    if (endpoint.address === undefined) return
    const address = stripPrefix(endpoint.address)
    expect(address).toBe(attach.ip ?? expectedDynamicAddress(before, endpoint.network))
  })
}

const checkReachMatrix = (state: Model.CnmState) => {
  const matrix = Model.predictReachMatrix(state)
  matrix.containers.forEach((from, fromIndex) => {
    matrix.targets.forEach((target, targetIndex) => {
      if (target.containerIndex === fromIndex) return
      expect(matrix.reachable(fromIndex, targetIndex)).toBe(Model.predictReach(state, from, target.container, target.address))
    })
  })
}

describe("random operation sequences", () => {
  it("keep every invariant, change nothing when refused (but the pool cursor), and leave earlier states intact", () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 60, size: "max" }), (operations) => {
        let state = Model.initialState()
        const history: Array<{ state: Model.CnmState; snapshot: string }> = [{ state, snapshot: snapshot(state) }]
        for (const op of operations) {
          const before = snapshot(state)
          const outcome = apply(state, op)
          if (outcome.ok) {
            expect(Model.checkInvariants(outcome.state)).toEqual([])
            if (op.kind === "connect") checkNewEndpoints(state, op, [outcome.value as Model.Endpoint])
            if (op.kind === "createContainer")
              checkNewEndpoints(state, op, (outcome.value as { endpoints: ReadonlyArray<Model.Endpoint> }).endpoints)
            state = outcome.state
            history.push({ state, snapshot: snapshot(state) })
          } else {
            expect(Model.errorCodes).toContain(outcome.error.code)
            expect(outcome.error.code).not.toBe("KernelError")
            expect(snapshot(state)).toBe(before)
            if (outcome.state !== undefined) {
              // the one trace Docker keeps of a refusal: a create that took a default pool before its
              // options failed leaves the pool cursor moved, and nothing else
              expect(op.kind).toBe("createNetwork")
              expect(outcome.error.code).toBe("InvalidOption")
              expect(outcome.state.poolCursor).not.toBe(state.poolCursor)
              expect(snapshot({ ...outcome.state, poolCursor: state.poolCursor })).toBe(before)
              expect(Model.checkInvariants(outcome.state)).toEqual([])
              state = outcome.state
              history.push({ state, snapshot: snapshot(state) })
            }
          }
        }
        for (const entry of history) expect(snapshot(entry.state)).toBe(entry.snapshot)
      }),
      { numRuns: 300 },
    )
  })

  it("give a reach matrix that agrees with predictReach", () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 50, size: "max" }), (operations) => {
        const state = operations.reduce((current, op) => {
          const outcome = apply(current, op)
          return outcome.state ?? current
        }, Model.initialState())
        checkReachMatrix(state)
      }),
      { numRuns: 200 },
    )
  })

  it("reach every operation and every refusal of the contract (the generator explores)", () => {
    const seen = new Set<string>()
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 60, size: "max" }), (operations) => {
        let state = Model.initialState()
        for (const op of operations) {
          const outcome = apply(state, op)
          seen.add(outcome.ok ? `ok:${op.kind}` : outcome.error.code)
          state = outcome.state ?? state
        }
      }),
      { numRuns: 200, seed: 42 },
    )
    for (const kind of ["createNetwork", "removeNetwork", "createContainer", "removeContainer", "connect", "disconnect"]) {
      expect(seen).toContain(`ok:${kind}`)
    }
    const refusals = new Set([...seen].filter((entry) => !entry.startsWith("ok:")))
    // the lab's own codes are reached by the lab's properties (lab-properties.test.ts)
    const hostCodes = Model.errorCodes.filter((code) => !Model.labErrorCodes.includes(code) && !Model.portErrorCodes.includes(code))
    expect(hostCodes.filter((code) => !refusals.has(code))).toEqual(["KernelError"])
  })
})
