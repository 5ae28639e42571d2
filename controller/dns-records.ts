import type { DnsAnswer } from "../backends/kernel-types.ts"
import type { Endpoint } from "../model/types.ts"

/**
 * The addresses one name answers with on one network: almost always a single one, kept as the
 * string itself, so joins and leaves (the controller's hot path) allocate no collection per name.
 */
type Addresses = string | Array<string>

/**
 * The embedded DNS's records, per network (libnetwork's svcRecords): lower-cased name → the
 * addresses answering it. Kept up to date as endpoints join and leave, and consulted per query.
 * An endpoint answers to its container's name and to its aliases, with its address.
 */
export class DnsRecords {
  private readonly byNetwork = new Map<string, Map<string, Addresses>>()

  /** an endpoint without an address (host, none) has no records */
  add(endpoint: Endpoint): void {
    const address = hostAddress(endpoint)
    if (address === undefined) return
    let records = this.byNetwork.get(endpoint.network)
    if (!records) this.byNetwork.set(endpoint.network, (records = new Map()))
    addName(records, endpoint.container, address)
    // by index: the model freezes its arrays, and for-of is slow on frozen arrays
    for (let i = 0; i < endpoint.aliases.length; i++) addName(records, endpoint.aliases[i] as string, address)
  }

  remove(endpoint: Endpoint): void {
    const address = hostAddress(endpoint)
    if (address === undefined) return
    const records = this.byNetwork.get(endpoint.network)
    if (!records) return
    removeName(records, endpoint.container, address)
    for (let i = 0; i < endpoint.aliases.length; i++) removeName(records, endpoint.aliases[i] as string, address)
    if (records.size === 0) this.byNetwork.delete(endpoint.network)
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
          const list = typeof addresses === "string" ? [addresses] : [...addresses].sort(compareAddresses)
          return { rcode: "NOERROR", addresses: list }
        }
      }
    }
    return { rcode: "NXDOMAIN", addresses: [] }
  }
}

/** "172.18.0.2/16" → "172.18.0.2" */
const hostAddress = (endpoint: Endpoint): string | undefined => {
  const cidr = endpoint.address
  if (cidr === undefined) return undefined
  const slash = cidr.indexOf("/")
  return slash < 0 ? cidr : cidr.slice(0, slash)
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
