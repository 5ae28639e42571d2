const ATTEMPTS = 3
/** the pauses add up to more than the kernel waits (retrans_time, 1 s) before it repeats an unanswered ARP request */
const PAUSE_MS = 500

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
    await sleep(PAUSE_MS)
    const fresh = await Promise.all(indexes.map((i) => again(current[i] as T)))
    indexes.forEach((i, k) => {
      current[i] = fresh[k] as T
    })
  }
  return current
}
