import type { XfrmAead, XfrmDirection, XfrmMark, XfrmPolicySpec, XfrmSelector, XfrmStateSpec, XfrmTemplate } from "../../kernel-types.ts"
import { AF_INET } from "./constants.ts"
import { attr, attrList, ipv4Bytes, networkOf, parseCidr } from "./wire.ts"

/**
 * NETLINK_XFRM's wire format (linux/xfrm.h), for IPv4 ESP in transport mode: the fixed structs
 * xfrm_usersa_info, xfrm_usersa_id, xfrm_userpolicy_info, xfrm_userpolicy_id and xfrm_user_tmpl,
 * and the attributes XFRMA_ALG_AEAD, XFRMA_TMPL and XFRMA_MARK. Offsets are x86-64's (and every
 * 64-bit ABI's: the structs hold u64 lifetimes, so they are 8-aligned), checked against the
 * header with offsetof (backends/linux/README.md, "Kernel answers worth knowing").
 * Addresses are network order, SPIs and ports big-endian, everything else host order.
 */

export const NETLINK_XFRM = 6

export const XFRM_MSG = {
  NEWSA: 0x10,
  DELSA: 0x11,
  GETSA: 0x12,
  NEWPOLICY: 0x13,
  DELPOLICY: 0x14,
  GETPOLICY: 0x15,
} as const

export const XFRMA = { TMPL: 5, ALG_AEAD: 18, MARK: 21 } as const

const IPPROTO = { icmp: 1, tcp: 6, udp: 17, esp: 50 } as const
const XFRM_MODE_TRANSPORT = 0
const DIRECTIONS: ReadonlyArray<XfrmDirection> = ["in", "out", "fwd"]
/** XFRM_INF: no byte or packet limit (zero would expire a state at once) */
const NO_LIMIT = 0xffffffffffffffffn

const SIZE = { selector: 56, usersaInfo: 224, usersaId: 24, userpolicyInfo: 168, userpolicyId: 64, userTmpl: 64, aeadName: 64 } as const

const writeAddress = (out: Buffer, offset: number, address: string): void => {
  out.set(ipv4Bytes(address), offset)
}

const readAddress = (b: Buffer, offset: number): string => `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`

/** four u64 limits (soft/hard bytes, soft/hard packets) set to XFRM_INF; the expiry times stay 0 (none) */
const writeNoLimits = (out: Buffer, offset: number): void => {
  for (let i = 0; i < 4; i++) out.writeBigUInt64LE(NO_LIMIT, offset + i * 8)
}

const writeSelector = (out: Buffer, offset: number, selector: XfrmSelector): void => {
  const dst = parseCidr(selector.dst)
  const src = parseCidr(selector.src)
  // the network addresses, as `ip xfrm policy` shows them
  writeAddress(out, offset, networkOf(dst.address, dst.prefixLength))
  writeAddress(out, offset + 16, networkOf(src.address, src.prefixLength))
  if (selector.dport !== undefined) {
    out.writeUInt16BE(selector.dport, offset + 32)
    out.writeUInt16BE(0xffff, offset + 34)
  }
  out.writeUInt16LE(AF_INET, offset + 40)
  out.writeUInt8(dst.prefixLength, offset + 42)
  out.writeUInt8(src.prefixLength, offset + 43)
  out.writeUInt8(selector.proto === undefined ? 0 : IPPROTO[selector.proto], offset + 44)
}

const protoName = (number: number): XfrmSelector["proto"] =>
  number === IPPROTO.icmp ? "icmp" : number === IPPROTO.tcp ? "tcp" : number === IPPROTO.udp ? "udp" : undefined

const readSelector = (b: Buffer, offset: number): XfrmSelector => {
  const proto = protoName(b.readUInt8(offset + 44))
  const dportMask = b.readUInt16BE(offset + 34)
  return {
    src: `${readAddress(b, offset + 16)}/${b.readUInt8(offset + 43)}`,
    dst: `${readAddress(b, offset)}/${b.readUInt8(offset + 42)}`,
    ...(proto === undefined ? {} : { proto }),
    ...(dportMask === 0 ? {} : { dport: b.readUInt16BE(offset + 32) }),
  }
}

const markAttr = (mark: XfrmMark | undefined): Buffer[] => {
  if (mark === undefined) return []
  const b = Buffer.alloc(8)
  b.writeUInt32LE(mark.value >>> 0, 0)
  b.writeUInt32LE(mark.mask >>> 0, 4)
  return [attr(XFRMA.MARK, b)]
}

const readMark = (b: Buffer | undefined): XfrmMark | undefined =>
  b === undefined || b.length < 8 ? undefined : { value: b.readUInt32LE(0), mask: b.readUInt32LE(4) }

/** xfrm_algo_aead: the name (64 bytes, NUL-padded), key and ICV lengths in bits, the key */
const aeadAttr = (aead: XfrmAead): Buffer => {
  const key = Buffer.from(aead.key, "hex")
  const b = Buffer.alloc(SIZE.aeadName + 8 + key.length)
  b.write(aead.name, 0, SIZE.aeadName - 1, "utf8")
  b.writeUInt32LE(key.length * 8, SIZE.aeadName)
  b.writeUInt32LE(aead.icvBits, SIZE.aeadName + 4)
  key.copy(b, SIZE.aeadName + 8)
  return attr(XFRMA.ALG_AEAD, b)
}

const readAead = (b: Buffer | undefined): XfrmAead | undefined => {
  if (b === undefined || b.length < SIZE.aeadName + 8) return undefined
  const end = b.indexOf(0)
  const keyBytes = b.readUInt32LE(SIZE.aeadName) / 8
  return {
    name: b.toString("utf8", 0, end < 0 || end > SIZE.aeadName ? SIZE.aeadName : end),
    key: b.subarray(SIZE.aeadName + 8, SIZE.aeadName + 8 + keyBytes).toString("hex"),
    icvBits: b.readUInt32LE(SIZE.aeadName + 4),
  }
}

/** XFRM_MSG_NEWSA's body: xfrm_usersa_info (its selector left empty: any traffic), the AEAD, the mark */
export const newStateBody = (state: XfrmStateSpec): Buffer[] => {
  const info = Buffer.alloc(SIZE.usersaInfo)
  writeAddress(info, 56, state.dst) // id.daddr
  info.writeUInt32BE(state.spi >>> 0, 72) // id.spi
  info.writeUInt8(IPPROTO.esp, 76) // id.proto
  writeAddress(info, 80, state.src) // saddr
  writeNoLimits(info, 96) // lft
  info.writeUInt32LE((state.reqid ?? 0) >>> 0, 208)
  info.writeUInt16LE(AF_INET, 212)
  info.writeUInt8(XFRM_MODE_TRANSPORT, 214)
  return [info, aeadAttr(state.aead), ...markAttr(state.mark)]
}

/** XFRM_MSG_DELSA's body: xfrm_usersa_id (destination, SPI, family, protocol) and the mark */
export const stateIdBody = (dst: string, spi: number, mark: XfrmMark | undefined): Buffer[] => {
  const id = Buffer.alloc(SIZE.usersaId)
  writeAddress(id, 0, dst)
  id.writeUInt32BE(spi >>> 0, 16)
  id.writeUInt16LE(AF_INET, 20)
  id.writeUInt8(IPPROTO.esp, 22)
  return [id, ...markAttr(mark)]
}

/** one XFRM_MSG_NEWSA of a dump; undefined for what the Kernel interface does not describe (not IPv4 ESP transport) */
export const parseState = (payload: Buffer): XfrmStateSpec | undefined => {
  if (payload.length < SIZE.usersaInfo) return undefined
  if (payload.readUInt16LE(212) !== AF_INET || payload.readUInt8(76) !== IPPROTO.esp || payload.readUInt8(214) !== XFRM_MODE_TRANSPORT) return undefined
  const attrs = new Map(attrList(payload, SIZE.usersaInfo))
  const aead = readAead(attrs.get(XFRMA.ALG_AEAD))
  if (aead === undefined) return undefined
  const reqid = payload.readUInt32LE(208)
  const mark = readMark(attrs.get(XFRMA.MARK))
  return {
    src: readAddress(payload, 80),
    dst: readAddress(payload, 56),
    proto: "esp",
    spi: payload.readUInt32BE(72),
    mode: "transport",
    ...(reqid === 0 ? {} : { reqid }),
    aead,
    ...(mark === undefined ? {} : { mark }),
  }
}

const writeTemplate = (template: XfrmTemplate): Buffer => {
  const t = Buffer.alloc(SIZE.userTmpl)
  writeAddress(t, 0, template.dst) // id.daddr
  t.writeUInt32BE((template.spi ?? 0) >>> 0, 16) // id.spi
  t.writeUInt8(IPPROTO.esp, 20) // id.proto
  t.writeUInt16LE(AF_INET, 24)
  writeAddress(t, 28, template.src)
  t.writeUInt32LE((template.reqid ?? 0) >>> 0, 44)
  t.writeUInt8(XFRM_MODE_TRANSPORT, 48)
  // any algorithm will do (iproute2's default)
  t.writeUInt32LE(0xffffffff, 52)
  t.writeUInt32LE(0xffffffff, 56)
  t.writeUInt32LE(0xffffffff, 60)
  return t
}

const readTemplate = (b: Buffer | undefined): XfrmTemplate | undefined => {
  if (b === undefined || b.length < SIZE.userTmpl || b.readUInt8(20) !== IPPROTO.esp) return undefined
  const spi = b.readUInt32BE(16)
  const reqid = b.readUInt32LE(44)
  return {
    src: readAddress(b, 28),
    dst: readAddress(b, 0),
    proto: "esp",
    mode: "transport",
    ...(spi === 0 ? {} : { spi }),
    ...(reqid === 0 ? {} : { reqid }),
  }
}

const directionNumber = (dir: XfrmDirection): number => DIRECTIONS.indexOf(dir)

/** XFRM_MSG_NEWPOLICY's body: xfrm_userpolicy_info (action allow), one template, the mark */
export const newPolicyBody = (policy: XfrmPolicySpec): Buffer[] => {
  const info = Buffer.alloc(SIZE.userpolicyInfo)
  writeSelector(info, 0, policy.selector)
  writeNoLimits(info, 56)
  info.writeUInt32LE((policy.priority ?? 0) >>> 0, 152)
  info.writeUInt8(directionNumber(policy.dir), 160)
  return [info, attr(XFRMA.TMPL, writeTemplate(policy.template)), ...markAttr(policy.mark)]
}

/** XFRM_MSG_DELPOLICY's body: xfrm_userpolicy_id (selector, direction) and the mark */
export const policyIdBody = (selector: XfrmSelector, dir: XfrmDirection, mark: XfrmMark | undefined): Buffer[] => {
  const id = Buffer.alloc(SIZE.userpolicyId)
  writeSelector(id, 0, selector)
  id.writeUInt8(directionNumber(dir), 60)
  return [id, ...markAttr(mark)]
}

/** one XFRM_MSG_NEWPOLICY of a dump; undefined for policies without an ESP template (the kernel's socket policies, others') */
export const parsePolicy = (payload: Buffer): XfrmPolicySpec | undefined => {
  if (payload.length < SIZE.userpolicyInfo || payload.readUInt16LE(40) !== AF_INET) return undefined
  const dir = DIRECTIONS[payload.readUInt8(160)]
  const attrs = new Map(attrList(payload, SIZE.userpolicyInfo))
  const template = readTemplate(attrs.get(XFRMA.TMPL))
  if (dir === undefined || template === undefined) return undefined
  const priority = payload.readUInt32LE(152)
  const mark = readMark(attrs.get(XFRMA.MARK))
  return {
    selector: readSelector(payload, 0),
    dir,
    ...(mark === undefined ? {} : { mark }),
    ...(priority === 0 ? {} : { priority }),
    template,
  }
}

/** the bodies a dump request needs: the kernel reads no field of them, but wants the length */
export const stateDumpBody = (): Buffer[] => [Buffer.alloc(SIZE.usersaId)]
export const policyDumpBody = (): Buffer[] => [Buffer.alloc(SIZE.userpolicyId)]
