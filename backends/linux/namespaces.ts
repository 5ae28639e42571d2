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
 * - ICMP "ping" sockets allowed (probe sends its echoes through one; off by default);
 * - br_netfilter off: with it on (the default in a new namespace when the kernel has it built in,
 *   as here), IPv4 frames switched inside a bridge also traverse the ip family's forward hook,
 *   with iif and oif both the bridge. The Kernel interface defines "forward" as routed traffic
 *   and "bridge-forward" as switched traffic, and the simulator implements exactly that. A caller
 *   that wants Docker's br_netfilter behaviour sets net.bridge.bridge-nf-call-iptables back to 1.
 * - IPv6 off on every link made in it (`default`; lo keeps ::1, it sends nothing): the Kernel
 *   interface is IPv4 only, and Docker 20.10 switches IPv6 off in containers on IPv4 networks
 *   too (measured there: disable_ipv6 = 1). With it on, every new link sends DAD, MLD and router
 *   solicitations, which a bridge floods to all its ports: measured, attaching the 1,000th
 *   container to one bridge cost 8-20 ms instead of 2.5, and probes shared bridges with that traffic.
 */
const INITIAL_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"],
  ["/proc/sys/net/ipv4/ping_group_range", "0 2147483647"],
  ["/proc/sys/net/bridge/bridge-nf-call-iptables", "0"],
  ["/proc/sys/net/bridge/bridge-nf-call-ip6tables", "0"],
  ["/proc/sys/net/bridge/bridge-nf-call-arptables", "0"],
]

/**
 * A kernel without IPv6, or without br_netfilter loaded (a module on most distributions), has no
 * such file, and nothing to switch off.
 */
const writeInitialSysctl = (file: string, value: string): void => {
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
      this.native.createNetns(ns)
    } catch (error) {
      if (claimed) recordGone(ns)
      throw error
    }
    this.created.add(ns)
    const path = nsPath(ns)
    // its socket is opened in the same visit: one namespace switch instead of two
    const channel = this.native.withNetns(path, () => {
      for (const [file, value] of INITIAL_SYSCTLS) writeInitialSysctl(file, value)
      return new NetlinkChannel(this.native, null)
    })
    this.channels.get(ns)?.channel.close()
    this.channels.set(ns, { channel, inode: statSync(path).ino })
  }

  delete(ns: string): void {
    assertOurName(ns)
    if (!existsSync(nsPath(ns))) throw new NamespaceRefusal("ENOENT", `namespace ${ns} does not exist`)
    for (const hook of this.beforeDelete) hook(ns)
    this.closeChannel(ns)
    this.native.deleteNetns(ns)
    this.created.delete(ns)
    for (const other of this.joined.get(ns) ?? []) this.joined.get(other)?.delete(ns)
    this.joined.delete(ns)
    recordGone(ns)
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

  /** the namespace's netlink socket; throws ENOENT when the namespace does not exist */
  channel(ns: string): NetlinkChannel {
    assertOurName(ns)
    const inode = this.inode(ns)
    const open = this.channels.get(ns)
    if (open && open.inode === inode && !open.channel.closed) return open.channel
    if (open) open.channel.close()
    const channel = new NetlinkChannel(this.native, nsPath(ns))
    this.channels.set(ns, { channel, inode })
    return channel
  }

  /** the path of an existing namespace of ours; throws ENOENT otherwise */
  path(ns: string): string {
    assertOurName(ns)
    this.inode(ns)
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
