/**
 * The overlay driver's options and swarm's VNI allocator (Docker 20.10: drivers/overlay
 * ov_network.go, encryption.go maxMTU, ovmanager/ovmanager.go). The `com.docker.network.driver.mtu`
 * option is the underlay's MTU; the vxlan device and the veths get it minus VXLAN's 50 bytes
 * (encrypted: minus ESP's 26 more, rounded down to a multiple of 4).
 */
import * as IntTrie from "./int-trie.ts"
import { optionKeys, parseGoInt } from "./options.ts"
import { type Checked, accept, fail } from "./representation.ts"

export const overlayOptionKeys = {
  vxlanIdList: "com.docker.network.driver.overlay.vxlanid_list",
  encrypted: "encrypted",
  mtu: optionKeys.mtu,
} as const

/** swarm's manager hands VNIs out from here (ovmanager vxlanIDStart) up to 2^24 - 1 */
export const firstVni = 4096
export const lastVni = 2 ** 24 - 1

const vxlanOverhead = 50
const espOverhead = 26
const defaultUnderlayMtu = 1500

/** the kernel's bounds for the vxlan device Docker creates (no lower device: 65535 minus VXLAN's headroom) */
const minimumMtu = 68
const maximumVxlanMtu = 65535 - vxlanOverhead

export const isEncrypted = (options: Readonly<Record<string, string>>): boolean => overlayOptionKeys.encrypted in options

/** the underlay MTU the options give (0 or none: 1500), or Docker's refusal */
export const underlayMtu = (options: Readonly<Record<string, string>>): Checked<number> => {
  const text = options[overlayOptionKeys.mtu]
  if (text === undefined) return accept(defaultUnderlayMtu)
  const value = parseGoInt(text)
  if (value === undefined) return fail("InvalidOption", `failed to parse ${text}: strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`)
  if (value < 0n) return fail("InvalidOption", `invalid MTU value: ${value}`)
  return accept(value === 0n ? defaultUnderlayMtu : Number(value))
}

/** the MTU of the network's vxlan device and veths (maxMTU) */
export const overlayMtu = (underlay: number, encrypted: boolean): number => {
  const mtu = underlay - vxlanOverhead
  if (!encrypted) return mtu
  const expanded = mtu - espOverhead
  return expanded - (expanded % 4)
}

/** why every join of the network fails, if it does: the kernel refuses the vxlan device's MTU */
export const overlayJoinProblem = (mtu: number, subnet: string): string | undefined =>
  mtu >= minimumMtu && mtu <= maximumVxlanMtu
    ? undefined
    : `network sandbox join failed: subnet sandbox join failed for "${subnet}": error creating vxlan interface: invalid argument`

/** the VNI the options ask for (the first of the list; 0 means any), or the manager's refusal */
export const requestedVni = (options: Readonly<Record<string, string>>): Checked<number | undefined> => {
  const text = options[overlayOptionKeys.vxlanIdList]
  if (text === undefined) return accept(undefined)
  let first: bigint | undefined
  for (const entry of text.split(",")) {
    const value = parseGoInt(entry)
    if (value === undefined) return fail("InvalidOption", `invalid vxlan id value ${JSON.stringify(entry)} passed`)
    first ??= value
  }
  // Go converts with uint32(): a negative id wraps around, far out of the allocator's set
  const wanted = BigInt.asUintN(32, first as bigint)
  return accept(wanted === 0n ? undefined : Number(wanted))
}

export interface VniAllocation {
  readonly vni: number
  readonly vnis: IntTrie.IntTrie<string>
  readonly cursor: number
}

/**
 * A VNI for a new network (ovmanager obtainVxlanID): the asked one if free and in the allocator's
 * set, else the next free one from the cursor on (the manager asks serially), wrapping to 4096.
 */
export const allocateVni = (
  vnis: IntTrie.IntTrie<string>,
  cursor: number,
  wanted: number | undefined,
  network: string,
  pool: string,
): Checked<VniAllocation> => {
  const refused = (reason: string) => fail("InvalidOption", `could not obtain vxlan id for pool ${pool}: ${reason}`)
  if (wanted !== undefined) {
    if (wanted > lastVni) return refused("Requested id does not belong to the set")
    if (IntTrie.has(vnis, wanted)) return refused("requested bit is already allocated")
    return accept({ vni: wanted, vnis: IntTrie.set(vnis, wanted, network), cursor })
  }
  let vni = cursor > firstVni && cursor <= lastVni ? IntTrie.firstAbsent(vnis, cursor, lastVni) : -1
  if (vni < 0) vni = IntTrie.firstAbsent(vnis, firstVni, lastVni)
  if (vni < 0) return refused("no bit available")
  return accept({ vni, vnis: IntTrie.set(vnis, vni, network), cursor: vni + 1 })
}
