import { existsSync, statSync, writeFileSync } from "node:fs"
import type { NetnsAddon } from "./addon.ts"
import { recordGone, recordIntent } from "./ledger.ts"
import { NetlinkChannel } from "./netlink/channel.ts"

/** cnmlab only ever creates or touches network namespaces whose names start with this */
export const NS_PREFIX = "cnm-"

export const NETNS_DIR = "/run/netns"

export const nsPath = (ns: string): string => `${NETNS_DIR}/${ns}`

/** a refusal before any syscall, with an errno name so toKernelError classifies it */
export class NamespaceRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const NAME = /^cnm-[A-Za-z0-9_.-]{1,200}$/

/** throws unless `ns` is a name cnmlab may touch */
export const assertOurName = (ns: string): void => {
  if (!ns.startsWith(NS_PREFIX))
    throw new NamespaceRefusal("EPERM", `namespace ${JSON.stringify(ns)}: cnmlab only touches namespaces named ${NS_PREFIX}…`)
  if (!NAME.test(ns)) throw new NamespaceRefusal("EINVAL", `namespace ${JSON.stringify(ns)}: not a valid name`)
}

/**
 * What every namespace cnmlab creates starts with, differing from a bare `ip netns add`:
 * - IPv6 off on every link made in it (`default`; lo keeps ::1, it sends nothing). The Kernel
 *   interface is IPv4 only, and Docker 20.10 switches IPv6 off in containers on IPv4 networks too
 *   (measured there: disable_ipv6 = 1). With it on, every new link sends DAD, MLD and router
 *   solicitations, which a bridge floods to all its ports: measured, attaching the 1,000th
 *   container to one bridge cost 8-20 ms instead of 2.5, and probes shared bridges with that traffic.
 * - ICMP errors not rate-limited (icmp_ratemask = 0; the default, 6168, limits destination
 *   unreachable, source quench, time exceeded and parameter problem). Linux sends a burst of six
 *   to one destination and then one a second (icmp_ratelimit), and at most icmp_msgs_per_sec in
 *   all; a UDP exchange with a port nobody serves, or a connection a router cannot deliver, would
 *   then be refused or unreachable for the first few askers and time out for the rest: measured,
 *   20 exchanges with closed ports of one namespace gave 6 refused and 14 timeouts, at once or
 *   one by one, and 200 of 200 refused with the mask at 0. A measurement must show the path, not
 *   how many came before it (the one known difference from a Docker host: README.md).
 *   The mask, not the two limits: both limits are skipped for a type outside it, the global one
 *   included, which kernels before 6.12 share between all namespaces of the machine.
 *
 * Nothing else is written up front, because every sysctl costs more the more namespaces exist:
 * the kernel keeps one /proc/sys dentry per namespace under the same name, and each open compares
 * against all of them (perf: proc_sys_compare). Measured with 1,100 namespaces, five writes per
 * new namespace made it cost 3.7 ms instead of 0.5; the ratemask's write, 0.16-0.37 ms more than
 * disable_ipv6 alone (0.91-0.99 ms, p50, at load 5).
 */
const INITIAL_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"],
  ["/proc/sys/net/ipv4/icmp_ratemask", "0"],
]

/**
 * Settings a namespace gets the first time it needs them (see prepare):
 * - pings: ICMP "ping" sockets allowed (probe sends its echoes through one; off by default);
 * - bridges: br_netfilter off. With it on (the default in a new namespace when the kernel has it
 *   built in, as here), IPv4 frames switched inside a bridge also traverse the ip family's
 *   forward hook, with iif and oif both the bridge. The Kernel interface defines "forward" as
 *   routed traffic and "bridge-forward" as switched traffic, and the simulator implements exactly
 *   that. A caller that wants Docker's br_netfilter behaviour sets
 *   net.bridge.bridge-nf-call-iptables back to 1 after making the bridge. A kernel without
 *   br_netfilter loaded (a module on most distributions) has no such files, and nothing to switch off.
 */
const ON_FIRST_NEED = {
  pings: [["/proc/sys/net/ipv4/ping_group_range", "0 2147483647"]],
  bridges: [
    ["/proc/sys/net/bridge/bridge-nf-call-iptables", "0"],
    ["/proc/sys/net/bridge/bridge-nf-call-ip6tables", "0"],
    ["/proc/sys/net/bridge/bridge-nf-call-arptables", "0"],
  ],
} as const satisfies Record<string, ReadonlyArray<readonly [string, string]>>

export type Need = keyof typeof ON_FIRST_NEED

const writeUnlessAbsent = (file: string, value: string): void => {
  try {
    writeFileSync(file, value)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" || file.endsWith("ping_group_range")) throw error
  }
}

interface OpenChannel {
  readonly channel: NetlinkChannel
  /** the namespace's identity when the socket was opened: a re-created namespace needs a new one */
  readonly inode: number
}

/**
 * The namespaces this kernel instance created, and one netlink socket per namespace (opened
 * inside it on first use). Sockets pin a namespace, so they are closed before it is deleted.
 */
export class NamespaceTable {
  private readonly created = new Set<string>()
  private readonly channels = new Map<string, OpenChannel>()
  /** ifindexes looked up by name, per namespace (see links.ts, cachedLinkIndex) */
  private readonly indexes = new Map<string, Map<string, number>>()
  /** per namespace, by its identity (a namespace re-created under the same name starts afresh) */
  private readonly prepared = new Map<string, { readonly inode: number; readonly needs: Set<Need> }>()
  private readonly beforeDelete: Array<(ns: string) => void> = []
  /** namespaces joined by a link made across them (a veth and its peer, a macvlan and its parent) */
  private readonly joined = new Map<string, Set<string>>()

  constructor(private readonly native: NetnsAddon) {}

  /** runs `hook` before any namespace is deleted (to close what lives in it) */
  onBeforeDelete(hook: (ns: string) => void): void {
    this.beforeDelete.push(hook)
  }

  /** every namespace this instance created or opened a socket in, that still exists */
  known(): string[] {
    return [...new Set([...this.created, ...this.channels.keys()])].filter((ns) => existsSync(nsPath(ns)))
  }

  /** the namespaces this instance created that still exist */
  ours(): string[] {
    return [...this.created].filter((ns) => existsSync(nsPath(ns)))
  }

  create(ns: string): void {
    assertOurName(ns)
    const claimed = recordIntent(ns)
    try {
      // written by the helper from inside the new namespace; a kernel without IPv6 has no such
      // file, and nothing to switch off
      this.native.createNetns(ns, INITIAL_SYSCTLS)
    } catch (error) {
      if (claimed) recordGone(ns)
      throw error
    }
    this.created.add(ns)
    this.indexes.delete(ns)
    const path = nsPath(ns)
    this.channels.get(ns)?.channel.close()
    this.channels.set(ns, { channel: new NetlinkChannel(this.native, path), inode: statSync(path).ino })
  }

  delete(ns: string): void {
    assertOurName(ns)
    if (!existsSync(nsPath(ns))) throw new NamespaceRefusal("ENOENT", `namespace ${ns} does not exist`)
    for (const hook of this.beforeDelete) hook(ns)
    this.closeChannel(ns)
    this.native.deleteNetns(ns)
    this.created.delete(ns)
    this.prepared.delete(ns)
    this.indexes.delete(ns)
    for (const other of this.joined.get(ns) ?? []) this.joined.get(other)?.delete(ns)
    this.joined.delete(ns)
    recordGone(ns)
  }

  /** writes the settings `need` asks for into `ns`, once per namespace */
  prepare(ns: string, need: Need): void {
    assertOurName(ns)
    const inode = this.inode(ns)
    let done = this.prepared.get(ns)
    if (done?.inode !== inode) {
      done = { inode, needs: new Set() }
      this.prepared.set(ns, done)
    }
    if (done.needs.has(need)) return
    this.native.withNetns(nsPath(ns), () => {
      for (const [file, value] of ON_FIRST_NEED[need]) writeUnlessAbsent(file, value)
    })
    done.needs.add(need)
  }

  /** the ifindex last seen for link `name` in `ns`, if any (it may be stale: see links.ts) */
  knownIndex(ns: string, name: string): number | undefined {
    return this.indexes.get(ns)?.get(name)
  }

  rememberIndex(ns: string, name: string, index: number): void {
    const names = this.indexes.get(ns) ?? new Map<string, number>()
    names.set(name, index)
    this.indexes.set(ns, names)
  }

  /** forgets `name`'s index in `ns`, or every index there */
  forgetIndexes(ns: string, name?: string): void {
    if (name === undefined) this.indexes.delete(ns)
    else this.indexes.get(ns)?.delete(name)
  }

  /** records that a link now joins `a` and `b`: where to look first for the far end of a link */
  join(a: string, b: string): void {
    if (a === b) return
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const set = this.joined.get(from) ?? new Set<string>()
      set.add(to)
      this.joined.set(from, set)
    }
  }

  /** the namespaces a link made by this instance joined to `ns` (a hint: links may have gone since) */
  joinedTo(ns: string): ReadonlyArray<string> {
    return [...(this.joined.get(ns) ?? [])]
  }

  /**
   * The namespace's netlink socket; throws ENOENT when the namespace does not exist. A namespace
   * this instance created is taken on trust until this instance deletes it (its ledger claim keeps
   * `cnmlab clean` away from it while we live); any other is looked up on every call, since it may
   * have been deleted and made again under the same name. That lookup is a stat, 7 µs, and an
   * attach makes nine requests.
   */
  channel(ns: string): NetlinkChannel {
    const trusted = this.created.has(ns) ? this.channels.get(ns) : undefined
    if (trusted && !trusted.channel.closed) return trusted.channel
    assertOurName(ns)
    const inode = this.inode(ns)
    const open = this.channels.get(ns)
    if (open && open.inode === inode && !open.channel.closed) return open.channel
    if (open) open.channel.close()
    const channel = new NetlinkChannel(this.native, nsPath(ns))
    this.channels.set(ns, { channel, inode })
    return channel
  }

  /**
   * The namespace as it is now, for another process to enter: its path and identity (a stat, so a
   * name deleted and made again since is told apart); throws ENOENT when it does not exist.
   */
  ref(ns: string): { readonly ns: string; readonly path: string; readonly inode: number } {
    assertOurName(ns)
    return { ns, path: nsPath(ns), inode: this.inode(ns) }
  }

  /** the path of an existing namespace of ours; throws ENOENT otherwise */
  path(ns: string): string {
    assertOurName(ns)
    if (!this.created.has(ns)) this.inode(ns)
    return nsPath(ns)
  }

  closeChannel(ns: string): void {
    this.channels.get(ns)?.channel.close()
    this.channels.delete(ns)
  }

  closeAllChannels(): void {
    for (const ns of [...this.channels.keys()]) this.closeChannel(ns)
  }

  private inode(ns: string): number {
    try {
      return statSync(nsPath(ns)).ino
    } catch {
      throw new NamespaceRefusal("ENOENT", `namespace ${ns} does not exist`)
    }
  }
}
