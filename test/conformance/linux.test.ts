import { Layer } from "effect"
import { layer, linuxAvailability, linuxCapabilities } from "../../backends/linux/index.ts"
import { conformanceSuite } from "./suite.ts"

// The shared suite on the real kernel. It needs root; without it the suite is skipped by name,
// with the reason. Capabilities are measured (each link kind really created in a scratch
// namespace), since the suite must know them when it declares its cases.
const availability = linuxAvailability()
const capabilities = availability.ok ? await linuxCapabilities() : undefined

conformanceSuite(
  "linux",
  () => Layer.orDie(layer),
  availability.ok ? { capabilities } : { skip: `linux backend (needs root: ${availability.reason})` },
)
