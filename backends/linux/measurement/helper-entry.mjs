// Starts the measurement helper from the TypeScript sources (tsx, registered here: the helper is
// a process of its own). The benchmark bundles helper.ts into a file of this name next to its own
// bundle instead (bench/compiled.mjs), and this one is not used there.
import { register } from "tsx/esm/api"

register()
await import("./helper.ts")
