/**
 * Run by kill-run.test.ts as a separate process: builds a three-host swarm lab on the linux
 * backend (underlay, hosts, ingress and docker_gwbridge, an overlay and a local network,
 * containers on every host), prints `built`, closes it and prints `done`; the test kills it at
 * random points of its setup (before `built`). Its run id starts with its pid in base 36, as `cnmlab run`'s do.
 */
import { Effect } from "effect"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { Lab } from "../../controller/Lab.ts"

const kernel = await makeLinuxKernel()
const lab = await Effect.runPromise(
  Lab.make(kernel, { hosts: ["h1", "h2", "h3"], swarm: true, runId: `${process.pid.toString(36)}mh` }),
)
await Effect.runPromise(lab.createNetwork({ name: "ov", driver: "overlay" }))
await Effect.runPromise(lab.createNetwork({ name: "front", subnet: "10.63.0.0/24" }))
await Effect.runPromise(
  lab.createContainers(
    ["h1", "h2", "h3"].flatMap((host, i) => [
      { name: `o${i}`, host, networks: [{ network: "ov" }] },
      { name: `f${i}`, host, networks: [{ network: "front" }, { network: "ov" }] },
    ]),
  ),
)
process.stdout.write("built\n")
await Effect.runPromise(lab.close())
process.stdout.write("done\n")
