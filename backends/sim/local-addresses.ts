import type { SimNamespace } from "./state.ts"

/**
 * "Is this address one of mine?" is asked on every hop of every probe. A container has two or
 * three links, so a scan is fastest there; a host namespace with many links gets an index, built
 * when first needed and dropped whenever one of its addresses changes.
 */

const SCAN_LIMIT = 8

const buildIndex = (ns: SimNamespace): Set<number> => {
  const index = new Set<number>()
  for (const link of ns.links.values()) for (const address of link.addresses) index.add(address.address)
  ns.localIndex = index
  return index
}

/** an address configured on some link of the namespace (whatever the link's state) */
export const ownsAddress = (ns: SimNamespace, address: number): boolean => {
  if (ns.links.size > SCAN_LIMIT) return (ns.localIndex ?? buildIndex(ns)).has(address)
  for (const link of ns.links.values()) {
    for (const configured of link.addresses) if (configured.address === address) return true
  }
  return false
}

export const addressesChanged = (ns: SimNamespace): void => {
  ns.localIndex = undefined
}
