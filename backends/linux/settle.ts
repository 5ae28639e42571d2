import type { NamespaceTable } from "./namespaces.ts"
import { dumpLinks } from "./read.ts"

const IFF_RUNNING = 0x40
const IFF_UP = 0x1
const IFF_LOWER_UP = 0x10000

/**
 * Links that are up and have carrier but whose operational state the kernel has not caught up
 * with yet. Carrier changes are finished asynchronously by the kernel's linkwatch worker: until
 * it has run, the device still has its no-op qdisc (frames sent are dropped) and a bridge still
 * treats the port as disabled. Measured: a probe sent right after bringing a veth pair up lost
 * its first ARP request in 7 of 16 runs, and then "unresolved" for the whole second.
 */
export const unsettledLinks = (namespaces: NamespaceTable, nsList: ReadonlyArray<string>): string[] =>
  nsList.flatMap((ns) => {
    try {
      return dumpLinks(namespaces, ns)
        .filter((l) => l.flags & IFF_UP && l.flags & IFF_LOWER_UP && !(l.flags & IFF_RUNNING))
        .map((l) => `${ns}/${l.name}`)
    } catch {
      // the namespace went away meanwhile: nothing of it to wait for
      return []
    }
  })

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** waits until no link is unsettled (bounded: a device that never reports running is not waited for forever) */
export const waitForSettledLinks = async (
  namespaces: NamespaceTable,
  nsList: () => ReadonlyArray<string>,
  maxMs: number,
): Promise<string[]> => {
  const started = performance.now()
  for (;;) {
    const pending = unsettledLinks(namespaces, nsList())
    if (pending.length === 0 || performance.now() - started > maxMs) return pending
    await sleep(2)
  }
}
