/**
 * The control plane of a swarm lab on the real kernel: an overlay container attach on a 3-host
 * lab against the same kernel work done by iproute2 (kernel-replay.ts) and sent to the kernel
 * interface alone; and 3 hosts × 300 containers on one overlay network, up in one
 * Lab.createContainers and down in one Lab.removeContainers.
 *
 * First runs (2026-12-03, load ~15, ~900 namespaces of other runs on the machine): an attach's
 * 14 kernel operations took ~18 ms through ip and ~200 ms through the linux kernel interface, and
 * ~260 ms through the lab; 3×300 up took 180 s. The time is in the backend's applies, not in the
 * lab's model or store: that is where to look first.
 *
 * Found there (2026-12-04, CPU profiles of esbuild bundles and timing spans): every gateway leg
 * re-read all links of its host's namespace to refresh the firewall's bridge port sets (1.35 ms
 * of a ~7 ms attach at 100 legs per host, growing with them), and the peer records were rebuilt
 * for the whole lab twice per attach (0.6 ms). Both now follow the change itself; what is left
 * over the floor is the measurement helper's DNS messages, the nftables element commit and
 * Effect's own steps. Re-run at load 2-3: attach p50 5.4 ms against 2.5 ms, 3×300 up in 3.1 s.
 */
import { Effect } from "effect"
import type { NetnsAddon } from "../backends/linux/addon.ts"
import type { KernelShape } from "../backends/Kernel.ts"
import type { KernelOp } from "../backends/kernel-types.ts"
import { Lab } from "../controller/Lab.ts"
import { FloorReplay, KernelReplay, RecordingKernel } from "./kernel-replay.ts"
import { ms, percentile } from "./stats.ts"
import { run, timed } from "./timing.ts"

type Say = (line: string) => void

const HOSTS = ["h1", "h2", "h3"] as const
const ATTACH_ROUNDS = 8
const ATTACH_PER_ROUND = 10
const BULK_PER_HOST = 300



const kinds = (applies: ReadonlyArray<ReadonlyArray<KernelOp>>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const op of applies.flat()) counts[op.op] = (counts[op.op] ?? 0) + 1
  return counts
}

/** a swarm lab of three hosts with one overlay network, recorded, and the floor's copy of it */
const labAndFloor = async (native: NetnsAddon, kernel: KernelShape, runId: string, subnet: string) => {
  const recorder = new RecordingKernel(kernel)
  recorder.recording = true
  const lab = await run(Lab.make(recorder.kernel, { hosts: [...HOSTS], swarm: true, runId: `${runId}a` }))
  await run(lab.createNetwork({ name: "ov", driver: "overlay", subnet }))
  // each host's first container also makes the network's load-balancer sandbox there: not an attach's usual work
  await run(lab.createContainers(HOSTS.map((host) => ({ name: `w-${host}`, host, networks: [{ network: "ov" }] }))))
  const setup = recorder.take()
  const floor = new FloorReplay(native, kernel, `cnm-${runId}a-`, `cnm-${runId}f-`, `cnm-${runId}f-${HOSTS[0]}`)
  await floor.build(setup)
  const direct = new KernelReplay(kernel, `cnm-${runId}a-`, `cnm-${runId}k-`)
  await direct.build(setup)
  return { lab, recorder, floor, direct }
}

const addressOf = (lab: Lab, container: string): string =>
  (lab.endpoints().find((e) => e.container === container && e.network === "ov")?.address as string).split("/")[0] as string

/** probes across hosts, through the lab and through the floor's copy: both must carry packets */
const mustReach = async (kernel: KernelShape, lab: Lab, runId: string, from: string, to: string, withFloor = true): Promise<void> => {
  const sandbox = lab.controllerOf(from)?.sandboxOf(from) as string
  for (const ns of withFloor ? [sandbox, sandbox.replace(`cnm-${runId}a-`, `cnm-${runId}f-`)] : [sandbox]) {
    const result = await run(kernel.probe(ns, addressOf(lab, to)))
    if (!result.reachable) throw new Error(`sanity check failed: ${ns} does not reach ${to} (${addressOf(lab, to)}) over the overlay: ${result.reason}`)
  }
}

export const measureOverlayAttach = async (native: NetnsAddon, kernel: KernelShape, runId: string, say: Say) => {
  const { lab, recorder, floor, direct } = await labAndFloor(native, kernel, `${runId}o`, "10.20.0.0/16")
  try {
    const labMs: number[] = []
    const floorMs: number[] = []
    const directMs: number[] = []
    let opsOfOne: Record<string, number> = {}
    let index = 0
    for (let round = 0; round < ATTACH_ROUNDS; round++) {
      say(`multihost: overlay attach round ${round + 1} of ${ATTACH_ROUNDS} (${ATTACH_PER_ROUND} through the lab, each replayed by ip)…`)
      const pending: KernelOp[][][] = []
      const labPart = async () => {
        for (let k = 0; k < ATTACH_PER_ROUND; k++) {
          const i = index++
          recorder.recording = true
          labMs.push(await timed(() => run(lab.createContainer({ name: `c${i}`, host: HOSTS[i % HOSTS.length] as string, networks: [{ network: "ov" }] }))))
          recorder.recording = false
          pending.push(recorder.take())
        }
      }
      const floorPart = async () => {
        for (const applies of pending.splice(0)) {
          opsOfOne = kinds(applies)
          floorMs.push(await floor.replay(applies))
          directMs.push(await direct.replay(applies))
        }
      }
      // the floor replays what the lab did, so it follows the lab: ten of one, ten of the other,
      // each side's block following the other's
      await labPart()
      await floorPart()
    }
    await mustReach(kernel, lab, `${runId}o`, `c${index - 1}`, `c${index - 2}`)
    const labP50 = percentile(labMs, 50)
    const floorP50 = percentile(floorMs, 50)
    return {
      overlayAttachP50Ms: ms(labP50),
      overlayAttachFloorP50Ms: ms(floorP50),
      overlayAttachToFloor: Math.round((labP50 / floorP50) * 100) / 100,
      detail: {
        how: `Lab.createContainer of one container on an overlay network of a 3-host swarm lab (hosts in turn), after each host's first container (which also makes the network's load-balancer sandbox there); ${ATTACH_ROUNDS} rounds of ${ATTACH_PER_ROUND}. The floor: the same kernel operations, recorded from the lab's applies, done by iproute2 in a copy of the lab's world (bench/kernel-replay.ts), with ip's start-up taken out. The lab's time includes its model, store, peer events and the embedded DNS server's start and updates, which are no kernel work.`,
        samples: labMs.length,
        labP99Ms: ms(percentile(labMs, 99)),
        floorP99Ms: ms(percentile(floorMs, 99)),
        kernelInterfaceOnly: {
          how: "the lab's applies of each attach, renamed into a third copy of the world, sent to the linux kernel interface as the lab sent them: the backend's time without lab, controller, model or DNS",
          p50Ms: ms(percentile(directMs, 50)),
          p99Ms: ms(percentile(directMs, 99)),
        },
        kernelOperationsOfOneAttach: opsOfOne,
      },
    }
  } finally {
    floor.close()
    await run(lab.close())
  }
}

export const measureOverlayBulk = async (kernel: KernelShape, runId: string, say: Say) => {
  const recorder = new RecordingKernel(kernel)
  const lab = await run(Lab.make(recorder.kernel, { hosts: [...HOSTS], swarm: true, runId: `${runId}ba` }))
  try {
    await run(lab.createNetwork({ name: "ov", driver: "overlay", subnet: "10.21.0.0/20" }))
    await run(lab.createContainers(HOSTS.map((host) => ({ name: `w-${host}`, host, networks: [{ network: "ov" }] }))))
    const requests = HOSTS.flatMap((host) => Array.from({ length: BULK_PER_HOST }, (_, i) => ({ name: `b-${host}-${i}`, host, networks: [{ network: "ov" }] })))
    say(`multihost: ${HOSTS.length} hosts × ${BULK_PER_HOST} containers on one overlay network: up, then down, through the lab…`)
    recorder.recording = true
    const upMs = await timed(() => run(lab.createContainers(requests)))
    const upOps = recorder.take()
    await mustReach(kernel, lab, `${runId}b`, `b-h1-${BULK_PER_HOST - 1}`, `b-h3-${BULK_PER_HOST - 1}`, false)
    const downMs = await timed(() => run(lab.removeContainers(requests.map((r) => r.name))))
    recorder.recording = false
    const downOps = recorder.take()
    return {
      overlay3x300UpMs: Math.round(upMs),
      overlay3x300DownMs: Math.round(downMs),
      detail: {
        how: `${HOSTS.length * BULK_PER_HOST} containers (${BULK_PER_HOST} per host, after one per host) on one overlay network (10.21.0.0/20) of a 3-host swarm lab: up in one Lab.createContainers, down in one Lab.removeContainers (which returns once the kernel has destroyed the namespaces).`,
        baseline:
          "not measured: replaying these operations through ip (as for the attach) did not finish within 15 minutes on this machine at load ~25 while the lab's own run was being measured, so no floor is given for 3×300; the attach floor is the per-container comparison",
        upOperations: kinds(upOps),
        downOperations: kinds(downOps),
        upPerContainerMs: ms(upMs / requests.length),
        downPerContainerMs: ms(downMs / requests.length),
      },
    }
  } finally {
    await run(lab.close())
  }
}
