const ATTEMPTS = 3
/** long enough that an ARP request lost once is retried by the kernel (retrans_time: 1 s) between attempts */
const PAUSE_MS = 500

/** how many doubtful measurements were taken again, and how many of them then changed */
export const confirmations = { doubted: 0, changed: 0 }

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * On the real kernel a negative measurement (no echo reply, no DNS answer in time) that the other
 * side disputes is taken again, up to ATTEMPTS times, before it counts. The probes and queries
 * wait on timers in the same event loop that serves the embedded DNS and makes the netlink
 * calls, which block while the kernel destroys old namespaces; under load a timer can fire
 * before an answer that did arrive is read. A positive answer is never doubted: the real kernel
 * cannot make one up. A real difference stays negative on every attempt and is reported.
 */
export const confirmNegatives = async <T>(
  items: ReadonlyArray<T>,
  doubtful: (item: T, index: number) => boolean,
  again: (item: T) => Promise<T>,
): Promise<T[]> => {
  const current = [...items]
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const indexes = current.flatMap((item, i) => (doubtful(item, i) ? [i] : []))
    if (indexes.length === 0) break
    if (attempt === 0) confirmations.doubted += indexes.length
    await sleep(PAUSE_MS)
    const fresh = await Promise.all(indexes.map((i) => again(current[i] as T)))
    indexes.forEach((i, k) => {
      current[i] = fresh[k] as T
    })
  }
  confirmations.changed += current.filter((item, i) => item !== items[i] && !doubtful(item, i)).length
  return current
}
