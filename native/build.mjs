// Builds native/netns.c into build/cnmlab_netns.node with the system C compiler and the Node-API
// headers from the node-api-headers package: no node-gyp, no Python, no header download, so a
// fresh `npm ci` works with nothing but the npm registry. Node-API is ABI-stable, so the result
// loads on any Node >= 20 without a rebuild.
//
// Off Linux there is nothing to build: the linux backend reports itself unavailable instead.
import { spawnSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const sources = ["netns.c", "nftables.c"].map((file) => join(root, "native", file))
const output = join(root, "build", "cnmlab_netns.node")

if (process.platform !== "linux") {
  console.log(`cnmlab: skipping the netns addon (${process.platform} has no network namespaces)`)
  process.exit(0)
}

const require = createRequire(import.meta.url)
let includeDir
try {
  includeDir = require("node-api-headers").include_dir
} catch {
  console.error("cnmlab: node-api-headers is not installed; run npm install first")
  process.exit(1)
}

mkdirSync(dirname(output), { recursive: true })
const compiler = process.env.CC || "cc"
const args = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-shared", "-fPIC", "-I", includeDir, "-o", output, ...sources, "-ldl"]
const result = spawnSync(compiler, args, { stdio: "inherit" })
if (result.error) {
  console.error(`cnmlab: cannot run ${compiler}: ${result.error.message} (install a C compiler, e.g. apt-get install gcc)`)
  process.exit(1)
}
if (result.status !== 0) process.exit(result.status ?? 1)
console.log(`cnmlab: built ${output}`)
