import type { NamespaceTable } from "./namespaces.ts"
import { BR_STATE, IF_OPER } from "./netlink/constants.ts"
import { dumpLinks, type RawLink } from "./read.ts"

const IFF_RUNNING = 0x40
const IFF_UP = 0x1
const IFF_LOWER_UP = 0x10000

/**
 * Links that are up and have carrier but whose operational state the kernel has not caught up
 * with yet. Carrier changes are finished asynchronously by the kernel's linkwatch worker: until
 * it has run, the device still has its no-op qdisc (frames sent are dropped) and a bridge still
 * treats the port as disabled. Measured: a probe sent right after bringing a veth pair up lost
 * its first ARP request in 7 of 16 runs, and then "unresolved" for the whole second.
 *
 * A new veth is subtler: its operstate stays UNKNOWN until linkwatch runs, and UNKNOWN counts as
 * running, so IFF_RUNNING is already set while its transmit queue still drops (perf: QDISC_DROP in
 * __dev_queue_xmit from the bridge). A veth that is up with carrier is settled only at IF_OPER_UP.
 */
export const unsettledLinks = (namespaces: NamespaceTable, nsList: ReadonlyArray<string>): string[] =>
  nsList.flatMap((ns) => {
    try {
      const links = dumpLinks(namespaces, ns)
      const byIndex = new Map(links.map((l) => [l.index, l]))
      return links.filter((l) => isUnsettled(l, byIndex)).map((l) => `${ns}/${l.name}`)
    } catch {
      // the namespace went away meanwhile: nothing of it to wait for
      return []
    }
  })

const isUpWithCarrier = (l: RawLink): boolean => (l.flags & IFF_UP) !== 0 && (l.flags & IFF_LOWER_UP) !== 0

/**
 * A bridge port is enabled by the same linkwatch run that sets its operstate, but after it: the
 * bridge hears of the carrier only through the NETDEV_CHANGE sent once operstate is UP. A probe
 * that looks in between sees the veth settled while the bridge still drops what it receives (read
 * from the kernel's bridge code, br_port_carrier_check; a window this small was not caught in the
 * act). So a port that is up and running on a bridge that is up is settled only once the bridge
 * has left it disabled.
 */
const isUnsettled = (l: RawLink, byIndex: ReadonlyMap<number, RawLink>): boolean => {
  if (!isUpWithCarrier(l)) return false
  if ((l.flags & IFF_RUNNING) === 0 || (l.kind === "veth" && l.operstate !== IF_OPER.up)) return true
  const bridge = l.masterIndex === undefined ? undefined : byIndex.get(l.masterIndex)
  return l.portState === BR_STATE.disabled && bridge?.kind === "bridge" && (bridge.flags & IFF_UP) !== 0
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Waiter {
  /** the namespaces whose links changed before this wait began */
  readonly namespaces: ReadonlyArray<string>
  readonly started: number
  readonly resolve: (unsettled: string[]) => void
}

/**
 * Which namespaces have links the kernel may not have settled yet, and waits on their state.
 * Every link operation marks the namespaces whose links it changes (touched); a wait covers the
 * namespaces marked before it began, and ends when each of them has been seen settled once, so
 * link changes made meanwhile elsewhere (another lab on the same kernel) never hold it up.
 * Concurrent waits share one poll of the kernel.
 *
 * Bounded, because a device that never reports running must not hang a probe forever; the bound
 * is generous (linkwatch runs within a second, later when the machine is busy and rtnl is
 * contended), and a wait that reaches it returns the links still settling so that the probe can
 * say so.
 */
export class SettleWatch {
  private readonly dirty = new Set<string>()
  private waiters: Waiter[] = []
  private polling = false

  constructor(
    private readonly namespaces: NamespaceTable,
    private readonly maxMs: number,
  ) {}

  touched(ns: string): void {
    this.dirty.add(ns)
  }

  /** resolves with [] once settled, or with the links ("ns/name") still settling when the wait gave up */
  settled(): Promise<string[]> {
    if (this.dirty.size === 0) return Promise.resolve([])
    return new Promise((resolve) => {
      this.waiters.push({ namespaces: [...this.dirty], started: performance.now(), resolve })
      if (!this.polling) void this.poll()
    })
  }

  private async poll(): Promise<void> {
    this.polling = true
    try {
      while (this.waiters.length > 0) {
        const pending = new Map<string, string[]>()
        for (const ns of [...this.dirty]) {
          const links = unsettledLinks(this.namespaces, [ns])
          if (links.length === 0) this.dirty.delete(ns)
          else pending.set(ns, links)
        }
        const now = performance.now()
        this.waiters = this.waiters.filter((waiter) => {
          const left = waiter.namespaces.filter((ns) => this.dirty.has(ns))
          if (left.length > 0 && now - waiter.started <= this.maxMs) return true
          waiter.resolve(left.flatMap((ns) => pending.get(ns) ?? []))
          return false
        })
        if (this.waiters.length > 0) await sleep(2)
      }
    } finally {
      this.polling = false
    }
  }
}
