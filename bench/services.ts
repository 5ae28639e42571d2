/**
 * Published ports, a balanced VIP and network create on the real kernel (root only), built on the
 * linux backend's kernel interface with the bridge driver's own rules (services-world.ts), every
 * figure next to its baseline from the same run, interleaved so that the machine's other work
 * falls on both alike:
 * - connection setup (Kernel.connect: a TCP handshake and the server's one-line answer) from
 *   outside to host:port through Docker's DNAT, against straight to the container's address;
 * - iperf3 through the DNAT against straight to the container (dnatToDirect);
 * - a VIP balanced by dnatBalance over 3 backends: each backend's share of 300 connections;
 * - 1,000 published ports: the time to put the driver's tables in place, against 1 port, and the
 *   connection setup to the last port of the 1,000 against the same port published alone;
 * - network create through a lab against a container attach through the same lab.
 * A connection through Kernel.connect includes the round trip to the backend's measurement helper
 * (the same on both sides of each comparison), so differences are what the path adds.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { addon, type NetnsAddon } from "../backends/linux/addon.ts"
import { nsPath } from "../backends/linux/namespaces.ts"
import { makeLinuxKernel } from "../backends/linux/index.ts"
import type { KernelShape } from "../backends/Kernel.ts"
import type { ConnectOutcome } from "../backends/kernel-types.ts"
import { Lab } from "../controller/Lab.ts"
import { type IperfResult, IperfServer, iperfClient, iperfVersion } from "./iperf.ts"
import { timeNetworkCreate } from "./network-create.ts"
import { barChart } from "./plot.ts"
import { balancerTable, buildServicesWorld, OUTSIDE_ADDRESS, portOf, publishedTables, removeWorld, type ServiceHost, setTables } from "./services-world.ts"
import { median, ms, percentile } from "./stats.ts"
import { run, timed } from "./timing.ts"

type Say = (line: string) => void

const CONNECT_PAIRS = 150
const VIP_CONNECTIONS = 300
const MANY_PORTS = 1000
const MANY_ROUNDS = 6
const MANY_CONNECTS_PER_ROUND = 20
const IPERF_ROUNDS = 4
const IPERF = { seconds: 3, streams: 1, cpus: { client: 0, server: 1 } } as const
const NETWORK_SAMPLES = 15
const WARMUP = 5

const GOALS = { dnatToDirect: 0.9, networkCreateP50Ms: 5 } as const

const WEB_PORT = 8080
const IPERF_PORT = 5201
const VIP_PORT = 7070
const BACKENDS = ["b1", "b2", "b3"] as const
const FIRST_MANY_PORT = 10000

const round2 = (value: number): number => Math.round(value * 100) / 100
const gbit = (bitsPerSecond: number): number => Math.round(bitsPerSecond / 1e7) / 100

const addressIn = (host: ServiceHost, container: string): string => (host.containers.get(container) as { address: string }).address
const sandboxIn = (host: ServiceHost, container: string): string => (host.containers.get(container) as { ns: string }).ns

/** connection set-up times, and every outcome that was not the expected answer */
interface Connects {
  readonly ms: number[]
  readonly failures: Partial<Record<ConnectOutcome | "wrongServer", number>>
}
const connects = (): Connects => ({ ms: [], failures: {} })

/** one connection from `from`, timed; an answer by someone else or none is counted, not timed */
const connectOnce = async (kernel: KernelShape, into: Connects, from: string, address: string, port: number, expected: string): Promise<void> => {
  const started = performance.now()
  const result = await run(kernel.connect({ from, address, port, proto: "tcp" }))
  const elapsed = performance.now() - started
  const failure = result.outcome !== "answer" ? result.outcome : result.answeredBy !== expected ? "wrongServer" : undefined
  if (failure === undefined) into.ms.push(elapsed)
  else into.failures[failure] = (into.failures[failure] ?? 0) + 1
}

const summary = (c: Connects) => ({
  p50Ms: ms(percentile(c.ms, 50)),
  p99Ms: ms(percentile(c.ms, 99)),
  samples: c.ms.length,
  notAnswered: c.failures,
})

/** a command run with this thread inside `ns` */
const inNamespace = (native: NetnsAddon, ns: string, command: string, args: ReadonlyArray<string>) =>
  native.withNetns(nsPath(ns), () => spawnSync(command, [...args], { encoding: "utf8" }))

/**
 * The floor for putting tables in place: nftables' own command, `nft -f` of the ruleset the kernel
 * interface left in `from` (as `nft list ruleset` prints it, after `flush ruleset`), written to a
 * file once; each call loads it in `into` and returns the wall-clock ms, nft's start-up included.
 * `into` is a namespace of its own: nft loading in the host would change the tables the
 * connections are measured through, and nftables' generation there, after which the backend
 * replaces a table whole where it would have appended (backends/linux/firewall.ts). The rules
 * name devices by name (iifname, oifname), so they load where the devices are absent.
 */
const nftFloor = (native: NetnsAddon, from: string, into: string, dir: string, name: string): (() => number) => {
  const listed = inNamespace(native, from, "nft", ["list", "ruleset"])
  if (listed.status !== 0) throw new Error(`nft list ruleset in ${from}: ${listed.stderr.trim()}`)
  const file = join(dir, `${name}.nft`)
  writeFileSync(file, `flush ruleset\n${listed.stdout}`)
  return () => {
    const started = performance.now()
    const loaded = inNamespace(native, into, "nft", ["-f", file])
    const elapsed = performance.now() - started
    if (loaded.status !== 0) throw new Error(`nft -f ${file} in ${into}: ${loaded.stderr.trim()}`)
    return elapsed
  }
}

/** the bench's world must answer as Docker's would before anything is timed in it */
const mustAnswer = async (kernel: KernelShape, from: string, address: string, port: number, answeredBy: string, seenFrom: string, what: string): Promise<void> => {
  const result = await run(kernel.connect({ from, address, port, proto: "tcp" }))
  if (result.outcome !== "answer" || result.answeredBy !== answeredBy || result.seenFrom !== seenFrom) {
    throw new Error(`sanity check failed: ${what}: ${address}:${port} from ${from} gave ${JSON.stringify(result)}, expected ${answeredBy} seeing ${seenFrom}`)
  }
}

export const runServicesBench = async (resultsDir: string, machine: Record<string, unknown>, say: Say): Promise<void> => {
  const iperf = iperfVersion()
  if (!iperf.ok) {
    say(`services: skipped: ${iperf.reason}`)
    return
  }
  const runId = `s${process.pid.toString(36)}`
  const prefix = `cnm-${runId}-`
  const native = addon()
  const kernel = await makeLinuxKernel()
  const loadBefore = loadavg()
  const servers: IperfServer[] = []
  try {
    say("services: two Docker hosts on an underlay with the outside; web, 3 backends, and a host with 1,000 ports…")
    const world = await buildServicesWorld(kernel, prefix, [
      { name: "h1", net16: "172.20", containers: ["web", ...BACKENDS] },
      { name: "h2", net16: "172.21", containers: ["many"] },
    ])
    const [h1, h2] = world.hosts as [ServiceHost, ServiceHost]
    const h1Ports = [
      portOf(h1, "web", WEB_PORT, 80),
      portOf(h1, "web", IPERF_PORT, IPERF_PORT),
      // the backends' port 80 published too, as their FORWARD accepts are what lets the VIP's connections through
      ...BACKENDS.map((b, i) => portOf(h1, b, 8001 + i, 80)),
    ]
    await run(kernel.apply(setTables(h1.ns, publishedTables(h1, h1Ports))))
    for (const name of ["web", ...BACKENDS]) await run(kernel.listen({ ns: sandboxIn(h1, name), port: 80, proto: "tcp", answer: name }))
    await run(kernel.listen({ ns: sandboxIn(h2, "many"), port: 80, proto: "tcp", answer: "many" }))
    await mustAnswer(kernel, world.outside, h1.address, WEB_PORT, "web", OUTSIDE_ADDRESS, "published port")
    await mustAnswer(kernel, world.outside, addressIn(h1, "web"), 80, "web", OUTSIDE_ADDRESS, "the container directly")

    say(`services: connection setup, ${CONNECT_PAIRS} through the published port and ${CONNECT_PAIRS} directly, alternating…`)
    const throughDnat = connects()
    const direct = connects()
    for (let i = 0; i < WARMUP; i++) await connectOnce(kernel, connects(), world.outside, h1.address, WEB_PORT, "web")
    for (let i = 0; i < CONNECT_PAIRS; i++) {
      const viaPort = () => connectOnce(kernel, throughDnat, world.outside, h1.address, WEB_PORT, "web")
      const straight = () => connectOnce(kernel, direct, world.outside, addressIn(h1, "web"), 80, "web")
      for (const c of i % 2 === 0 ? [viaPort, straight] : [straight, viaPort]) await c()
    }
    say(`  p50 ${ms(median(throughDnat.ms))} ms through DNAT, ${ms(median(direct.ms))} ms directly`)

    say(`services: VIP over ${BACKENDS.length} backends (dnatBalance), ${VIP_CONNECTIONS} connections…`)
    await run(kernel.apply([{ op: "firewallSet", ns: h1.ns, table: balancerTable(VIP_PORT, BACKENDS.map((b) => addressIn(h1, b)), 80) }]))
    const answeredBy: Record<string, number> = {}
    const vipMs: number[] = []
    for (let i = 0; i < VIP_CONNECTIONS; i++) {
      const started = performance.now()
      const result = await run(kernel.connect({ from: world.outside, address: h1.address, port: VIP_PORT, proto: "tcp" }))
      vipMs.push(performance.now() - started)
      const by = result.outcome === "answer" ? (result.answeredBy as string) : result.outcome
      answeredBy[by] = (answeredBy[by] ?? 0) + 1
    }
    const shares = Object.fromEntries(BACKENDS.map((b) => [b, round2((answeredBy[b] ?? 0) / VIP_CONNECTIONS)]))
    say(`  ${JSON.stringify(answeredBy)}`)

    say(`services: ${MANY_PORTS} published ports against 1, ${MANY_ROUNDS} rounds (set the tables, then ${MANY_CONNECTS_PER_ROUND} connections to the last port)…`)
    const manyPorts = Array.from({ length: MANY_PORTS }, (_, i) => portOf(h2, "many", FIRST_MANY_PORT + i, 80))
    const lastPort = FIRST_MANY_PORT + MANY_PORTS - 1
    const manyTables = publishedTables(h2, manyPorts)
    const oneTables = publishedTables(h2, manyPorts.slice(-1))
    const setMany: number[] = []
    const setOne: number[] = []
    /** this process's CPU ms (all threads: libnftables runs in it) per set: what the machine's other work does not inflate */
    const setManyCpu: number[] = []
    const setOneCpu: number[] = []
    const nftMany: number[] = []
    const nftOne: number[] = []
    const withMany = connects()
    const withOne = connects()
    const rulesetDir = mkdtempSync(join(tmpdir(), "cnmlab-services-"))
    const floorNs = `${prefix}nft`
    await run(kernel.apply([{ op: "nsAdd", ns: floorNs }]))
    await run(kernel.apply(setTables(h2.ns, manyTables)))
    const nftOfMany = nftFloor(native, h2.ns, floorNs, rulesetDir, "ports1000")
    await run(kernel.apply(setTables(h2.ns, oneTables)))
    const nftOfOne = nftFloor(native, h2.ns, floorNs, rulesetDir, "port1")
    // each phase: nft -f of the same ruleset in the floor's namespace, then the kernel
    // interface's set in the host, then the connections through what it set
    const phase = async (tables: typeof manyTables, floor: () => number, floorInto: number[], setInto: number[], cpuInto: number[], connectInto: Connects) => {
      floorInto.push(floor())
      const cpuBefore = process.cpuUsage()
      setInto.push(await timed(() => run(kernel.apply(setTables(h2.ns, tables)))))
      const cpu = process.cpuUsage(cpuBefore)
      cpuInto.push((cpu.user + cpu.system) / 1000)
      for (let k = 0; k < MANY_CONNECTS_PER_ROUND; k++) await connectOnce(kernel, connectInto, world.outside, h2.address, lastPort, "many")
    }
    // 1,000 then 1, always in that order, so that every set replaces the other table: the same
    // table set twice in a row is found unchanged and nothing is sent (backends/linux/firewall.ts),
    // which a swapping order would do at every second round's boundary. A warm-up pair first.
    await phase(manyTables, nftOfMany, [], [], [], connects())
    await phase(oneTables, nftOfOne, [], [], [], connects())
    for (let round = 0; round < MANY_ROUNDS; round++) {
      await phase(manyTables, nftOfMany, nftMany, setMany, setManyCpu, withMany)
      await phase(oneTables, nftOfOne, nftOne, setOne, setOneCpu, withOne)
    }
    rmSync(rulesetDir, { recursive: true })
    await run(kernel.apply([{ op: "nsDel", ns: floorNs }]))
    await run(kernel.apply(setTables(h2.ns, manyTables)))
    await mustAnswer(kernel, world.outside, h2.address, FIRST_MANY_PORT, "many", OUTSIDE_ADDRESS, "the first of the 1,000 ports")
    const ruleCount = manyTables.reduce((n, t) => n + t.chains.reduce((m, c) => m + c.rules.length, 0), 0)
    say(`  set ${ms(median(setMany))} ms, CPU ${ms(median(setManyCpu))} ms (1 port ${ms(median(setOne))} ms; nft -f ${ms(median(nftMany))} ms, 1 port ${ms(median(nftOne))} ms); connect p50 ${ms(median(withMany.ms))} ms (1 port ${ms(median(withOne.ms))} ms)`)

    say(`services: iperf3 ${IPERF_ROUNDS} rounds of ${IPERF.seconds} s through the published port and directly, order swapping…`)
    servers.push(await IperfServer.start(native, sandboxIn(h1, "web"), addressIn(h1, "web"), IPERF.cpus.server))
    const iperfDnat: IperfResult[] = []
    const iperfDirect: IperfResult[] = []
    for (let round = 0; round < IPERF_ROUNDS; round++) {
      const viaPort = async () => void iperfDnat.push(await iperfClient(native, world.outside, h1.address, IPERF))
      const straight = async () => void iperfDirect.push(await iperfClient(native, world.outside, addressIn(h1, "web"), IPERF))
      for (const test of round % 2 === 0 ? [viaPort, straight] : [straight, viaPort]) await test()
      say(`  round ${round + 1}: ${gbit(iperfDnat.at(-1)?.bitsPerSecond ?? 0)} Gbit/s through DNAT, ${gbit(iperfDirect.at(-1)?.bitsPerSecond ?? 0)} directly`)
    }
    for (const server of servers.splice(0)) server.stop()
    const dnatGbps = median(iperfDnat.map((r) => r.bitsPerSecond))
    const directGbps = median(iperfDirect.map((r) => r.bitsPerSecond))
    const dnatToDirect = round2(dnatGbps / directGbps)
    // the tests alternate who goes first: what the first of a round gains over the second shows
    // how much of a round's difference is its order rather than its path
    const firstToSecond = iperfDnat.map((dnat, round) => {
      const other = iperfDirect[round] as IperfResult
      return round2(round % 2 === 0 ? dnat.bitsPerSecond / other.bitsPerSecond : other.bitsPerSecond / dnat.bitsPerSecond)
    })

    say(`services: network create and container attach through a lab, ${NETWORK_SAMPLES} of each, alternating…`)
    const lab = await run(Lab.make(kernel, { hosts: ["bench"], runId: `${runId}l` }))
    for (let i = 0; i < WARMUP; i++) {
      await timeNetworkCreate(lab, `w${i}`, `10.250.${i}.0/24`)
      await run(lab.createContainer({ name: `w${i}`, networks: [{ network: "bridge" }] }))
    }
    const networkCreate: number[] = []
    const networkCreateCpu: number[] = []
    const attach: number[] = []
    for (let i = 0; i < NETWORK_SAMPLES; i++) {
      const create = async () => {
        const measured = await timeNetworkCreate(lab, `n${i}`, `10.251.${i}.0/24`)
        networkCreate.push(measured.ms)
        networkCreateCpu.push(measured.cpuMs)
      }
      const join = async () => void attach.push(await timed(() => run(lab.createContainer({ name: `c${i}`, networks: [{ network: "bridge" }] }))))
      for (const step of i % 2 === 0 ? [create, join] : [join, create]) await step()
    }
    say(`  network create p50 ${ms(median(networkCreate))} ms (CPU ${ms(median(networkCreateCpu))} ms), attach p50 ${ms(median(attach))} ms`)
    await removeWorld(kernel, world)
    const loadAfter = loadavg()

    const load = { before: loadBefore.map(round2), after: loadAfter.map(round2) }
    const results = {
      machine: { ...machine, iperf3: iperf.version, loadAverage: { ...load, what: "1, 5 and 15-minute load averages (os.loadavg) at the start and the end of the run" } },
      date: new Date().toISOString(),
      note:
        `Taken under load: other sessions were running on this ${String(machine.cores)}-core machine (1-minute load ${load.before[0]} at the start, ${load.after[0]} at the end), run once, not re-run. ` +
        "Absolute milliseconds and Gbit/s say mostly how busy the machine was; each figure stands next to its baseline taken in the same run, interleaved, and the ratios are what to read.",
      /** what this run's own numbers say about how far to trust them */
      findings: [
        `iperf3: the first test of a round got ${firstToSecond.join(", ")}× the second's throughput (DNAT first in rounds 1 and 3): differences within that spread are the order and the machine, not the path; the order swaps so both paths get the same share of it.`,
        `1,000 ports: the kernel interface's set took ${ms(median(setMany))} ms wall and ${ms(median(setManyCpu))} ms of this process's CPU at the median (libnftables runs in the process), nft -f of the same ruleset ${ms(median(nftMany))} ms with its start-up (${ms(median(nftOne))} ms for 1 port). The driver writes, as Docker does, one FORWARD accept and one hairpin masquerade per published port: ${ruleCount} rules for ${MANY_PORTS} ports.`,
      ],
      connectThroughPublishedPortP50Ms: ms(median(throughDnat.ms)),
      connectDirectP50Ms: ms(median(direct.ms)),
      connectThroughPublishedPortP99Ms: ms(percentile(throughDnat.ms, 99)),
      connectDirectP99Ms: ms(percentile(direct.ms, 99)),
      dnatToDirect,
      dnatGbps: gbit(dnatGbps),
      directGbps: gbit(directGbps),
      vipShares: shares,
      /** an even split over the 3 backends: the baseline for vipShares */
      vipEvenShare: round2(1 / BACKENDS.length),
      publish1000PortsMs: ms(median(setMany)),
      publish1PortMs: ms(median(setOne)),
      /** the floor for publish1000PortsMs: nft -f of the same ruleset, nft's start-up included (publish1PortNftMs: of the 1-port ruleset) */
      publish1000PortsNftMs: ms(median(nftMany)),
      publish1PortNftMs: ms(median(nftOne)),
      connectWith1000PortsP50Ms: ms(median(withMany.ms)),
      connectWith1PortP50Ms: ms(median(withOne.ms)),
      networkCreateP50Ms: ms(median(networkCreate)),
      /** the baseline for networkCreateP50Ms: a container attach through the same lab, alternating with the creates */
      attachP50Ms: ms(median(attach)),
      goals: { dnatToDirect: `>= ${GOALS.dnatToDirect}`, networkCreateP50Ms: `<= ${GOALS.networkCreateP50Ms}` },
      met: { dnatToDirect: dnatToDirect >= GOALS.dnatToDirect, networkCreateP50Ms: median(networkCreate) <= GOALS.networkCreateP50Ms },
      detail: {
        how: {
          world:
            "Built on the linux backend's kernel interface (bench/services-world.ts): two Docker hosts (namespaces with eth0 on an underlay bridge, ip_forward on), each with a user-defined bridge network (bridge, gateway, containers on veths with Docker's MACs and a default route), and an outside namespace on the underlay with a route to each host's container subnet through that host. " +
            "The hosts' firewall tables are the bridge driver's own (bridgeFirewall in drivers/bridge/firewall.ts, Docker 20.10's rules: nat PREROUTING addrtype LOCAL → DOCKER, a DNAT per port, the FORWARD accept per port, masquerade and hairpin), written by firewallSet. No docker-proxy runs: from outside the DNAT answers first, as on Docker.",
          connect: `Kernel.connect from the outside: a TCP handshake and the server's one-line answer (the server is the backend's listen socket in the container). ${CONNECT_PAIRS} through host:${WEB_PORT} (DNAT to the container's port 80) and ${CONNECT_PAIRS} straight to the container's address, one of each in turn, the order swapping each pair, after ${WARMUP} warm-up connections. The time includes the round trip to the backend's measurement helper, the same on both paths.`,
          iperf: `iperf3 TCP, ${IPERF.streams} stream, ${IPERF.seconds} s per test, client pinned to CPU ${IPERF.cpus.client} and server to CPU ${IPERF.cpus.server}; the server in the container bound to its address; ${IPERF_ROUNDS} rounds, each a test through host:${IPERF_PORT} (published to the container's ${IPERF_PORT}) and one straight to the container, the order swapping every round; the ratio of the medians. Both paths are routed by the host and cross its FORWARD chain and conntrack; the DNAT path adds the nat prerouting lookup and the translation.`,
          vip: `a table of its own on host 1: nat prerouting, fib daddr type local, tcp dport ${VIP_PORT} → dnatBalance (numgen inc mod 3) to the 3 backends' port 80 (their port 80 also published, whose FORWARD accepts let the connections through); ${VIP_CONNECTIONS} connections from outside, set right before (the counter starts at 0). Docker balances a VIP with IPVS, which this kernel lacks (Capabilities.ipvs).`,
          manyPorts: `host 2 with ${MANY_PORTS} ports published to one container (${FIRST_MANY_PORT}–${lastPort} → :80; the driver's tables hold ${ruleCount} rules), against the same tables with only port ${lastPort} published. A warm-up pair, then ${MANY_ROUNDS} rounds of 1,000 ports then 1 port (always in that order, so that every set replaces the other table; the same table set twice in a row is found unchanged and sent to nobody): nft -f of the same ruleset as nft lists it, in an empty namespace of its own (flush ruleset first; the floor, nft's start-up included), then the driver's tables set in the host by one Kernel.apply of firewallSet (timed, a whole replacement each time: 1,000 ports and 1 port differ in the middle of the chains), then ${MANY_CONNECTS_PER_ROUND} connections to port ${lastPort}, the DNAT rule walked last of the ${MANY_PORTS}.`,
          networkCreate: `a lab of one host on the same kernel: Lab.createNetwork of a user bridge network (bridge, address, the bridge driver's tables for all networks again) and Lab.createContainer on the default bridge network, ${NETWORK_SAMPLES} of each, alternating, after ${WARMUP} of each as warm-up. The same measurement as networkCreateP50Ms in bench/results/linux.json (bench/network-create.ts).`,
        },
        connect: { throughPublishedPort: summary(throughDnat), direct: summary(direct) },
        vip: { answeredBy, connectP50Ms: ms(median(vipMs)), connectP99Ms: ms(percentile(vipMs, 99)) },
        manyPorts: {
          rules: ruleCount,
          setMsPerPort: ms(median(setMany) / MANY_PORTS),
          setMs: { ports1000: setMany.map(ms), port1: setOne.map(ms) },
          setCpuMs: { ports1000: setManyCpu.map(ms), port1: setOneCpu.map(ms) },
          nftMs: { ports1000: nftMany.map(ms), port1: nftOne.map(ms) },
          /** what 999 more ports cost, the same difference on both sides: nft's start-up cancels out of the floor's */
          extra999PortsMs: { kernelInterface: ms(median(setMany) - median(setOne)), nft: ms(median(nftMany) - median(nftOne)) },
          connectWith1000Ports: summary(withMany),
          connectWith1Port: summary(withOne),
        },
        iperf: {
          dnatGbps: iperfDnat.map((r) => gbit(r.bitsPerSecond)),
          directGbps: iperfDirect.map((r) => gbit(r.bitsPerSecond)),
          dnatRetransmits: iperfDnat.map((r) => r.retransmits),
          directRetransmits: iperfDirect.map((r) => r.retransmits),
          /** per round, the first test's throughput over the second's (DNAT went first in rounds 1, 3, …) */
          firstToSecondPerRound: firstToSecond,
        },
        networkCreate: { samples: networkCreate.length, p99Ms: ms(percentile(networkCreate, 99)), cpuP50Ms: ms(median(networkCreateCpu)), attachP99Ms: ms(percentile(attach, 99)) },
      },
    }
    writeFileSync(join(resultsDir, "services.json"), `${JSON.stringify(results, null, 2)}\n`)
    writeFileSync(
      join(resultsDir, "services.svg"),
      barChart(`published ports and services on the real kernel (load ${load.before[0]} → ${load.after[0]})`, "ms", [
        { label: "connect via published port, p50", value: results.connectThroughPublishedPortP50Ms },
        { label: "  directly to the container, p50", value: results.connectDirectP50Ms, baseline: true },
        { label: "connect via published port, p99", value: results.connectThroughPublishedPortP99Ms },
        { label: "  directly to the container, p99", value: results.connectDirectP99Ms, baseline: true },
        { label: "connect, 1,000 ports published, p50", value: results.connectWith1000PortsP50Ms },
        { label: "  1 port published, p50", value: results.connectWith1PortP50Ms, baseline: true },
        { label: "rules for 1,000 ports in place", value: results.publish1000PortsMs },
        { label: "  rules for 1 port", value: results.publish1PortMs, baseline: true },
        { label: "  the 1,000 ports by nft -f (floor)", value: results.publish1000PortsNftMs, baseline: true },
        { label: "network create p50", value: results.networkCreateP50Ms },
        { label: "  container attach p50", value: results.attachP50Ms, baseline: true },
      ]),
    )
    writeFileSync(
      join(resultsDir, "services-ratios.svg"),
      barChart("iperf3 through DNAT against direct, and each backend's share of a VIP", "×", [
        { label: "dnatToDirect", value: dnatToDirect },
        { label: "  goal", value: GOALS.dnatToDirect, baseline: true },
        ...BACKENDS.flatMap((b) => [{ label: `VIP share, ${b}`, value: shares[b] as number }]),
        { label: "  even share", value: results.vipEvenShare, baseline: true },
      ]),
    )
    say(
      `services: connect p50 ${results.connectThroughPublishedPortP50Ms} ms via port, ${results.connectDirectP50Ms} ms direct; dnatToDirect ×${dnatToDirect}; VIP ${JSON.stringify(shares)}; 1,000 ports in ${results.publish1000PortsMs} ms; network create ${results.networkCreateP50Ms} ms, attach ${results.attachP50Ms} ms (load ${load.before[0]} → ${load.after[0]})`,
    )
    say(`wrote ${join(resultsDir, "services.json")}`)
  } finally {
    for (const server of servers) server.stop()
    await Effect.runPromise(kernel.close())
  }
}
