/**
 * The floor for a lab operation: exactly the kernel operations the lab sent, done again by
 * iproute2 in a world of its own. A recording kernel passes the lab's applies on and keeps their
 * operations; the replay renames every namespace (cnm-<lab run>- → cnm-<floor run>-, so the floor
 * holds the same links, addresses and peers as the lab, in namespaces of its own) and sends each
 * run of operations on one namespace to a long-running `ip -n NS -batch` (FDB entries to
 * `bridge -n NS -batch`), timed as floorOneAtATime in ip-baselines.ts times it: each run minus a
 * marker-only run just before, so ip's start-up and the pipe are no part of it. A namespace is made
 * by `ip netns add` with IPv6 off written from this process (timed), as cnmlab makes its own.
 */
import { writeFileSync } from "node:fs"
import { Effect } from "effect"
import type { NetnsAddon } from "../backends/linux/addon.ts"
import { nsPath } from "../backends/linux/namespaces.ts"
import type { KernelShape } from "../backends/Kernel.ts"
import type { KernelOp } from "../backends/kernel-types.ts"
import { IpNamespaces, IpSession } from "./ip-baselines.ts"

/** a kernel that passes everything on and keeps the operations of every apply while `recording` */
export class RecordingKernel {
  recording = false
  private applies: KernelOp[][] = []
  readonly kernel: KernelShape

  constructor(inner: KernelShape) {
    this.kernel = {
      ...inner,
      apply: (ops) => {
        if (this.recording) this.applies.push([...ops])
        return inner.apply(ops)
      },
    }
  }

  /** the applies kept since the last take (each its operations), and a fresh start */
  take(): KernelOp[][] {
    const taken = this.applies
    this.applies = []
    return taken
  }
}

const renamed = (ops: ReadonlyArray<KernelOp>, from: string, to: string): KernelOp[] =>
  JSON.parse(JSON.stringify(ops).split(from).join(to)) as KernelOp[]

/**
 * The lab's applies, renamed into a world of their own, sent again to the kernel interface one by
 * one as the lab sent them: the backend's time for the lab's kernel work, without the lab.
 */
export class KernelReplay {
  constructor(
    private readonly kernel: KernelShape,
    private readonly from: string,
    private readonly to: string,
  ) {}

  async build(applies: ReadonlyArray<ReadonlyArray<KernelOp>>): Promise<void> {
    await Effect.runPromise(this.kernel.apply(renamed(applies.flat(), this.from, this.to)))
  }

  async replay(applies: ReadonlyArray<ReadonlyArray<KernelOp>>): Promise<number> {
    let total = 0
    for (const ops of applies) {
      const started = performance.now()
      await Effect.runPromise(this.kernel.apply(renamed(ops, this.from, this.to)))
      total += performance.now() - started
    }
    return total
  }
}

/** the ip (or bridge) batch line doing `op`, run inside op.ns */
const lineOf = (op: KernelOp): { readonly tool: "ip" | "bridge"; readonly line: string } => {
  const ip = (line: string) => ({ tool: "ip" as const, line })
  switch (op.op) {
    case "linkAdd": {
      const link = op.link
      if (link.kind !== "veth") throw new Error(`floor: no replay for a ${link.kind} link (${link.name})`)
      const peer = link.peer
      return ip(
        [
          `link add ${link.name}`,
          link.mac ? `address ${link.mac}` : "",
          link.mtu ? `mtu ${link.mtu}` : "",
          link.group !== undefined ? `group ${link.group}` : "",
          link.master ? `master ${link.master}` : "",
          link.up ? "up" : "",
          `type veth peer name ${peer.name}`,
          peer.mac ? `address ${peer.mac}` : "",
          peer.mtu ? `mtu ${peer.mtu}` : "",
          peer.ns ? `netns ${peer.ns}` : "",
        ]
          .filter(Boolean)
          .join(" "),
      )
    }
    case "linkDel":
      return ip(`link del ${op.name}`)
    case "linkSet":
      return ip(
        [
          `link set ${op.name}`,
          op.master === null ? "nomaster" : op.master ? `master ${op.master}` : "",
          op.mtu ? `mtu ${op.mtu}` : "",
          op.mac ? `address ${op.mac}` : "",
          op.newName ? `name ${op.newName}` : "",
          op.up === true ? "up" : op.up === false ? "down" : "",
        ]
          .filter(Boolean)
          .join(" "),
      )
    case "addrAdd":
      return ip(`addr add ${op.cidr} dev ${op.dev}`)
    case "addrDel":
      return ip(`addr del ${op.cidr} dev ${op.dev}`)
    case "routeAdd":
      return ip(
        [`route add ${op.route.dst}`, op.route.via ? `via ${op.route.via}` : "", op.route.dev ? `dev ${op.route.dev}` : "", op.route.scope ? `scope ${op.route.scope}` : ""]
          .filter(Boolean)
          .join(" "),
      )
    case "neighAdd":
      return ip(`neigh add ${op.ip} lladdr ${op.mac} dev ${op.dev} nud permanent`)
    case "neighDel":
      return ip(`neigh del ${op.ip} dev ${op.dev}`)
    case "fdbAdd":
      return { tool: "bridge", line: op.dst ? `fdb add ${op.mac} dev ${op.dev} dst ${op.dst} self permanent` : `fdb add ${op.mac} dev ${op.dev} master static` }
    case "fdbDel":
      return { tool: "bridge", line: op.dst ? `fdb del ${op.mac} dev ${op.dev} dst ${op.dst} self` : `fdb del ${op.mac} dev ${op.dev} master` }
    case "fdbForget":
      // `bridge -force -batch` goes on past the ENOENT of a MAC the bridge never learned
      return { tool: "bridge", line: `fdb del ${op.mac} dev ${op.dev} master` }
    default:
      throw new Error(`floor: no replay for ${op.op}`)
  }
}

/** the floor's own world, the lab's renamed, and its replays */
export class FloorReplay {
  private readonly sessions = new Map<string, IpSession>()
  private readonly made: IpNamespaces
  private host: IpSession | undefined

  constructor(
    private readonly native: NetnsAddon,
    private readonly kernel: KernelShape,
    /** "cnm-<lab run>-" and "cnm-<floor run>-" */
    private readonly from: string,
    private readonly to: string,
    /** a namespace of the floor's own to run `netns add` in */
    private readonly hostNs: string,
  ) {
    this.made = new IpNamespaces(native)
  }

  rename(ops: ReadonlyArray<KernelOp>): KernelOp[] {
    return renamed(ops, this.from, this.to)
  }

  /** the lab's set-up, renamed, made through the kernel interface (not timed: the floor's starting state) */
  async build(applies: ReadonlyArray<ReadonlyArray<KernelOp>>): Promise<void> {
    await Effect.runPromise(this.kernel.apply(this.rename(applies.flat())))
  }

  private async session(ns: string, tool: "ip" | "bridge"): Promise<IpSession> {
    const key = `${tool} ${ns}`
    const open = this.sessions.get(key)
    if (open) return open
    const started = await IpSession.start(this.native, ["-n", ns], undefined, tool)
    this.sessions.set(key, started)
    return started
  }

  /**
   * The lab's operations `ops`, renamed, done by iproute2; returns the kernel's time in ms.
   * Sessions of namespaces that do not appear after `ops` are closed (hundreds of sandboxes would
   * otherwise keep hundreds of ip processes).
   */
  async replay(applies: ReadonlyArray<ReadonlyArray<KernelOp>>): Promise<number> {
    const ops = this.rename(applies.flat())
    this.host ??= await IpSession.start(this.native, [], this.hostNs)
    let total = 0
    let i = 0
    while (i < ops.length) {
      const op = ops[i] as KernelOp
      if (op.op === "nsAdd" || op.op === "nsDel") {
        const ns = op.ns
        if (op.op === "nsAdd") {
          this.made.intend(ns)
          total += await this.host.timed(`netns add ${ns}\n`)
          const started = performance.now()
          this.native.withNetns(nsPath(ns), () => writeFileSync("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"))
          total += performance.now() - started
        } else {
          for (const tool of ["ip", "bridge"] as const) {
            this.sessions.get(`${tool} ${ns}`)?.close()
            this.sessions.delete(`${tool} ${ns}`)
          }
          total += await this.host.timed(`netns del ${ns}\n`)
        }
        i++
        continue
      }
      // a run of operations on one namespace with one tool: one batch
      const { tool } = lineOf(op)
      const lines: string[] = []
      let j = i
      while (j < ops.length) {
        const next = ops[j] as KernelOp
        if (next.op === "nsAdd" || next.op === "nsDel" || next.ns !== op.ns) break
        const rendered = lineOf(next)
        if (rendered.tool !== tool) break
        lines.push(`${rendered.line}\n`)
        j++
      }
      const session = await this.session(op.ns, tool)
      total += await session.timed(lines.join(""))
      i = j
    }
    // sandboxes this replay made are done with: their sessions end (ip holds the namespace open)
    for (const op of ops)
      if (op.op === "nsAdd")
        for (const tool of ["ip", "bridge"] as const) {
          this.sessions.get(`${tool} ${op.ns}`)?.close()
          this.sessions.delete(`${tool} ${op.ns}`)
        }
    return total
  }

  close(): void {
    for (const session of this.sessions.values()) session.close()
    this.sessions.clear()
    this.host?.close()
    this.made.removeAll()
  }
}
