/**
 * Run by crash.test.ts as a separate process: creates namespaces through the linux backend,
 * prints their names, then waits to be killed with SIGKILL (so nothing of ours can clean up).
 */
import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"

const names = process.argv.slice(2)
const kernel = await makeLinuxKernel()
await Effect.runPromise(
  kernel.apply([
    ...names.map((ns) => ({ op: "nsAdd", ns }) as const),
    // a veth across two of them, and a DNS server: state a real crash would leave behind
    { op: "linkAdd", ns: names[0] as string, link: { kind: "veth", name: "x0", peer: { name: "x1", ns: names[1] as string } } },
  ]),
)
await Effect.runPromise(kernel.serveDns(names[0] as string, "127.0.0.11", { resolver: "r", networks: [] }))
process.stdout.write(`ready ${names.join(" ")}\n`)
setInterval(() => {}, 1000)
