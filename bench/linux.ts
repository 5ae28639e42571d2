/**
 * Benchmarks on the real kernel (root only), every measurement next to its baselines in the same
 * run, interleaved in rounds so that load from elsewhere on the machine hits both alike:
 * - container attach through the lab (Lab.createContainer on the default bridge network:
 *   namespace, veth made in place, address, up, default route; and on a user network, where the
 *   embedded DNS starts too) against the same operations sent straight to the Kernel interface,
 *   and against the same kernel work done by `ip -batch` (the floor: one container at a time,
 *   like an attach; and batched over a round of containers, like Lab.createContainers) and by one
 *   `ip` process per operation (as Mininet does), see ip-baselines.ts;
 * - network create through the lab;
 * - 1,000 containers on one bridge network: all created, then all removed (Lab.removeContainers),
 *   against removing them one at a time, and against closing the whole lab;
 * - `docker network connect` on the same machine when an engine is up (docker.ts);
 * - the measurement plane: probe and DNS round trips on an idle machine and under load (other
 *   labs churning namespaces in this process, a spinning process per core), next to the timeout,
 *   every answer also checked against the model (measurement-load.ts).
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { addon } from "../backends/linux/addon.ts"
import { makeLinuxKernel } from "../backends/linux/index.ts"
import type { RoundTrip } from "../backends/linux/kernel.ts"
import { measurementPlane } from "../backends/linux/measurement/plane.ts"
import type { KernelShape } from "../backends/Kernel.ts"
import type { KernelOp } from "../backends/kernel-types.ts"
import { CNMLAB_LINK_GROUP } from "../backends/kernel-types.ts"
import { Lab } from "../controller/Lab.ts"
import { measureDockerConnect } from "./docker.ts"
import { measuredLab, measureMany, startLoad } from "./measurement-load.ts"
import { timeNetworkCreate } from "./network-create.ts"
import { type BaselineHost, endpointOf, type FloorRound, floorOneAtATime, floorRound, IpSession, gatewayOf, IpNamespaces, ipPerOperation, iprouteVersion } from "./ip-baselines.ts"
import { barChart } from "./plot.ts"
import { median, ms, percentile } from "./stats.ts"
import { run, timed } from "./timing.ts"

const ROUNDS = 16
const PER_ROUND = 20
const WARMUP = 10
const NETWORK_SAMPLES = 15
const PER_OP_SAMPLES = 30
const BULK = 1000
const ONE_BY_ONE = 20

const GOALS = { attachToFloor: 1.3, up1000Ms: 5000, down1000Ms: 3000, loadedP99ToTimeout: 0.2, networkCreateP50Ms: 5 } as const
/** probes and DNS queries per phase of the measurement-plane benchmark */
const ROUND_TRIPS = { probes: 3000, questions: 1500, concurrency: 16 } as const
/** the backend's default timeout, against which the round trips are judged */
const MEASUREMENT_TIMEOUT_MS = 1000

type Say = (line: string) => void



/** a lab container's first address, without its prefix */
const addressOf = (lab: Lab, container: string): string => {
  const endpoint = lab.endpoints().find((e) => e.container === container && e.address !== undefined)
  if (!endpoint) throw new Error(`${container} has no address`)
  return (endpoint.address as string).split("/")[0] as string
}

/** the measurements are only worth something if what they built forwards packets */
const mustReach = async (kernel: KernelShape, from: string, address: string, what: string): Promise<void> => {
  const result = await run(kernel.probe(from, address))
  if (!result.reachable) throw new Error(`sanity check failed: ${what} (${address}) not reachable: ${result.reason}`)
}

/** Docker's MAC for an address: 02:42 and the address's four bytes */
const macOf = (address: string): string =>
  `02:42:${address
    .split(".")
    .map((b) => Number(b).toString(16).padStart(2, "0"))
    .join(":")}`

const fsTypeOf = (path: string): string =>
  spawnSync("findmnt", ["-n", "-o", "FSTYPE", "-T", path], { encoding: "utf8" }).stdout?.trim() || "unknown"

interface AttachSamples {
  readonly userNetwork: number[]
  readonly defaultBridge: number[]
  readonly kernelOnly: number[]
  /** per container: its share of a batched round of the floor */
  readonly floorBatched: number[]
  /** per round: the mean of floorBatched over the round's containers, the lab's batched statistic */
  readonly floorBatchedRounds: number[]
  /** per container: the floor's work for it alone, ip already running */
  readonly floor: number[]
  readonly floorWithIpProcess: number[]
  readonly floorGlobalShare: number[]
  readonly floorParts: Array<FloorRound["globalParts"]>
  readonly floorInNamespace: number[]
  /** per container, per round: Lab.createContainers of a whole round, divided by its size */
  readonly batched: number[]
}

/** lab attaches and the floor, in alternating rounds, plus network creates and the per-op baseline */
const measureAttach = async (say: Say, runId: string) => {
  const native = addon()
  const kernel = await makeLinuxKernel()
  const made = new IpNamespaces(native)
  const sessions: IpSession[] = []
  try {
    // Every variant attaches to a bridge of its own, and each bridge ends with the same number of
    // ports: adding a port costs the bridge more the more ports it has (br_add_if walks them), so
    // variants sharing a bridge would not be measured alike. The batched lab containers go to the
    // default bridge of a lab of their own for that reason (a second host of the same lab would
    // double the work of every network create measured below).
    const lab = await run(Lab.make(kernel, { hosts: ["bench"], runId: `${runId}a` }))
    const batchLab = await run(Lab.make(kernel, { hosts: ["batch"], runId: `${runId}c` }))
    say(`linux: network create through the lab, ${NETWORK_SAMPLES} networks…`)
    // warm-up (JIT, the first libnftables context) in a lab of its own, whose tables stay apart
    // (it lives until the kernel closes: Lab.close closes the kernel)
    const warmLab = await run(Lab.make(kernel, { hosts: ["warm"], runId: `${runId}w` }))
    for (let i = 0; i < WARMUP / 2; i++) await run(warmLab.createNetwork({ name: `w${i}`, subnet: `10.240.${i}.0/24` }))
    const networkCreate: number[] = []
    /** the process's CPU time (all threads) per create: what a busy machine cannot inflate */
    const networkCreateCpu: number[] = []
    for (let i = 0; i < NETWORK_SAMPLES; i++) {
      const create = await timeNetworkCreate(lab, `n${i}`, `10.241.${i}.0/24`)
      networkCreate.push(create.ms)
      networkCreateCpu.push(create.cpuMs)
    }
    say(`  p50 ${median(networkCreate).toFixed(2)} ms (CPU ${median(networkCreateCpu).toFixed(2)} ms), p99 ${percentile(networkCreate, 99).toFixed(2)} ms (goal <= ${GOALS.networkCreateP50Ms} ms)`)
    await run(lab.createNetwork({ name: "attach", subnet: "10.221.0.0/16" }))

    const floorHost: BaselineHost = { ns: `cnm-${runId}-iph`, bridge: "br0", net16: "10.222" }
    const oneAtATimeHost: BaselineHost = { ns: floorHost.ns, bridge: "br1", net16: "10.232" }
    await run(
      kernel.apply([
        { op: "nsAdd", ns: floorHost.ns },
        { op: "linkSet", ns: floorHost.ns, name: "lo", up: true },
        ...[floorHost, oneAtATimeHost].flatMap((h): KernelOp[] => [
          { op: "linkAdd", ns: h.ns, link: { kind: "bridge", name: h.bridge, up: true } },
          { op: "addrAdd", ns: h.ns, dev: h.bridge, cidr: `${h.net16}.0.1/16` },
        ]),
      ]),
    )
    const ipPrefix = `cnm-${runId}-ip`
    // the lab's kernel work without the lab: the operations the controller sends, in the same
    // four applies, straight to the kernel interface (what the controller and model add is the rest)
    const directHost = `cnm-${runId}-kh`
    await run(
      kernel.apply([
        { op: "nsAdd", ns: directHost },
        { op: "linkSet", ns: directHost, name: "lo", up: true },
        { op: "linkAdd", ns: directHost, link: { kind: "bridge", name: "br0", up: true } },
        { op: "addrAdd", ns: directHost, dev: "br0", cidr: "10.223.0.1/16" },
      ]),
    )
    // where the kernel interface's time goes: the apply with nsAdd and lo up, the veth, the rest
    const kernelParts = { namespace: [] as number[], veth: [] as number[], inNamespace: [] as number[] }
    let directIndex = 0
    const directRound = async (count: number, into?: number[]) => {
      for (let k = 0; k < count; k++) {
        const i = directIndex++
        const ns = `cnm-${runId}-kd${i}`
        const address = `10.223.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}`
        const started = performance.now()
        await run(kernel.apply([{ op: "nsAdd", ns }, { op: "linkSet", ns, name: "lo", up: true }]))
        const namespaceDone = performance.now()
        await run(
          kernel.apply([
            {
              op: "linkAdd",
              ns: directHost,
              link: { kind: "veth", name: `kv${i}`, master: "br0", up: true, group: CNMLAB_LINK_GROUP, peer: { name: "eth0", ns, mac: macOf(address) } },
            },
          ]),
        )
        const vethDone = performance.now()
        await run(kernel.apply([{ op: "addrAdd", ns, dev: "eth0", cidr: `${address}/16` }, { op: "linkSet", ns, name: "eth0", up: true }]))
        await run(kernel.apply([{ op: "routeAdd", ns, route: { dst: "default", via: "10.223.0.1", dev: "eth0" } }]))
        const done = performance.now()
        into?.push(done - started)
        if (into) {
          kernelParts.namespace.push(namespaceDone - started)
          kernelParts.veth.push(vethDone - namespaceDone)
          kernelParts.inNamespace.push(done - vethDone)
        }
      }
    }

    let labIndex = 0
    let floorIndex = 0
    const attachRound = async (count: number, network: string, into?: number[]) => {
      for (let k = 0; k < count; k++) {
        const name = `c${labIndex++}`
        const cost = await timed(() => run(lab.createContainer({ name, networks: [{ network }] })))
        into?.push(cost)
      }
    }
    // warm-up (JIT, first-use costs on both sides): not counted
    await attachRound(WARMUP, "attach")
    await attachRound(WARMUP, "bridge")
    await directRound(WARMUP)
    await floorRound(native, made, floorHost, ipPrefix, floorIndex, WARMUP)
    floorIndex += WARMUP

    const oneAtATimeSession = await IpSession.start(native, [], floorHost.ns)
    sessions.push(oneAtATimeSession)
    const batchedNames: string[] = []
    let lastOneAtATime = -1
    const batchedRound = async (count: number, into?: number[]) => {
      const requests = Array.from({ length: count }, () => ({ name: `c${labIndex++}`, networks: [{ network: "bridge" }] }))
      batchedNames.push(...requests.map((r) => r.name))
      const cost = await timed(() => run(batchLab.createContainers(requests)))
      into?.push(cost / count)
    }
    await batchedRound(WARMUP)
    const samples: AttachSamples = {
      userNetwork: [],
      defaultBridge: [],
      kernelOnly: [],
      floorBatched: [],
      floorBatchedRounds: [],
      floor: [],
      floorWithIpProcess: [],
      floorGlobalShare: [],
      floorParts: [],
      floorInNamespace: [],
      batched: [],
    }
    for (let round = 0; round < ROUNDS; round++) {
      say(`linux: attach round ${round + 1} of ${ROUNDS} (${PER_ROUND} each: lab on a user network, lab on the default bridge, kernel interface alone, lab batched, ip -batch one container at a time, ip -batch over the round)…`)
      const floorBatched = async () => {
        const measured = await floorRound(native, made, floorHost, ipPrefix, floorIndex, PER_ROUND)
        floorIndex += PER_ROUND
        samples.floorBatched.push(...measured.perContainerMs)
        samples.floorBatchedRounds.push(measured.perContainerMs.reduce((sum, v) => sum + v, 0) / measured.perContainerMs.length)
        samples.floorWithIpProcess.push(...measured.withIpProcessMs)
        samples.floorGlobalShare.push(measured.globalBatchPerContainerMs)
        samples.floorParts.push(measured.globalParts)
        samples.floorInNamespace.push(...measured.inNamespaceMs)
      }
      const floor = async () => {
        for (let k = 0; k < PER_ROUND; k++) {
          lastOneAtATime = floorIndex++
          samples.floor.push(await floorOneAtATime(native, made, oneAtATimeSession, oneAtATimeHost, ipPrefix, lastOneAtATime))
        }
      }
      const parts = [
        () => attachRound(PER_ROUND, "attach", samples.userNetwork),
        () => attachRound(PER_ROUND, "bridge", samples.defaultBridge),
        () => directRound(PER_ROUND, samples.kernelOnly),
        () => batchedRound(PER_ROUND, samples.batched),
        floorBatched,
        floor,
      ]
      // each part takes every place in the order equally often: what one part leaves the kernel
      // to finish in the background (namespace set-up work, RCU) falls on every part alike
      for (let k = 0; k < parts.length; k++) await (parts[(round + k) % parts.length] as () => Promise<void>)()
    }
    // c0, c1 are warm-up containers on the user network; c10, c11 on the default bridge
    const sandbox = (name: string) => lab.controllerOf(name)?.sandboxOf(name) as string
    await mustReach(kernel, sandbox("c0"), addressOf(lab, "c1"), "lab container to lab container, user network")
    await mustReach(kernel, sandbox(`c${WARMUP}`), addressOf(lab, `c${WARMUP + 1}`), "lab container to lab container, default bridge")
    const [firstBatched, secondBatched] = batchedNames as [string, string]
    const batchedSandbox = batchLab.controllerOf(firstBatched)?.sandboxOf(firstBatched) as string
    await mustReach(kernel, batchedSandbox, addressOf(batchLab, secondBatched), "lab container to lab container, made together")
    await mustReach(kernel, `${ipPrefix}-f0`, endpointOf(floorHost, 1).address, "floor container to floor container")
    await mustReach(kernel, `${ipPrefix}-s${lastOneAtATime}`, gatewayOf(oneAtATimeHost), "floor container made one at a time to its gateway")

    say(`linux: one ip process per operation, ${PER_OP_SAMPLES} containers…`)
    const perOp: number[] = []
    for (let k = 0; k < PER_OP_SAMPLES; k++) perOp.push(await ipPerOperation(native, made, floorHost, ipPrefix, floorIndex++))
    await mustReach(kernel, `${ipPrefix}-p${floorIndex - 1}`, gatewayOf(floorHost), "per-op container to its gateway")
    return { samples, networkCreate, networkCreateCpu, perOp, kernelParts }
  } finally {
    for (const session of sessions) session.close()
    made.removeAll()
    await Effect.runPromise(kernel.close())
  }
}

/** 1,000 containers on one bridge network: up, down in one batch, one by one, and by closing the lab */
const measureBulk = async (say: Say, runId: string) => {
  const kernel = await makeLinuxKernel()
  try {
    const lab = await run(Lab.make(kernel, { hosts: ["bench"], runId: `${runId}b` }))
    await run(lab.createNetwork({ name: "bulk", subnet: "10.230.0.0/16" }))
    const createAll = async (prefix: string, count: number): Promise<{ names: string[]; costs: number[]; ms: number }> => {
      const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`)
      const costs: number[] = []
      const started = performance.now()
      for (const name of names) costs.push(await timed(() => run(lab.createContainer({ name, networks: [{ network: "bulk" }] }))))
      return { names, costs, ms: performance.now() - started }
    }

    say(`linux: ${BULK} containers on one bridge network through the lab…`)
    const up = await createAll("u", BULK)
    const sandboxOf = (name: string) => lab.controllerOf(name)?.sandboxOf(name) as string
    await mustReach(kernel, sandboxOf("u0"), addressOf(lab, `u${BULK - 1}`), `first to last of ${BULK}`)
    say(`  up in ${up.ms.toFixed(0)} ms; removing them all (Lab.removeContainers)…`)
    const downMs = await timed(() => run(lab.removeContainers(up.names)))
    const left = (await run(kernel.namespaces())).filter((ns) => ns.includes("-c-"))
    if (left.length > 0) throw new Error(`after removeContainers, ${left.length} sandboxes are left`)
    say(`  down in ${downMs.toFixed(0)} ms`)

    say(`linux: baseline, ${ONE_BY_ONE} containers removed one at a time…`)
    const single = await createAll("s", ONE_BY_ONE)
    const oneByOne: number[] = []
    for (const name of single.names) oneByOne.push(await timed(() => run(lab.removeContainer(name))))

    say(`linux: ${BULK} containers again, then the whole lab closed…`)
    const again = await createAll("v", BULK)
    const closeMs = await timed(() => run(lab.close()))
    return { up, downMs, oneByOne, again, closeMs }
  } finally {
    await Effect.runPromise(kernel.close())
  }
}

interface PhaseTrips {
  readonly probe: number[]
  readonly dns: number[]
  /** measurements that disagreed with the model (false timeouts, false unreachables) */
  readonly wrong: number
}

/** probe and DNS round trips, on the helper's clock, idle and then under load */
const measureRoundTrips = async (say: Say, runId: string) => {
  let current: RoundTrip[] = []
  const kernel = await makeLinuxKernel({ timeoutMs: MEASUREMENT_TIMEOUT_MS, onRoundTrip: (trip) => current.push(trip) })
  try {
    const target = await measuredLab(kernel, `${runId}m`)
    const phase = async (): Promise<PhaseTrips> => {
      current = []
      const measured = await measureMany(target, { ...ROUND_TRIPS, answeredOnly: true })
      const answered = (kind: RoundTrip["kind"]) => current.filter((t) => t.kind === kind && t.answered).map((t) => t.ms)
      return { probe: answered("probe"), dns: answered("dns"), wrong: measured.wrong.length }
    }
    say(`linux: measurement plane, ${ROUND_TRIPS.probes} probes and ${ROUND_TRIPS.questions} DNS queries on an idle machine…`)
    const idle = await phase()
    say("  …and the same under load (another lab churning namespaces in this process, a spinning process per core)…")
    const load = await startLoad({ tag: `${runId}l` })
    const loaded = await phase().catch(async (error: unknown) => {
      await load.stop()
      throw error
    })
    const churn = await load.stop()
    return { idle, loaded, churn, scheduling: await measurementPlane().scheduling() }
  } finally {
    await Effect.runPromise(kernel.close())
  }
}

export const runLinuxBench = async (resultsDir: string, machine: Record<string, unknown>, say: Say): Promise<void> => {
  const runId = `b${process.pid.toString(36)}`
  const loadBefore = (await import("node:os")).loadavg()
  const attach = await measureAttach(say, runId)
  const bulk = await measureBulk(say, runId)
  const trips = await measureRoundTrips(say, runId)
  say("linux: docker network connect on this machine…")
  const docker = await measureDockerConnect()
  if (docker.cliMs === null) say(`  not measured: ${docker.reason}`)
  const loadAfter = (await import("node:os")).loadavg()

  const { samples } = attach
  // the default bridge network: exactly the kernel work of the floor (no embedded DNS there, as in Docker)
  const attachP50 = percentile(samples.defaultBridge, 50)
  const floorP50 = percentile(samples.floor, 50)
  // the same statistic on both sides: a round's cost per container, then the median over rounds
  const floorBatchedP50 = median(samples.floorBatchedRounds)
  const batchedP50 = median(samples.batched)
  const ratio = attachP50 / floorP50
  const results = {
    machine: {
      ...machine,
      iproute2: await iprouteVersion(),
      docker: docker.cliMs === null ? null : docker.version,
      ledgerFilesystem: fsTypeOf("/run/cnmlab"),
      loadAverage1m: { before: ms(loadBefore[0] as number), after: ms(loadAfter[0] as number) },
    },
    date: new Date().toISOString(),
    attachP50Ms: ms(attachP50),
    attachP99Ms: ms(percentile(samples.defaultBridge, 99)),
    /** the same kernel work for one container at a time, through an ip -batch already running */
    floorP50Ms: ms(floorP50),
    ipPerOpP50Ms: ms(median(attach.perOp)),
    networkCreateP50Ms: ms(median(attach.networkCreate)),
    /** the baseline for networkCreateP50Ms: a container attach (attachP50Ms) in the same run */
    networkCreateToAttach: ratioOf(median(attach.networkCreate), attachP50),
    up1000Ms: Math.round(bulk.up.ms),
    down1000Ms: Math.round(bulk.downMs),
    dockerConnectMs: docker.cliMs,
    ...(docker.cliMs === null ? { dockerConnectReason: docker.reason } : {}),
    goals: {
      measurementLoadedP99: `probe and DNS round trip p99 under load <= timeout / 5 (${GOALS.loadedP99ToTimeout * MEASUREMENT_TIMEOUT_MS} ms), no answer wrong`,
      attachToFloor: `<= ${GOALS.attachToFloor}`,
      attachBatchedToFloorBatched: `<= ${GOALS.attachToFloor}`,
      up1000Ms: `<= ${GOALS.up1000Ms}`,
      down1000Ms: `<= ${GOALS.down1000Ms}`,
      networkCreateP50Ms: `<= ${GOALS.networkCreateP50Ms} (baseline: attachP50Ms of the same run)`,
    },
    met: {
      measurementLoadedP99: trips.loaded.wrong === 0 && loadedP99(trips) <= GOALS.loadedP99ToTimeout * MEASUREMENT_TIMEOUT_MS,
      attachToFloor: ratio <= GOALS.attachToFloor,
      attachBatchedToFloorBatched: batchedP50 / floorBatchedP50 <= GOALS.attachToFloor,
      up1000Ms: bulk.up.ms <= GOALS.up1000Ms,
      down1000Ms: bulk.downMs <= GOALS.down1000Ms,
      networkCreateP50Ms: median(attach.networkCreate) <= GOALS.networkCreateP50Ms,
    },
    attachToFloor: ratioOf(attachP50, floorP50),
    measurement: measurementResults(trips),
    /**
     * Containers made together, against the floor made together: the lab's round of containers
     * (Lab.createContainers, as a scenario's setup does), per container, p50 over the rounds; the
     * floor's round the same way (its namespaces and its veths each in one ip -batch).
     */
    attachBatchedP50Ms: ms(batchedP50),
    floorBatchedP50Ms: ms(floorBatchedP50),
    attachBatchedToFloorBatched: ratioOf(batchedP50, floorBatchedP50),
    /**
     * Not a like-for-like comparison, kept because the first runs (before 2026-11-28) called the
     * batched floor "the floor": one container attached on its own, against a container's share of
     * a floor made twenty at a time. The kernel makes namespaces and veths cheaper in a row.
     */
    attachToFloorBatched: ratioOf(attachP50, floorBatchedP50),
    detail: {
      attach: {
        how: "Lab.createContainer on the predefined bridge network, one Effect.runPromise per container: model decision, ledger entry, sandbox namespace (IPv6, ping sockets and br_netfilter set, its netlink socket opened), lo up, veth created on the bridge with its peer made inside the sandbox as eth0 with the endpoint's MAC, address, eth0 up, default route",
        samples: samples.defaultBridge.length,
        kernelInterfaceOnly: {
          how: "the same kernel operations sent straight to the linux Kernel (four apply calls, as the controller sends them), no lab, controller or model",
          p50Ms: ms(percentile(samples.kernelOnly, 50)),
          p99Ms: ms(percentile(samples.kernelOnly, 99)),
          partsP50Ms: {
            namespaceAndLoUp: ms(median(attach.kernelParts.namespace)),
            veth: ms(median(attach.kernelParts.veth)),
            addressUpRoute: ms(median(attach.kernelParts.inNamespace)),
          },
        },
        onUserNetwork: {
          how: "the same on a user-defined bridge network, where Docker also starts the embedded DNS (a UDP socket bound in the sandbox)",
          p50Ms: ms(percentile(samples.userNetwork, 50)),
          p99Ms: ms(percentile(samples.userNetwork, 99)),
        },
      },
      floor: {
        how: "per container, one at a time, through `ip -force -batch -` processes already running: in the host namespace `netns add`, then IPv6 switched off in the new namespace (as cnmlab does; ip cannot, so written by this process, timed), then the veth (group, master, up, peer eth0 with the MAC, created in its namespace); inside, an `ip -n NS` session started for it, then lo up, address, eth0 up, default route. Each part is measured from writing its commands to ip's answer to a marker command after them (a `link show` of a missing device, whose error comes back on stderr), minus a marker-only run just before: ip's start-up and the pipe are not the kernel's work. p50 over the containers.",
        samples: samples.floor.length,
      },
      floorBatched: {
        how: `per round of ${PER_ROUND}: one \`ip -batch\` inside the host namespace adding the ${PER_ROUND} namespaces, IPv6 switched off in them (written by this process, timed), a second \`ip -batch\` adding the ${PER_ROUND} veths; their time divided by ${PER_ROUND}. Plus, per container, \`ip -n NS -batch\` (lo up, address, eth0 up, default route). From each of these ip runs the same command with an empty batch, run just before, is subtracted. The round's mean per container, as for the lab's rounds (cost of Lab.createContainers divided by ${PER_ROUND}); the median over the rounds.`,
        samples: samples.floorBatchedRounds.length,
        perContainerP50Ms: ms(percentile(samples.floorBatched, 50)),
        globalBatchPerContainerMs: samples.floorGlobalShare.map(ms),
        globalPartsP50Ms: {
          namespaces: ms(median(samples.floorParts.map((p) => p.namespaces))),
          ipv6Off: ms(median(samples.floorParts.map((p) => p.ipv6))),
          veths: ms(median(samples.floorParts.map((p) => p.veths))),
        },
        inNamespaceP50Ms: ms(median(samples.floorInNamespace)),
        withIpProcessP50Ms: ms(median(samples.floorWithIpProcess)),
      },
      ipPerOp: {
        how: "8 ip processes per container: netns add; in the host: link add veth (peer eth0 made in the namespace), set master, set up; in the namespace: lo up, addr add, eth0 up, route add default",
        samples: attach.perOp.length,
        p99Ms: ms(percentile(attach.perOp, 99)),
      },
      networkCreate: {
        how: `Lab.createNetwork of a bridge network, ${NETWORK_SAMPLES} in a row on one host: bridge, address, up, and the host's two nftables tables (bridge-ip, growing by 4-5 rules a network, and bridge-l2) replaced, each in one transaction through the host namespace's libnftables context`,
        samples: attach.networkCreate.length,
        p99Ms: ms(percentile(attach.networkCreate, 99)),
        cpuP50Ms: ms(median(attach.networkCreateCpu)),
        cpu: "the cnmlab process's CPU time (user + system, all its threads) during each create: the work itself, which the load from other processes does not inflate; p50 above is wall-clock time",
        baseline: "attachP50Ms: a container attach in the same run (namespace, veth, address, route: no firewall change)",
      },
      bulk: {
        upPerContainerP50Ms: ms(median(bulk.up.costs)),
        upPerContainerP99Ms: ms(percentile(bulk.up.costs, 99)),
        down: "Lab.removeContainers(all 1,000): the sandbox namespaces deleted in one apply, which returns once the kernel has destroyed them (their veth peers on the bridge are gone)",
        removeOneByOneP50Ms: ms(median(bulk.oneByOne)),
        removeOneByOneSamples: bulk.oneByOne.length,
        upAgainMs: Math.round(bulk.again.ms),
        closeWith1000Ms: Math.round(bulk.closeMs),
        close: "Lab.close() of the lab holding 1,000 containers: every namespace unmounted; the kernel destroys them after close returns",
      },
      docker:
        docker.cliMs === null
          ? { reason: docker.reason }
          : {
              how: "`docker network connect` of a running busybox container to a bridge network, CLI wall time, median; disconnected between samples; the first connect not counted",
              samples: docker.samples,
              engineApiMs: docker.apiMs,
            },
    },
  }
  writeFileSync(join(resultsDir, "linux.json"), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(
    join(resultsDir, "linux.svg"),
    barChart("container attach on the linux kernel (p50)", "ms", [
      { label: "cnmlab, default bridge", value: attachP50 },
      { label: "cnmlab, user network (+DNS)", value: percentile(samples.userNetwork, 50) },
      { label: "kernel interface alone", value: percentile(samples.kernelOnly, 50) },
      { label: "floor: ip -batch, one container at a time", value: floorP50, baseline: true },
      { label: "cnmlab, 20 at a time (createContainers)", value: batchedP50 },
      { label: "floor: ip -batch, 20 at a time", value: floorBatchedP50, baseline: true },
      { label: "20 at a time, counting ip -n processes", value: median(samples.floorWithIpProcess), baseline: true },
      { label: "one ip process per op", value: median(attach.perOp), baseline: true },
      ...(docker.cliMs === null
        ? []
        : [
            { label: "docker network connect (CLI)", value: docker.cliMs, baseline: true },
            { label: "docker engine API connect", value: docker.apiMs, baseline: true },
          ]),
    ]),
  )
  writeFileSync(
    join(resultsDir, "linux-measurement.svg"),
    barChart(`probe and DNS round trips, timeout ${MEASUREMENT_TIMEOUT_MS} ms`, "ms", [
      { label: "probe p50, idle", value: percentile(trips.idle.probe, 50) },
      { label: "probe p99, idle", value: percentile(trips.idle.probe, 99) },
      { label: "probe p50, under load", value: percentile(trips.loaded.probe, 50) },
      { label: "probe p99, under load", value: percentile(trips.loaded.probe, 99) },
      { label: "DNS p50, idle", value: percentile(trips.idle.dns, 50) },
      { label: "DNS p99, idle", value: percentile(trips.idle.dns, 99) },
      { label: "DNS p50, under load", value: percentile(trips.loaded.dns, 50) },
      { label: "DNS p99, under load", value: percentile(trips.loaded.dns, 99) },
      { label: "goal for p99 under load: timeout / 5", value: GOALS.loadedP99ToTimeout * MEASUREMENT_TIMEOUT_MS, baseline: true },
    ]),
  )
  writeFileSync(
    join(resultsDir, "linux-bulk.svg"),
    barChart(`${BULK.toLocaleString("en-US")} containers on one bridge network`, "ms", [
      { label: "up: createContainer ×1,000", value: bulk.up.ms },
      { label: "down: removeContainers", value: bulk.downMs },
      { label: "down: Lab.close()", value: bulk.closeMs },
      { label: "down one by one (p50 × 1,000)", value: median(bulk.oneByOne) * BULK, baseline: true },
    ]),
  )
  say(
    `linux: attach p50 ${attachP50.toFixed(2)} ms (kernel interface alone ${percentile(samples.kernelOnly, 50).toFixed(2)} ms, floor ${floorP50.toFixed(2)} ms, ×${ratio.toFixed(2)}; ` +
      `20 at a time ${batchedP50.toFixed(2)} ms against ${floorBatchedP50.toFixed(2)} ms, ×${(batchedP50 / floorBatchedP50).toFixed(2)}), ` +
      `up ${BULK} ${bulk.up.ms.toFixed(0)} ms, down ${bulk.downMs.toFixed(0)} ms`,
  )
  say(
    `linux: round trips p50/p99 idle probe ${percentile(trips.idle.probe, 50).toFixed(2)}/${percentile(trips.idle.probe, 99).toFixed(2)} ms, ` +
      `DNS ${percentile(trips.idle.dns, 50).toFixed(2)}/${percentile(trips.idle.dns, 99).toFixed(2)} ms; under load probe ` +
      `${percentile(trips.loaded.probe, 50).toFixed(2)}/${percentile(trips.loaded.probe, 99).toFixed(2)} ms, DNS ` +
      `${percentile(trips.loaded.dns, 50).toFixed(2)}/${percentile(trips.loaded.dns, 99).toFixed(2)} ms (timeout ${MEASUREMENT_TIMEOUT_MS} ms); ` +
      `${trips.idle.wrong + trips.loaded.wrong} answers wrong`,
  )
  say(`wrote ${join(resultsDir, "linux.json")}`)
}

type Trips = Awaited<ReturnType<typeof measureRoundTrips>>

const loadedP99 = (trips: Trips): number => Math.max(percentile(trips.loaded.probe, 99), percentile(trips.loaded.dns, 99))

const measurementResults = (trips: Trips) => {
  const summary = (samples: ReadonlyArray<number>) => ({
    p50Ms: ms(percentile(samples, 50)),
    p99Ms: ms(percentile(samples, 99)),
    maxMs: ms(Math.max(...samples)),
    samples: samples.length,
  })
  return {
    timeoutMs: MEASUREMENT_TIMEOUT_MS,
    probe: { idle: summary(trips.idle.probe), loaded: summary(trips.loaded.probe) },
    dns: { idle: summary(trips.idle.dns), loaded: summary(trips.loaded.dns) },
    loadedP99ToTimeout: ratioOf(loadedP99(trips), MEASUREMENT_TIMEOUT_MS),
    wrongAnswers: { idle: trips.idle.wrong, loaded: trips.loaded.wrong },
    how:
      `per phase ${ROUND_TRIPS.probes} probes and ${ROUND_TRIPS.questions} DNS queries (${ROUND_TRIPS.concurrency} of each in flight) through a lab of six containers on two user networks, ` +
      "only to targets the model says answer; a round trip is timed by the measurement helper from the send to the answer. Idle: no load of this benchmark's own (whatever else runs on the machine shows in machine.loadAverage1m). Under load: another lab in the same process, " +
      `on a kernel of its own, making and removing 100 containers at a time (${trips.churn.namespaces} namespaces in ${trips.churn.rounds} rounds during the phase), and a spinning process per core`,
    helperScheduling: trips.scheduling,
  }
}

const ratioOf = (a: number, b: number) => Math.round((a / b) * 100) / 100
