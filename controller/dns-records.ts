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
        if (addresses && addresses.size > 0) return { rcode: "NOERROR", addresses: [...addresses].sort(compareAddresses) }
      }
    }
    return { rcode: "NXDOMAIN", addresses: [] }
  }
}

const addressKey = (address: string): number =>
  address.split(".").reduce((acc, part) => acc * 256 + Number(part), 0)

export const compareAddresses = (a: string, b: string): number => addressKey(a) - addressKey(b)
