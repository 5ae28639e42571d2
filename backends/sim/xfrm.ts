import type { KernelOp, XfrmDirection, XfrmMark, XfrmPolicySpec, XfrmSelector, XfrmStateSpec } from "../kernel-types.ts"
import { formatIpv4, INVALID, inPrefix, networkOf, parseCidr, parseIpv4, type Prefix } from "./ipv4.ts"
import { namespaceOf, noNamespace, type Outcome, refuse } from "./refusal.ts"
import type { SimMachine, SimNamespace } from "./state.ts"

/**
 * IPsec as the kernel's xfrm layer does it, for what Docker's encrypted overlay uses: ESP in
 * transport mode. A packet leaving a namespace that an out policy selects (addresses, protocol,
 * port, mark) must be carried by the state its template names, or it is dropped; the state seals
 * it as ESP with its SPI and key. A namespace receiving ESP opens it with the inbound state of
 * that SPI (destination, SPI, protocol), or drops it; a state with another key fails the
 * integrity check. Keys are compared, not used: the simulator carries the sealing key with the
 * packet. States and policies are kept as the kernel answers a dump: in the order added.
 */

export class SimXfrmState {
  constructor(
    readonly spec: XfrmStateSpec,
    readonly src: number,
    readonly dst: number,
  ) {}
}

export class SimXfrmPolicy {
  constructor(
    readonly spec: XfrmPolicySpec,
    readonly src: Prefix,
    readonly dst: Prefix,
    readonly templateSrc: number,
    readonly templateDst: number,
  ) {}
}

export class SimXfrm {
  readonly states: Array<SimXfrmState> = []
  readonly policies: Array<SimXfrmPolicy> = []
}

/** what an ESP packet carries in the simulator: the SPI on the wire, and the key that sealed it */
export interface EspSeal {
  readonly spi: number
  readonly key: string
  readonly src: number
  readonly dst: number
}

const AEAD_KEY = /^[0-9a-f]+$/

const sameMark = (a: XfrmMark | undefined, b: XfrmMark | undefined): boolean =>
  (a?.value ?? 0) >>> 0 === (b?.value ?? 0) >>> 0 && (a?.mask ?? 0) >>> 0 === (b?.mask ?? 0) >>> 0

export const hexSpi = (spi: number): string => `0x${(spi >>> 0).toString(16).padStart(8, "0")}`

const xfrmOf = (ns: SimNamespace): SimXfrm => (ns.xfrm ??= new SimXfrm())

export const xfrmStateAdd = (machine: SimMachine, op: KernelOp & { readonly op: "xfrmStateAdd" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const spec = op.state
  const src = parseIpv4(spec.src)
  const dst = parseIpv4(spec.dst)
  if (src === INVALID || dst === INVALID) return refuse(op, "EINVAL", `invalid state addresses ${spec.src} -> ${spec.dst}`)
  if (spec.spi === 0 || !Number.isInteger(spec.spi) || spec.spi < 0 || spec.spi > 0xffffffff) return refuse(op, "EINVAL", `invalid SPI ${spec.spi}`)
  if (!AEAD_KEY.test(spec.aead.key) || spec.aead.key.length % 2 !== 0) return refuse(op, "EINVAL", `invalid AEAD key for SPI ${hexSpi(spec.spi)}`)
  // measured on 6.18 without CONFIG_INET_ESP/CRYPTO_GCM: ENOSYS "Requested AEAD algorithm not found"
  if (!machine.capabilities.esp) return refuse(op, "ENOSYS", "Requested AEAD algorithm not found")
  const xfrm = xfrmOf(ns)
  if (xfrm.states.some((s) => s.dst === dst && s.spec.spi >>> 0 === spec.spi >>> 0 && sameMark(s.spec.mark, spec.mark))) {
    return refuse(op, "EEXIST", `an ESP state for ${spec.dst} SPI ${hexSpi(spec.spi)} exists`)
  }
  xfrm.states.push(new SimXfrmState(spec, src, dst))
  return undefined
}

export const xfrmStateDel = (machine: SimMachine, op: KernelOp & { readonly op: "xfrmStateDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const dst = parseIpv4(op.dst)
  const states = ns.xfrm?.states ?? []
  const index = states.findIndex((s) => s.dst === dst && s.spec.spi >>> 0 === op.spi >>> 0 && sameMark(s.spec.mark, op.mark))
  // measured: `ip xfrm state del` of a missing state answers ESRCH
  if (index < 0) return refuse(op, "ESRCH", `no ESP state for ${op.dst} SPI ${hexSpi(op.spi)}`)
  states.splice(index, 1)
  return undefined
}

const compileSelector = (op: KernelOp, selector: XfrmSelector): { src: Prefix; dst: Prefix } | Outcome => {
  const src = parseCidr(selector.src)
  const dst = parseCidr(selector.dst)
  if (src === undefined || dst === undefined) return refuse(op, "EINVAL", `invalid selector ${selector.src} -> ${selector.dst}`)
  if (selector.dport !== undefined && selector.proto !== "udp" && selector.proto !== "tcp") {
    return refuse(op, "EINVAL", "a selector's port needs proto udp or tcp")
  }
  return {
    src: { address: networkOf(src.address, src.length), length: src.length },
    dst: { address: networkOf(dst.address, dst.length), length: dst.length },
  }
}

const sameSelector = (a: XfrmSelector, b: XfrmSelector): boolean =>
  a.src === b.src && a.dst === b.dst && a.proto === b.proto && a.dport === b.dport

const normalized = (selector: XfrmSelector, src: Prefix, dst: Prefix): XfrmSelector => ({
  ...selector,
  src: `${formatIpv4(src.address)}/${src.length}`,
  dst: `${formatIpv4(dst.address)}/${dst.length}`,
})

export const xfrmPolicyAdd = (machine: SimMachine, op: KernelOp & { readonly op: "xfrmPolicyAdd" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const spec = op.policy
  const compiled = compileSelector(op, spec.selector)
  if (compiled === undefined || !("src" in compiled)) return compiled ?? refuse(op, "EINVAL", "invalid selector")
  const templateSrc = parseIpv4(spec.template.src)
  const templateDst = parseIpv4(spec.template.dst)
  if (templateSrc === INVALID || templateDst === INVALID) return refuse(op, "EINVAL", "invalid template addresses")
  const selector = normalized(spec.selector, compiled.src, compiled.dst)
  const xfrm = xfrmOf(ns)
  // policies need no ESP: measured, this kernel takes them without CONFIG_INET_ESP
  if (xfrm.policies.some((p) => p.spec.dir === spec.dir && sameSelector(p.spec.selector, selector) && sameMark(p.spec.mark, spec.mark))) {
    return refuse(op, "EEXIST", `an xfrm policy ${spec.dir} ${selector.src} -> ${selector.dst} exists`)
  }
  xfrm.policies.push(new SimXfrmPolicy({ ...spec, selector }, compiled.src, compiled.dst, templateSrc, templateDst))
  return undefined
}

export const xfrmPolicyDel = (machine: SimMachine, op: KernelOp & { readonly op: "xfrmPolicyDel" }): Outcome => {
  const ns = namespaceOf(machine, op.ns)
  if (ns === undefined) return noNamespace(op, op.ns)
  const compiled = compileSelector(op, op.selector)
  if (compiled === undefined || !("src" in compiled)) return compiled ?? refuse(op, "EINVAL", "invalid selector")
  const selector = normalized(op.selector, compiled.src, compiled.dst)
  const policies = ns.xfrm?.policies ?? []
  const index = policies.findIndex((p) => p.spec.dir === op.dir && sameSelector(p.spec.selector, selector) && sameMark(p.spec.mark, op.mark))
  if (index < 0) return refuse(op, "ENOENT", `no xfrm policy ${op.dir} ${selector.src} -> ${selector.dst}`)
  policies.splice(index, 1)
  return undefined
}

// ---------------------------------------------------------------------------------------------
// The data path
// ---------------------------------------------------------------------------------------------

/** what a policy lookup sees of a packet */
export interface XfrmFlow {
  readonly src: number
  readonly dst: number
  readonly proto: "icmp" | "udp" | "tcp"
  readonly dport: number
  readonly mark: number
}

const markMatches = (mark: XfrmMark | undefined, value: number): boolean =>
  mark === undefined || ((value & mark.mask) >>> 0) === (mark.value & mark.mask) >>> 0

const selects = (policy: SimXfrmPolicy, flow: XfrmFlow): boolean => {
  const selector = policy.spec.selector
  if (!inPrefix(flow.src, policy.src.address, policy.src.length) || !inPrefix(flow.dst, policy.dst.address, policy.dst.length)) return false
  if (selector.proto !== undefined && selector.proto !== flow.proto) return false
  if (selector.dport !== undefined && selector.dport !== flow.dport) return false
  return markMatches(policy.spec.mark, flow.mark)
}

/** the policy of that direction that selects the flow, lowest priority value first, as added among equals */
export const policyFor = (ns: SimNamespace, dir: XfrmDirection, flow: XfrmFlow): SimXfrmPolicy | undefined => {
  let best: SimXfrmPolicy | undefined
  for (const policy of ns.xfrm?.policies ?? []) {
    if (policy.spec.dir !== dir || !selects(policy, flow)) continue
    if (best === undefined || (policy.spec.priority ?? 0) < (best.spec.priority ?? 0)) best = policy
  }
  return best
}

/** the state an out policy's template asks for */
export const stateFor = (ns: SimNamespace, policy: SimXfrmPolicy, mark: number): SimXfrmState | undefined => {
  const template = policy.spec.template
  for (const state of ns.xfrm?.states ?? []) {
    if (state.src !== policy.templateSrc || state.dst !== policy.templateDst) continue
    if ((template.spi ?? 0) !== 0 && state.spec.spi >>> 0 !== template.spi! >>> 0) continue
    if ((template.reqid ?? 0) !== 0 && (state.spec.reqid ?? 0) !== template.reqid) continue
    if (!markMatches(state.spec.mark, mark)) continue
    return state
  }
  return undefined
}

/** the inbound state for an ESP packet: by destination, SPI and protocol, as xfrm_state_lookup does */
export const inboundState = (ns: SimNamespace, dst: number, spi: number): SimXfrmState | undefined => {
  for (const state of ns.xfrm?.states ?? []) if (state.dst === dst && state.spec.spi >>> 0 === spi >>> 0) return state
  return undefined
}

export const readXfrm = (ns: SimNamespace): { states: Array<XfrmStateSpec>; policies: Array<XfrmPolicySpec> } => ({
  states: (ns.xfrm?.states ?? []).map((s) => s.spec),
  // the kernel dumps policies newest first (measured: each goes to the head of its list)
  policies: (ns.xfrm?.policies ?? []).map((p) => p.spec).reverse(),
})
