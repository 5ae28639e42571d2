import type { DnsAnswer } from "../backends/kernel-types.ts"

/**
 * The embedded DNS's records, per network (libnetwork's svcRecords): lower-cased name → the
 * addresses answering it. Kept up to date as endpoints join and leave, and consulted per query.
 */
export class DnsRecords {
  private readonly byNetwork = new Map<string, Map<string, Set<string>>>()

  add(network: string, names: ReadonlyArray<string>, address: string): void {
    let records = this.byNetwork.get(network)
    if (!records) this.byNetwork.set(network, (records = new Map()))
    for (const name of names) {
      const key = name.toLowerCase()
      let addresses = records.get(key)
      if (!addresses) records.set(key, (addresses = new Set()))
      addresses.add(address)
    }
  }

  remove(network: string, names: ReadonlyArray<string>, address: string): void {
    const records = this.byNetwork.get(network)
    if (!records) return
    for (const name of names) {
      const key = name.toLowerCase()
      const addresses = records.get(key)
      addresses?.delete(address)
      if (addresses?.size === 0) records.delete(key)
    }
    if (records.size === 0) this.byNetwork.delete(network)
  }

  /** answer from the first of `networks` (the asker's, in sandbox order) that knows the name */
  answer(networks: ReadonlyArray<string>, name: string): DnsAnswer {
    const key = name.toLowerCase().replace(/\.$/, "")
    for (const network of networks) {
      const addresses = this.byNetwork.get(network)?.get(key)
      if (addresses && addresses.size > 0) return { rcode: "NOERROR", addresses: [...addresses].sort(compareAddresses) }
    }
    return { rcode: "NXDOMAIN", addresses: [] }
  }
}

const addressKey = (address: string): number =>
  address.split(".").reduce((acc, part) => acc * 256 + Number(part), 0)

export const compareAddresses = (a: string, b: string): number => addressKey(a) - addressKey(b)
