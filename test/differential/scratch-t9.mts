import { Effect } from "effect"
import fc from "fast-check"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import * as model from "../../model/index.ts"
import { labTopology } from "../model-based/commands.ts"
for (const topo of fc.sample(labTopology(), { numRuns: 8, seed: 1 })) {
  const lab = Effect.runSync(Lab.make(makeSimKernel(), { hosts: ["host1"], runId: "x" }))
  const m = { state: model.initialState() }
  const log: string[] = []
  for (const c of topo) {
    c.run(m, { lab, handOver: (op) => { const o = op.onModel(m.state); const r = Effect.runSync(Effect.result(op.onLab(lab))); if (o.ok) m.state = o.state; log.push(`${c.toString()} => ${r._tag === "Failure" ? r.failure.code : "ok"}`) } })
  }
  console.log(log.join("\n"), "\n---")
}
