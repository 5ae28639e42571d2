import type { FwTable, KernelOp, XfrmMark, XfrmPolicySpec, XfrmStateSpec } from "../../backends/kernel-types.ts"
import type { SwarmKey, SwarmKeys } from "../../controller/keys.ts"
import { type HostContext, type Step, step } from "../Driver.ts"
import { VXLAN_PORT } from "./names.ts"

/**
 * Docker 20.10's encrypted overlay (libnetwork drivers/overlay/encryption.go), as kernel
 * operations. Between each pair of hosts: for every swarm key an inbound ESP state (remote ->
 * local) in transport mode with rfc4106(gcm(aes)) and a 64-bit ICV, for the primary key also the
 * outbound one, and an out policy selecting the VXLAN datagrams to that host that carry Docker's
 * mark (0xD0C4E3), through the outbound state. Docker installs no in or fwd policy: what must
 * not arrive in clear is dropped by a firewall rule instead. Per encrypted network (its VNI), on
 * the host: a route chain on output marks that VNI's datagrams (Docker: iptables mangle OUTPUT
 * with a u32/bpf match), and an input rule drops that VNI's datagrams that did not come through
 * IPsec (Docker 20.10.24 on, after CVE-2023-28840).
 *
 * A kernel without ESP refuses the states; Docker logs it and goes on without states and
 * policies, its marked datagrams leave in clear and the other host's input rule drops them. The
 * driver does the same (host.esp false: no states, no policies), so that the data path is
 * Docker's, and the lab says why traffic between hosts is lost (Lab.dataPathGaps).
 */

/** Docker's mark and reqid for everything it installs (encryption.go: mark = 0xD0C4E3) */
export const DOCKER_MARK = 0xd0c4e3
const MARK: XfrmMark = { value: DOCKER_MARK, mask: 0xffffffff }
const AEAD = "rfc4106(gcm(aes))"
const ICV_BITS = 64

/** the host's firewall table of one encrypted network */
export const encryptionTable = (vni: number): string => `overlay-esp-${vni}`

const octets = (address: string): number[] => address.split(".").map(Number)

/**
 * An SPI for traffic from src to dst sealed with one key: FNV-1a over the two addresses and the
 * key's tag, as Docker's buildSPI mixes them, so both hosts compute the same SPI. Never 0.
 */
export const spiOf = (src: string, dst: string, tag: number): number => {
  let hash = 0x811c9dc5
  for (const byte of [...octets(src), (tag >>> 24) & 255, (tag >>> 16) & 255, (tag >>> 8) & 255, tag & 255, ...octets(dst)]) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash === 0 ? 1 : hash
}

/** rfc4106 takes the AES key followed by a 4-byte salt; Docker's salt is the SPI */
const sealing = (src: string, dst: string, key: SwarmKey): XfrmStateSpec => {
  const spi = spiOf(src, dst, key.tag)
  return {
    src,
    dst,
    proto: "esp",
    spi,
    mode: "transport",
    reqid: DOCKER_MARK,
    aead: { name: AEAD, key: `${key.key}${spi.toString(16).padStart(8, "0")}`, icvBits: ICV_BITS },
  }
}

const primaryOf = (keys: SwarmKeys): SwarmKey => keys.keys[keys.primary] as SwarmKey

/** what a host holds towards one remote host: inbound states for every key, the outbound state and the policy for the primary */
export const pairSecurity = (
  local: string,
  remote: string,
  keys: SwarmKeys,
): { readonly states: ReadonlyArray<XfrmStateSpec>; readonly policy: XfrmPolicySpec } => {
  const outbound = sealing(local, remote, primaryOf(keys))
  return {
    states: [...keys.keys.map((key) => sealing(remote, local, key)), outbound],
    policy: {
      selector: { src: `${local}/32`, dst: `${remote}/32`, proto: "udp", dport: VXLAN_PORT },
      dir: "out",
      mark: MARK,
      template: { src: local, dst: remote, proto: "esp", mode: "transport", spi: outbound.spi, reqid: DOCKER_MARK },
    },
  }
}

const stateAdds = (ns: string, states: ReadonlyArray<XfrmStateSpec>): KernelOp[] => states.map((state) => ({ op: "xfrmStateAdd", ns, state }))
const stateDels = (ns: string, states: ReadonlyArray<XfrmStateSpec>): KernelOp[] =>
  states.map((state) => ({ op: "xfrmStateDel", ns, dst: state.dst, spi: state.spi }))
const policyAdd = (ns: string, policy: XfrmPolicySpec): KernelOp => ({ op: "xfrmPolicyAdd", ns, policy })
const policyDel = (ns: string, policy: XfrmPolicySpec): KernelOp => ({ op: "xfrmPolicyDel", ns, selector: policy.selector, dir: "out", mark: MARK })

/** the pair's security, or nothing where the kernel cannot hold it (see above) or the host is not in a swarm */
const securityTowards = (vtep: string, host: HostContext) => {
  const local = host.underlay?.address
  if (host.esp === false || host.swarmKeys === undefined || local === undefined) return undefined
  return pairSecurity(local, vtep, host.swarmKeys)
}

export const secureVtepAdd = (vtep: string, host: HostContext): ReadonlyArray<Step> => {
  const security = securityTowards(vtep, host)
  if (security === undefined) return []
  return [
    step("overlay.encryption.states", stateAdds(host.ns, security.states), stateDels(host.ns, security.states)),
    step("overlay.encryption.policy", [policyAdd(host.ns, security.policy)], [policyDel(host.ns, security.policy)]),
  ]
}

export const secureVtepDelete = (vtep: string, host: HostContext): ReadonlyArray<Step> => {
  const security = securityTowards(vtep, host)
  if (security === undefined) return []
  return [
    step("overlay.encryption.policy", [policyDel(host.ns, security.policy)], [policyAdd(host.ns, security.policy)]),
    step("overlay.encryption.states", stateDels(host.ns, security.states), stateAdds(host.ns, security.states)),
  ]
}

/** the host's rules for one encrypted network's VNI: mark what leaves, drop what arrives in clear */
export const markTable = (vni: number): FwTable => ({
  name: encryptionTable(vni),
  chains: [
    {
      name: "output",
      hook: "output",
      type: "route",
      rules: [{ match: { proto: "udp", dport: VXLAN_PORT, vni }, verdict: { kind: "mark", value: DOCKER_MARK }, comment: "encrypt" }],
    },
    {
      name: "input",
      hook: "input",
      type: "filter",
      rules: [{ match: { proto: "udp", dport: VXLAN_PORT, vni, ipsec: false }, verdict: { kind: "drop" }, comment: "unencrypted" }],
    },
  ],
})

export const markStep = (vni: number, host: HostContext): Step =>
  step("overlay.encryption.mark", [{ op: "firewallSet", ns: host.ns, table: markTable(vni) }], [{ op: "firewallDel", ns: host.ns, table: encryptionTable(vni) }])

export const unmarkStep = (vni: number, host: HostContext): Step =>
  step("overlay.encryption.mark", [{ op: "firewallDel", ns: host.ns, table: encryptionTable(vni) }], [{ op: "firewallSet", ns: host.ns, table: markTable(vni) }])
