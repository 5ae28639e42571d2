/**
 * Generated sequences of container operations with published ports (specs that clash, bad specs,
 * ephemeral ports and ranges, internal, none and host networks, connects that move the gateway):
 * after every success the lab's invariants hold and every published port answers from outside
 * with its holder (when it listens); a refusal changes nothing. Prints what it covered, and fails
 * below the floors, so a generator that stops reaching PortInUse or InvalidPort is caught.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Model from "../../model/index.ts"
import { labOf, labSnapshot, network } from "./lab-support.ts"

type Operation =
  | { readonly kind: "createContainer"; readonly name: string; readonly networks: ReadonlyArray<string>; readonly ports: ReadonlyArray<string> }
  | { readonly kind: "connect"; readonly name: string; readonly network: string }
  | { readonly kind: "disconnect"; readonly name: string; readonly network: string }
  | { readonly kind: "removeContainer"; readonly name: string }

const names = fc.constantFrom("c0", "c1", "c2", "c3")
/** where connects and disconnects go: mostly networks that move the gateway, some refused */
const joinable = fc.constantFrom("alpha", "zeta", "hidden", "bridge", "alpha", "zeta", "none")
const networks = fc.constantFrom("alpha", "zeta", "hidden", "bridge", "none", "host")
const spec = fc.oneof(
  { arbitrary: fc.constantFrom("8080:80", "8080:80", "8081:80", "127.0.0.1:8080:80", "8080:80/udp", "80", "53/udp", "9000-9001:80", "7000-7002:80-82"), weight: 8 },
  { arbitrary: fc.constantFrom("8080:abc", "99999:80", "80/xyz", "1.2.3:80:80", "8094:", "80-81:90-92"), weight: 1 },
)

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("createContainer" as const), name: names, networks: fc.array(networks, { minLength: 1, maxLength: 2 }), ports: fc.array(spec, { maxLength: 2 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant("connect" as const), name: names, network: joinable }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("disconnect" as const), name: names, network: joinable }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant("removeContainer" as const), name: names }), weight: 1 },
)

const apply = (lab: Model.LabState, op: Operation): Model.LabOutcome<unknown> => {
  switch (op.kind) {
    case "createContainer":
      return Model.createLabContainer(lab, { name: op.name, networks: [...new Set(op.networks)].map((entry) => ({ network: entry })), ports: op.ports, listen: ["80/tcp", "53/udp"] })
    case "connect":
      return Model.connectLab(lab, op.name, { network: op.network })
    case "disconnect":
      return Model.disconnectLab(lab, op.name, op.network)
    case "removeContainer":
      return Model.removeLabContainer(lab, op.name)
  }
}

const start = labOf({}, network({ name: "alpha" }), network({ name: "zeta" }), network({ name: "hidden", internal: true }))

/** every published port of the lab answers from outside with its holder, or is refused by a holder that does not listen there */
const publishedPortsAnswer = (lab: Model.LabState): number => {
  let checked = 0
  for (const row of Model.labContainers(lab)) {
    for (const binding of Model.portBindingsOf(lab, row.container.name)) {
      if (binding.hostIp !== "") continue
      const prediction = Model.predictConnect(lab, "203.0.113.1/24", { from: "outside", to: { kind: "hostPort", host: "host1" }, port: binding.hostPort, proto: binding.proto === "udp" ? "udp" : "tcp" })
      const listens = Model.listensOn(lab, binding.container, binding.containerPort, binding.proto)
      expect(prediction.outcome).toBe(listens ? "answer" : "refused")
      if (listens) expect(prediction.answeredBy).toEqual([binding.container])
      checked++
    }
  }
  return checked
}

describe("generated sequences with published ports", () => {
  it("keep the invariants, change nothing when refused, and publish what answers", () => {
    const seen = new Map<string, number>()
    let portsChecked = 0
    let bindingsSeen = 0
    const note = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1)
    fc.assert(
      fc.property(fc.array(operation, { minLength: 5, maxLength: 25 }), (operations) => {
        let lab = start
        for (const op of operations) {
          const before = labSnapshot(lab)
          const bookkeeping = JSON.stringify(lab.ports)
          const outcome = apply(lab, op)
          if (!outcome.ok) {
            note(outcome.error.code)
            if (outcome.lab === undefined) {
              expect(labSnapshot(lab)).toBe(before)
              expect(JSON.stringify(lab.ports)).toBe(bookkeeping)
            }
            lab = outcome.lab ?? lab
            continue
          }
          note(`ok:${op.kind}`)
          lab = outcome.lab
          expect(Model.checkLabInvariants(lab)).toEqual([])
          portsChecked += publishedPortsAnswer(lab)
          bindingsSeen += Model.labContainers(lab).reduce((sum, row) => sum + Model.portBindingsOf(lab, row.container.name).length, 0)
        }
      }),
      { numRuns: 300, seed: 20261204 },
    )
    const table = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, count]) => `${key} ${count}`)
    console.log(`port sequences (300): ${table.join(", ")}; published ports asked from outside: ${portsChecked}; bindings held after successes: ${bindingsSeen}`)
    for (const kind of ["createContainer", "connect", "disconnect", "removeContainer"]) expect(seen.get(`ok:${kind}`) ?? 0).toBeGreaterThan(50)
    expect(seen.get("PortInUse") ?? 0).toBeGreaterThan(30)
    expect(seen.get("InvalidPort") ?? 0).toBeGreaterThan(30)
    expect(portsChecked).toBeGreaterThan(500)
  })
})
