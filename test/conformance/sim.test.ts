import { allCapabilities, layer, layerWith } from "../../backends/sim/layer.ts"
import { conformanceSuite } from "./suite.ts"

// the simulator with everything, and as this machine's kernel is (no ipvlan, dummy, 802.1Q or ESP), so that
// the capability-dependent cases are exercised both ways
conformanceSuite("sim", () => layer, { capabilities: allCapabilities })

conformanceSuite(
  "sim without ipvlan, dummy, vlan and esp",
  () => layerWith({ capabilities: { ipvlan: false, dummy: false, vlan: false, esp: false } }),
  { capabilities: { ...allCapabilities, ipvlan: false, dummy: false, vlan: false, esp: false } },
)

// the simulator balancing as the linux backend does where the kernel has ip_vs: the IPVS form's
// mark chain, fwmark services, round robin in LOCAL_IN (the ipvs cases run, the numgen ones are skipped by name)
conformanceSuite("sim with ipvs", () => layerWith({ capabilities: { ipvs: true } }), { capabilities: { ...allCapabilities, ipvs: true } })
