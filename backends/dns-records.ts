import type { DnsAnswer, DnsEntry, DnsUpdate } from "./kernel-types.ts"

/**
 * The addresses one name answers with on one network: almost always a single one, kept as the
 * string itself, so joins and leaves (the controller's hot path) allocate no collection per name.
 */
type Addresses = string | Array<string>

/**
 * One resolver's names, per network (libnetwork's svcRecords): lower-cased name → the addresses
 * answering it, and how a sandbox's question is answered from them. Both backends' DNS servers
 * answer from one of these (the simulator's in place, the linux backend's in its measurement
 * helper); the controller keeps it up to date through the Kernel interface's updateDns.
 */
export class DnsRecords {
  private readonly byNetwork = new Map<string, Map<string, Addresses>>()

  /** removals first, then additions: an update that moves a name leaves it on its new address */
  update(update: DnsUpdate): void {
    for (const entry of update.remove ?? []) this.remove(entry)
    for (const entry of update.add ?? []) this.add(entry)
  }

  add(entry: DnsEntry): void {
    let records = this.byNetwork.get(entry.network)
    if (!records) this.byNetwork.set(entry.network, (records = new Map()))
    // by index: the model freezes its arrays, and for-of is slow on frozen arrays
    for (let i = 0; i < entry.names.length; i++) addName(records, entry.names[i] as string, entry.address)
  }

  remove(entry: DnsEntry): void {
    const records = this.byNetwork.get(entry.network)
    if (!records) return
    for (let i = 0; i < entry.names.length; i++) removeName(records, entry.names[i] as string, entry.address)
    // a shared name's rotation starts again once its holders change (and the map keeps no names that went)
    if (this.turns.size > 0) for (let i = 0; i < entry.names.length; i++) this.turns.delete(`${entry.network}\u0000${lowerCase(entry.names[i] as string)}`)
    if (records.size === 0) this.byNetwork.delete(entry.network)
  }

  /**
   * Answer as libnetwork's resolver does (sandbox.ResolveName): the whole name on every network of
   * the asker first; then, dropping the labels from the right one at a time, the remaining labels
   * as a name on the network the dropped ones spell (`web.n1` is `web` on n1), asked of that
   * network only if the asker is on it. Within one reading the asker's networks are asked in
   * sandbox order and the first that knows the name answers. Names are case-insensitive, network
   * names are not.
   */
  answer(networks: ReadonlyArray<string>, name: string): DnsAnswer {
    const labels = name.replace(/\.$/, "").split(".")
    for (let kept = labels.length; kept >= 1; kept--) {
      const key = labels.slice(0, kept).join(".").toLowerCase()
      const onlyNetwork = kept === labels.length ? undefined : labels.slice(kept).join(".")
      for (const network of networks) {
        if (onlyNetwork !== undefined && network !== onlyNetwork) continue
        const addresses = this.byNetwork.get(network)?.get(key)
        if (addresses !== undefined) {
          return { rcode: "NOERROR", addresses: typeof addresses === "string" ? [addresses] : this.turn(`${network}\u0000${key}`, addresses) }
        }
      }
    }
    return { rcode: "NXDOMAIN", addresses: [] }
  }

  /** how many times each shared name has answered, so the next answer starts one further on */
  private readonly turns = new Map<string, number>()

  /**
   * A shared name's addresses (an alias several containers hold), each answer starting with the
   * next one: libnetwork 20.10's resolver shuffles them (resolver.go shuffleAddr) so that clients
   * taking the first answer spread over the holders. A rotation spreads them the same way and
   * keeps a run repeatable (the simulator's only randomness is seeded).
   */
  private turn(key: string, addresses: ReadonlyArray<string>): Array<string> {
    const sorted = [...addresses].sort(compareAddresses)
    const start = (this.turns.get(key) ?? 0) % sorted.length
    this.turns.set(key, start + 1)
    return [...sorted.slice(start), ...sorted.slice(0, start)]
  }
}

/** names are case-insensitive; most are lower case already, and toLowerCase would copy them */
const lowerCase = (name: string): string => {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i)
    if ((code >= 65 && code <= 90) || code > 127) return name.toLowerCase()
  }
  return name
}

/** a name listed twice (an alias equal to the container's name) still holds the address once */
const addName = (records: Map<string, Addresses>, name: string, address: string): void => {
  const key = lowerCase(name)
  const addresses = records.get(key)
  if (addresses === undefined) records.set(key, address)
  else if (typeof addresses === "string") {
    if (addresses !== address) records.set(key, [addresses, address])
  } else if (!addresses.includes(address)) addresses.push(address)
}

const removeName = (records: Map<string, Addresses>, name: string, address: string): void => {
  const key = lowerCase(name)
  const addresses = records.get(key)
  if (addresses === undefined) return
  if (typeof addresses === "string") {
    if (addresses === address) records.delete(key)
    return
  }
  const at = addresses.indexOf(address)
  if (at >= 0) addresses.splice(at, 1)
  if (addresses.length === 1) records.set(key, addresses[0] as string)
  else if (addresses.length === 0) records.delete(key)
}

const addressKey = (address: string): number =>
  address.split(".").reduce((acc, part) => acc * 256 + Number(part), 0)

export const compareAddresses = (a: string, b: string): number => addressKey(a) - addressKey(b)
