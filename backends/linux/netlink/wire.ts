/**
 * Netlink wire format: message headers, the fixed rtnetlink headers (ifinfomsg, ifaddrmsg, rtmsg,
 * ndmsg) and type-length-value attributes. Pure functions over bytes. Integers are host order
 * (little-endian on every machine cnmlab runs on) unless a helper says otherwise.
 */

const NLMSG_HDRLEN = 16
const NLA_HDRLEN = 4
/** attribute type bits that are flags, not part of the type */
const NLA_TYPE_MASK = 0x3fff

const align4 = (n: number): number => (n + 3) & ~3

// ---------------------------------------------------------------------------------------------
// building
// ---------------------------------------------------------------------------------------------

/** one attribute, padded to 4 bytes */
export const attr = (type: number, value: Uint8Array): Buffer => {
  const length = NLA_HDRLEN + value.length
  const out = Buffer.alloc(align4(length))
  out.writeUInt16LE(length, 0)
  out.writeUInt16LE(type, 2)
  out.set(value, NLA_HDRLEN)
  return out
}

export const attrU8 = (type: number, value: number): Buffer => attr(type, Uint8Array.of(value))

export const attrU16 = (type: number, value: number): Buffer => {
  const b = Buffer.alloc(2)
  b.writeUInt16LE(value)
  return attr(type, b)
}

/** a 16-bit value in network byte order (ports) */
export const attrBe16 = (type: number, value: number): Buffer => {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(value)
  return attr(type, b)
}

export const attrU32 = (type: number, value: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(value >>> 0)
  return attr(type, b)
}

export const attrI32 = (type: number, value: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32LE(value)
  return attr(type, b)
}

/** a NUL-terminated string, as the kernel expects for names and kinds */
export const attrString = (type: number, value: string): Buffer => attr(type, Buffer.from(`${value}\0`, "utf8"))

export const attrNested = (type: number, children: ReadonlyArray<Uint8Array>): Buffer => attr(type, Buffer.concat(children))

export const attrIpv4 = (type: number, address: string): Buffer => attr(type, ipv4Bytes(address))

export const attrMac = (type: number, mac: string): Buffer => attr(type, macBytes(mac))

export interface MessageHeader {
  readonly type: number
  readonly flags: number
  readonly seq: number
}

/** nlmsghdr + the family header + attributes; the port id is left 0 for the kernel to fill */
export const message = (header: MessageHeader, body: ReadonlyArray<Uint8Array>): Buffer => {
  const payload = Buffer.concat(body)
  const out = Buffer.alloc(NLMSG_HDRLEN + align4(payload.length))
  out.writeUInt32LE(NLMSG_HDRLEN + payload.length, 0)
  out.writeUInt16LE(header.type, 4)
  out.writeUInt16LE(header.flags, 6)
  out.writeUInt32LE(header.seq >>> 0, 8)
  out.writeUInt32LE(0, 12)
  out.set(payload, NLMSG_HDRLEN)
  return out
}

export interface IfInfo {
  readonly family?: number
  readonly type?: number
  readonly index?: number
  readonly flags?: number
  readonly change?: number
}

/** struct ifinfomsg (16 bytes) */
export const ifinfomsg = (info: IfInfo = {}): Buffer => {
  const b = Buffer.alloc(16)
  b.writeUInt8(info.family ?? 0, 0)
  b.writeUInt16LE(info.type ?? 0, 2)
  b.writeInt32LE(info.index ?? 0, 4)
  b.writeUInt32LE((info.flags ?? 0) >>> 0, 8)
  b.writeUInt32LE((info.change ?? 0) >>> 0, 12)
  return b
}

/** struct ifaddrmsg (8 bytes) */
export const ifaddrmsg = (a: { family: number; prefixLength: number; index: number; scope?: number }): Buffer => {
  const b = Buffer.alloc(8)
  b.writeUInt8(a.family, 0)
  b.writeUInt8(a.prefixLength, 1)
  b.writeUInt8(0, 2)
  b.writeUInt8(a.scope ?? 0, 3)
  b.writeUInt32LE(a.index, 4)
  return b
}

/** struct rtmsg (12 bytes) */
export const rtmsg = (r: {
  family: number
  dstLength: number
  table: number
  protocol: number
  scope: number
  type: number
}): Buffer => {
  const b = Buffer.alloc(12)
  b.writeUInt8(r.family, 0)
  b.writeUInt8(r.dstLength, 1)
  b.writeUInt8(0, 2)
  b.writeUInt8(0, 3)
  b.writeUInt8(r.table, 4)
  b.writeUInt8(r.protocol, 5)
  b.writeUInt8(r.scope, 6)
  b.writeUInt8(r.type, 7)
  b.writeUInt32LE(0, 8)
  return b
}

/** struct ndmsg (12 bytes) */
export const ndmsg = (n: { family: number; index: number; state: number; flags: number }): Buffer => {
  const b = Buffer.alloc(12)
  b.writeUInt8(n.family, 0)
  b.writeInt32LE(n.index, 4)
  b.writeUInt16LE(n.state, 8)
  b.writeUInt8(n.flags, 10)
  b.writeUInt8(0, 11)
  return b
}

/** struct rtgenmsg, padded to 4 bytes */
export const rtgenmsg = (family: number): Buffer => Buffer.from([family, 0, 0, 0])

// ---------------------------------------------------------------------------------------------
// parsing
// ---------------------------------------------------------------------------------------------

export interface NlMessage {
  readonly type: number
  readonly flags: number
  readonly seq: number
  /** everything after the 16-byte header */
  readonly payload: Buffer
}

/** splits a receive buffer into messages; a truncated tail is ignored */
export const parseMessages = (buffer: Buffer): NlMessage[] => {
  const out: NlMessage[] = []
  let offset = 0
  while (offset + NLMSG_HDRLEN <= buffer.length) {
    const length = buffer.readUInt32LE(offset)
    if (length < NLMSG_HDRLEN || offset + length > buffer.length) break
    out.push({
      type: buffer.readUInt16LE(offset + 4),
      flags: buffer.readUInt16LE(offset + 6),
      seq: buffer.readUInt32LE(offset + 8),
      payload: buffer.subarray(offset + NLMSG_HDRLEN, offset + length),
    })
    offset += align4(length)
  }
  return out
}

/** attributes of one level, by type; on a repeated type the last one wins */
export type Attrs = ReadonlyMap<number, Buffer>

export const parseAttrs = (buffer: Buffer, offset = 0): Attrs => {
  const out = new Map<number, Buffer>()
  for (const [type, value] of attrList(buffer, offset)) out.set(type, value)
  return out
}

/** attributes of one level in wire order, repeated types kept */
export const attrList = (buffer: Buffer, offset = 0): Array<readonly [number, Buffer]> => {
  const out: Array<readonly [number, Buffer]> = []
  while (offset + NLA_HDRLEN <= buffer.length) {
    const length = buffer.readUInt16LE(offset)
    if (length < NLA_HDRLEN || offset + length > buffer.length) break
    out.push([buffer.readUInt16LE(offset + 2) & NLA_TYPE_MASK, buffer.subarray(offset + NLA_HDRLEN, offset + length)])
    offset += align4(length)
  }
  return out
}

export const readU8 = (b: Buffer | undefined): number | undefined => (b && b.length >= 1 ? b.readUInt8(0) : undefined)
export const readU16 = (b: Buffer | undefined): number | undefined => (b && b.length >= 2 ? b.readUInt16LE(0) : undefined)
export const readBe16 = (b: Buffer | undefined): number | undefined => (b && b.length >= 2 ? b.readUInt16BE(0) : undefined)
export const readU32 = (b: Buffer | undefined): number | undefined => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined)
export const readI32 = (b: Buffer | undefined): number | undefined => (b && b.length >= 4 ? b.readInt32LE(0) : undefined)

export const readString = (b: Buffer | undefined): string | undefined => {
  if (!b) return undefined
  const end = b.indexOf(0)
  return b.toString("utf8", 0, end < 0 ? b.length : end)
}

export const readIpv4 = (b: Buffer | undefined): string | undefined =>
  b && b.length === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : undefined

export const readMac = (b: Buffer | undefined): string | undefined =>
  b && b.length === 6 ? [...b].map((byte) => byte.toString(16).padStart(2, "0")).join(":") : undefined

export interface IfInfoParsed {
  readonly family: number
  readonly type: number
  readonly index: number
  readonly flags: number
  readonly attrs: Attrs
}

export const parseIfinfomsg = (payload: Buffer): IfInfoParsed => ({
  family: payload.readUInt8(0),
  type: payload.readUInt16LE(2),
  index: payload.readInt32LE(4),
  flags: payload.readUInt32LE(8),
  attrs: parseAttrs(payload, 16),
})

export interface IfAddrParsed {
  readonly family: number
  readonly prefixLength: number
  readonly scope: number
  readonly index: number
  readonly attrs: Attrs
}

export const parseIfaddrmsg = (payload: Buffer): IfAddrParsed => ({
  family: payload.readUInt8(0),
  prefixLength: payload.readUInt8(1),
  scope: payload.readUInt8(3),
  index: payload.readUInt32LE(4),
  attrs: parseAttrs(payload, 8),
})

export interface RtParsed {
  readonly family: number
  readonly dstLength: number
  readonly table: number
  readonly protocol: number
  readonly scope: number
  readonly type: number
  readonly attrs: Attrs
}

export const parseRtmsg = (payload: Buffer): RtParsed => ({
  family: payload.readUInt8(0),
  dstLength: payload.readUInt8(1),
  table: payload.readUInt8(4),
  protocol: payload.readUInt8(5),
  scope: payload.readUInt8(6),
  type: payload.readUInt8(7),
  attrs: parseAttrs(payload, 12),
})

export interface NdParsed {
  readonly family: number
  readonly index: number
  readonly state: number
  readonly flags: number
  readonly attrs: Attrs
}

export const parseNdmsg = (payload: Buffer): NdParsed => ({
  family: payload.readUInt8(0),
  index: payload.readInt32LE(4),
  state: payload.readUInt16LE(8),
  flags: payload.readUInt8(10),
  attrs: parseAttrs(payload, 12),
})

// ---------------------------------------------------------------------------------------------
// addresses
// ---------------------------------------------------------------------------------------------

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

export const ipv4Bytes = (address: string): Buffer => {
  const m = IPV4.exec(address)
  const parts = m ? m.slice(1).map(Number) : []
  if (parts.length !== 4 || parts.some((p) => p > 255)) throw new WireInputError(`not an IPv4 address: ${address}`)
  return Buffer.from(parts)
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i

export const macBytes = (mac: string): Buffer => {
  if (!MAC.test(mac)) throw new WireInputError(`not a MAC address: ${mac}`)
  return Buffer.from(mac.split(":").map((h) => parseInt(h, 16)))
}

/** "10.1.0.2/24" -> address and prefix length */
export const parseCidr = (cidr: string): { readonly address: string; readonly prefixLength: number } => {
  const slash = cidr.indexOf("/")
  const address = slash < 0 ? cidr : cidr.slice(0, slash)
  const prefixLength = slash < 0 ? 32 : Number(cidr.slice(slash + 1))
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32 || slash === cidr.length - 1)
    throw new WireInputError(`not an IPv4 CIDR: ${cidr}`)
  ipv4Bytes(address)
  return { address, prefixLength }
}

/** the network address of a CIDR ("10.1.0.7/24" -> "10.1.0.0") */
export const networkOf = (address: string, prefixLength: number): string => {
  const value = ipv4Bytes(address).readUInt32BE(0)
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0
  const b = Buffer.alloc(4)
  b.writeUInt32BE((value & mask) >>> 0)
  return readIpv4(b) ?? address
}

/** a malformed address or name handed in by the caller: the kernel would answer EINVAL */
export class WireInputError extends Error {
  readonly code = "EINVAL"
}
