/**
 * The baselines for a container attach on the real kernel, made with iproute2 instead of cnmlab:
 * the same kernel work (a namespace, a veth on the bridge with its peer created inside the
 * namespace as eth0 with the endpoint's MAC, lo up, the address, eth0 up, the default route).
 *
 * - floor, one container at a time (floorOneAtATime): the work of one container through
 *   `ip -batch` processes already running, so that ip's start-up is no part of it.
 * - floor, a round of containers at a time (floorRound): one `ip -batch` run inside the host
 *   namespace creates every namespace of the round, a second one every veth (IPv6 is switched off
 *   in the new namespaces between the two, as cnmlab does in its own: ip cannot, so this process
 *   writes the sysctl, timed); their time is shared by the containers of the round. The work
 *   inside each namespace cannot share a process (`ip -batch` has no per-line namespace), so it
 *   runs as `ip -n NS -batch`. From every one of these runs, the same command with an empty batch,
 *   run right before, is subtracted: what remains is the kernel's work plus ip's parsing.
 * - per-op: one `ip` process per operation, the way Mininet builds its hosts.
 *
 * Every namespace gets a ledger entry before it exists, so `cnmlab clean` removes it after a crash.
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import type { NetnsAddon } from "../backends/linux/addon.ts"
import { recordGone, recordIntent } from "../backends/linux/ledger.ts"
import { nsPath } from "../backends/linux/namespaces.ts"
import { CNMLAB_LINK_GROUP } from "../backends/kernel-types.ts"

/** the host namespace the baselines attach to: a bridge holding the gateway of a /16 */
export interface BaselineHost {
  readonly ns: string
  readonly bridge: string
  /** the first two octets of the /16, e.g. "10.222" */
  readonly net16: string
}

export interface FloorRound {
  /** per container: its share of the two global batches plus its in-namespace kernel work */
  readonly perContainerMs: ReadonlyArray<number>
  /** per container: the same with the whole `ip -n NS -batch` process counted */
  readonly withIpProcessMs: ReadonlyArray<number>
  readonly globalBatchPerContainerMs: number
  /** that share's parts, per container: the namespaces' batch, IPv6 off, the veths' batch */
  readonly globalParts: { readonly namespaces: number; readonly ipv6: number; readonly veths: number }
  readonly inNamespaceMs: ReadonlyArray<number>
}

interface IpRun {
  readonly ms: number
  readonly status: number | null
  readonly stderr: string
}

/** `ip ARGS` with `input` on stdin; with `inside`, spawned while this thread is in that namespace */
const ip = (native: NetnsAddon, args: ReadonlyArray<string>, input = "", inside?: string): Promise<IpRun> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const start = () => spawn("ip", [...args], { stdio: ["pipe", "ignore", "pipe"] })
    // spawn forks synchronously, so the child starts inside the namespace (as nft does in the backend)
    const child = inside === undefined ? start() : native.withNetns(nsPath(inside), start)
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (status) => resolve({ ms: performance.now() - started, status, stderr }))
    // ip stops reading at its first failing line: its exit status and stderr say why, not EPIPE
    child.stdin.on("error", () => {})
    child.stdin.end(input)
  })

const ok = (what: string, run: IpRun): IpRun => {
  if (run.status !== 0) throw new Error(`${what}: ip exited ${run.status}: ${run.stderr.trim()}`)
  return run
}

/** the address and MAC of the i-th container (from .2 on, MAC derived from the address as Docker does) */
export const endpointOf = (host: BaselineHost, i: number): { address: string; mac: string } => {
  const hostPart = i + 2
  const third = Math.floor(hostPart / 256)
  const fourth = hostPart % 256
  const [a, b] = host.net16.split(".").map(Number) as [number, number]
  const hex = (n: number) => n.toString(16).padStart(2, "0")
  return { address: `${host.net16}.${third}.${fourth}`, mac: `02:42:${hex(a)}:${hex(b)}:${hex(third)}:${hex(fourth)}` }
}

export const gatewayOf = (host: BaselineHost): string => `${host.net16}.0.1`

const inNamespaceBatch = (host: BaselineHost, i: number): string => {
  const { address } = endpointOf(host, i)
  return [`link set lo up`, `addr add ${address}/16 dev eth0`, `link set eth0 up`, `route add default via ${gatewayOf(host)}`, ""].join("\n")
}

const ipv6Off = (native: NetnsAddon, ns: string): void =>
  native.withNetns(nsPath(ns), () => {
    writeFileSync("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")
  })

/** namespaces made by ip for the baselines; remove() deletes them and their ledger entries */
export class IpNamespaces {
  private readonly made = new Set<string>()

  constructor(private readonly native: NetnsAddon) {}

  intend(ns: string): void {
    recordIntent(ns)
    this.made.add(ns)
  }

  removeAll(): void {
    for (const ns of this.made) {
      try {
        this.native.deleteNetns(ns)
      } catch {
        // never made (a failed round): only the ledger entry is left
      }
      recordGone(ns)
    }
    this.made.clear()
  }
}

/**
 * One round of the floor: `count` containers, numbered from `first` (unique over the whole run,
 * since each takes an address and a bridge port).
 */
export const floorRound = async (
  native: NetnsAddon,
  made: IpNamespaces,
  host: BaselineHost,
  prefix: string,
  first: number,
  count: number,
): Promise<FloorRound> => {
  const indexes = Array.from({ length: count }, (_, k) => first + k)
  const nsOf = (i: number) => `${prefix}-f${i}`
  for (const i of indexes) made.intend(nsOf(i))
  // a global batch's kernel work: its time minus the same ip started with nothing to do
  const globalBatch = async (what: string, lines: ReadonlyArray<string>): Promise<number> => {
    const idle = ok(`empty ${what}`, await ip(native, ["-batch", "-"], "", host.ns))
    const full = ok(what, await ip(native, ["-batch", "-"], lines.join(""), host.ns))
    return Math.max(0, full.ms - idle.ms)
  }
  const namespacesMs = await globalBatch("netns add batch", indexes.map((i) => `netns add ${nsOf(i)}\n`))
  // part of the same kernel work (cnmlab does it in every namespace), which ip cannot do: timed here
  const ipv6Started = performance.now()
  for (const i of indexes) ipv6Off(native, nsOf(i))
  const ipv6Ms = performance.now() - ipv6Started
  const vethsMs = await globalBatch(
    "veth batch",
    indexes.map(
      (i) =>
        `link add fv${i} group ${CNMLAB_LINK_GROUP} master ${host.bridge} up type veth peer name eth0 address ${endpointOf(host, i).mac} netns ${nsOf(i)}\n`,
    ),
  )
  const globalShare = (namespacesMs + ipv6Ms + vethsMs) / count

  const inNamespaceMs: number[] = []
  const withIpProcessMs: number[] = []
  for (const i of indexes) {
    const empty = ok("empty batch", await ip(native, ["-n", nsOf(i), "-batch", "-"], ""))
    const full = ok("in-namespace batch", await ip(native, ["-n", nsOf(i), "-batch", "-"], inNamespaceBatch(host, i)))
    inNamespaceMs.push(Math.max(0, full.ms - empty.ms))
    withIpProcessMs.push(globalShare + full.ms)
  }
  return {
    perContainerMs: inNamespaceMs.map((inside) => globalShare + inside),
    withIpProcessMs,
    globalBatchPerContainerMs: globalShare,
    globalParts: { namespaces: namespacesMs / count, ipv6: ipv6Ms / count, veths: vethsMs / count },
    inNamespaceMs,
  }
}

/**
 * A long-running `ip -force -batch -` (inside a namespace, or with `ip -n NS`), fed commands over
 * its stdin. ip writes nothing when a command succeeds, so each run ends with a marker command that
 * fails ("link show dev" of a device that does not exist): its "Command failed -:LINE" on stderr
 * (unbuffered) says that ip has finished everything before it.
 */
export class IpSession {
  private lines = 0
  private marker = "link show dev cnm-marker"
  private stderr = ""
  private waiting: { readonly line: number; readonly done: (output: string) => void } | undefined

  private constructor(private readonly child: ReturnType<typeof spawn>) {
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString()
      if (this.waiting && this.stderr.includes(`Command failed -:${this.waiting.line}\n`)) {
        const { done } = this.waiting
        const output = this.stderr
        this.waiting = undefined
        this.stderr = ""
        done(output)
      }
    })
  }

  /**
   * starts ip with `args` (e.g. ["-n", ns]); with `inside`, spawned from inside that namespace; ready
   * when it answered one marker. `bridge` instead of ip for FDB entries (its marker: an `fdb show`
   * of the missing device)
   */
  static async start(native: NetnsAddon, args: ReadonlyArray<string>, inside?: string, tool: "ip" | "bridge" = "ip"): Promise<IpSession> {
    const launch = () => spawn(tool, [...args, "-force", "-batch", "-"], { stdio: ["pipe", "ignore", "pipe"] })
    const session = new IpSession(inside === undefined ? launch() : native.withNetns(nsPath(inside), launch))
    if (tool === "bridge") session.marker = "fdb show dev cnm-marker"
    await session.run("")
    return session
  }

  /** sends `commands` (newline-terminated) and the marker; resolves with the ms until the marker came back */
  run(commands: string): Promise<number> {
    const count = commands.split("\n").length - 1
    this.lines += count + 1
    const line = this.lines
    const started = performance.now()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ip did not finish within 5 s: ${this.stderr.trim()}`)), 5000)
      this.waiting = {
        line,
        done: (output) => {
          const ms = performance.now() - started
          clearTimeout(timer)
          // a failure before the marker's is a command of ours that failed: the measurement is void
          const failures = output.match(/Command failed -:\d+/g) ?? []
          if (failures.length > 1) reject(new Error(`ip refused: ${output.trim()}`))
          else resolve(ms)
        },
      }
      this.child.stdin?.write(`${commands}${this.marker}\n`)
    })
  }

  /** the kernel's time for `commands` (plus ip's parsing): this run minus a marker-only run just before */
  async timed(commands: string): Promise<number> {
    const idle = await this.run("")
    return Math.max(0, (await this.run(commands)) - idle)
  }

  close(): void {
    this.child.stdin?.end()
  }
}

/**
 * The floor's kernel work for one container at a time, nothing shared with other containers, ip
 * already running (its start-up is no part of the kernel's work): in the host namespace the
 * namespace, IPv6 off in it (written by this process, timed, as in floorRound), then the veth;
 * inside, a session of `ip -n NS` started for it, then lo up, address, eth0 up, default route.
 * Each part is its run minus a marker-only run just before it.
 */
export const floorOneAtATime = async (
  native: NetnsAddon,
  made: IpNamespaces,
  hostSession: IpSession,
  host: BaselineHost,
  prefix: string,
  i: number,
): Promise<number> => {
  const ns = `${prefix}-s${i}`
  made.intend(ns)
  const namespace = await hostSession.timed(`netns add ${ns}\n`)
  const ipv6Started = performance.now()
  ipv6Off(native, ns)
  const ipv6Ms = performance.now() - ipv6Started
  const veth = await hostSession.timed(
    `link add sv${i} group ${CNMLAB_LINK_GROUP} master ${host.bridge} up type veth peer name eth0 address ${endpointOf(host, i).mac} netns ${ns}\n`,
  )
  const inside = await IpSession.start(native, ["-n", ns])
  try {
    return namespace + ipv6Ms + veth + (await inside.timed(inNamespaceBatch(host, i)))
  } finally {
    inside.close()
  }
}

/**
 * One container the Mininet way, one `ip` process per operation: netns add, veth (peer created in
 * the namespace), master, up, lo up, address, eth0 up, default route. Returns the summed time.
 */
export const ipPerOperation = async (
  native: NetnsAddon,
  made: IpNamespaces,
  host: BaselineHost,
  prefix: string,
  i: number,
): Promise<number> => {
  const ns = `${prefix}-p${i}`
  const { address, mac } = endpointOf(host, i)
  made.intend(ns)
  let total = ok("netns add", await ip(native, ["netns", "add", ns])).ms
  ipv6Off(native, ns)
  const steps: ReadonlyArray<ReadonlyArray<string>> = [
    ["-n", host.ns, "link", "add", `pv${i}`, "group", String(CNMLAB_LINK_GROUP), "type", "veth", "peer", "name", "eth0", "address", mac, "netns", ns],
    ["-n", host.ns, "link", "set", `pv${i}`, "master", host.bridge],
    ["-n", host.ns, "link", "set", `pv${i}`, "up"],
    ["-n", ns, "link", "set", "lo", "up"],
    ["-n", ns, "addr", "add", `${address}/16`, "dev", "eth0"],
    ["-n", ns, "link", "set", "eth0", "up"],
    ["-n", ns, "route", "add", "default", "via", gatewayOf(host)],
  ]
  for (const args of steps) total += ok(args.join(" "), await ip(native, args)).ms
  return total
}

/** `ip -V`, for the machine description */
export const iprouteVersion = (): Promise<string> =>
  new Promise((resolve) => {
    const child = spawn("ip", ["-V"], { stdio: ["ignore", "pipe", "ignore"] })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.on("error", () => resolve("unknown"))
    child.on("close", () => resolve(out.trim() || "unknown"))
  })
