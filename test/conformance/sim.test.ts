import { allCapabilities, layer, layerWith } from "../../backends/sim/layer.ts"
import { conformanceSuite } from "./suite.ts"

// the simulator with everything, and as this machine's kernel is (no ipvlan, no dummy), so that
// the capability-dependent cases are exercised both ways
conformanceSuite("sim", () => layer, { capabilities: allCapabilities })

conformanceSuite(
  "sim without ipvlan and dummy",
  () => layerWith({ capabilities: { ipvlan: false, dummy: false } }),
  { capabilities: { ...allCapabilities, ipvlan: false, dummy: false } },
)
