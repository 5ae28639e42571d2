// Starts the measurement thread from the TypeScript sources: a worker thread has a module loader
// of its own, so tsx is registered here too. The benchmark bundles worker.ts into a file of this
// name next to its own bundle instead (bench/compiled.mjs), and this one is not used there.
import { register } from "tsx/esm/api"

register()
await import("./worker.ts")
