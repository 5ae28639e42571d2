/**
 * The model's predictResolve and the controller's embedded DNS (its own incremental records,
 * answering real queries on the simulator) are two implementations of Docker's resolver. Here
 * both answer the same dotted queries — `name.network`, aliases, case, trailing dots, networks
 * the asker is not on — on one topology, as it changes.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import * as Model from "../../model/index.ts"

const queriesFor = (state: Model.CnmState): ReadonlyArray<string> => {
  const networkNames = Model.networks(state).map((network) => network.name)
  const names = [...Model.containers(state).map((container) => container.name), "svc", "front", "nobody"]
  const queries = new Set<string>()
  for (const name of names) {
    queries.add(name).add(name.toUpperCase()).add(`${name}.`)
    for (const network of networkNames) queries.add(`${name}.${network}`).add(`${name}.${network.toUpperCase()}`)
  }
  for (const network of networkNames) queries.add(network)
  return [...queries]
}

describe("predictResolve and the controller's DNS", () => {
  it("give the same answers to dotted queries as the topology changes", async () => {
    const lab = Effect.runSync(Lab.make(makeSimKernel(), { hosts: ["host1"], runId: "dnsagree" }))
    let state = Model.initialState()
    const both = (onModel: (s: Model.CnmState) => Model.Outcome<unknown>, onLab: Effect.Effect<unknown, unknown>) => {
      const outcome = onModel(state)
      if (!outcome.ok) throw new Error(`${outcome.error.code}: ${outcome.error.message}`)
      Effect.runSync(onLab)
      state = outcome.state
    }
    const compare = () => {
      for (const asker of Model.containers(state)) {
        for (const query of queriesFor(state)) {
          const answer = Effect.runSync(lab.resolve(asker.name, query))
          expect([...answer.addresses].sort(), `${asker.name} asks ${query}`).toEqual(
            [...Model.predictResolve(state, asker.name, query)].sort(),
          )
        }
      }
    }
    try {
      for (const network of [{ name: "n1" }, { name: "n2" }, { name: "side.net" }, { name: "ain", internal: true }]) {
        both((s) => Model.createNetwork(s, network), lab.createNetwork(network))
      }
      const containers: ReadonlyArray<Model.ContainerRequest> = [
        { name: "web", networks: [{ network: "n1", aliases: ["svc", "Front"] }] },
        { name: "api", networks: [{ network: "n1", aliases: ["svc"] }, { network: "ain", aliases: ["svc"] }] },
        { name: "dbl", networks: [{ network: "n1" }, { network: "n2" }, { network: "side.net" }] },
        { name: "other", networks: [{ network: "n2", aliases: ["svc"] }] },
        { name: "dot.ted", networks: [{ network: "side.net" }, { network: "ain" }] },
        { name: "classic" },
      ]
      for (const request of containers) both((s) => Model.createContainer(s, request), lab.createContainer(request))
      compare()
      both((s) => Model.disconnect(s, "api", "n1"), lab.disconnect("api", "n1"))
      const withAlias = { network: "n1", aliases: ["svc"] }
      both((s) => Model.connect(s, "other", withAlias), lab.connect("other", withAlias))
      both((s) => Model.connect(s, "classic", { network: "side.net" }), lab.connect("classic", { network: "side.net" }))
      compare()
    } finally {
      await Effect.runPromise(lab.close())
    }
  })
})
