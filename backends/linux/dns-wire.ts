/**
 * DNS messages on the wire (RFC 1035 section 4): just what an embedded resolver needs, a header,
 * questions and A records. Pure functions; decoding refuses malformed input with DnsWireError
 * rather than guessing.
 */

export const TYPE_A = 1
export const CLASS_IN = 1

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const

export class DnsWireError extends Error {}

export interface DnsQuestion {
  readonly name: string
  readonly type: number
  readonly class: number
}

export interface DnsRecord {
  readonly name: string
  readonly type: number
  readonly class: number
  readonly ttl: number
  readonly data: Buffer
}

export interface DnsMessage {
  readonly id: number
  readonly response: boolean
  readonly opcode: number
  readonly recursionDesired: boolean
  readonly rcode: number
  readonly questions: ReadonlyArray<DnsQuestion>
  readonly answers: ReadonlyArray<DnsRecord>
}

const MAX_NAME = 255
const MAX_LABEL = 63
/** a compression pointer chain longer than this is a loop */
const MAX_POINTERS = 64

// ---------------------------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------------------------

/** "db.example" -> length-prefixed labels ending with the root label (no compression) */
export const encodeName = (name: string): Buffer => {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name
  const labels = trimmed === "" ? [] : trimmed.split(".")
  const parts: Buffer[] = []
  for (const label of labels) {
    const bytes = Buffer.from(label, "utf8")
    if (bytes.length === 0 || bytes.length > MAX_LABEL) throw new DnsWireError(`bad label in ${JSON.stringify(name)}`)
    parts.push(Buffer.from([bytes.length]), bytes)
  }
  parts.push(Buffer.from([0]))
  const out = Buffer.concat(parts)
  if (out.length > MAX_NAME) throw new DnsWireError(`name too long: ${name}`)
  return out
}

const header = (m: {
  id: number
  response: boolean
  opcode: number
  authoritative: boolean
  recursionDesired: boolean
  recursionAvailable: boolean
  rcode: number
  qd: number
  an: number
}): Buffer => {
  const b = Buffer.alloc(12)
  b.writeUInt16BE(m.id & 0xffff, 0)
  const flags =
    (m.response ? 0x8000 : 0) |
    ((m.opcode & 0xf) << 11) |
    (m.authoritative ? 0x0400 : 0) |
    (m.recursionDesired ? 0x0100 : 0) |
    (m.recursionAvailable ? 0x0080 : 0) |
    (m.rcode & 0xf)
  b.writeUInt16BE(flags, 2)
  b.writeUInt16BE(m.qd, 4)
  b.writeUInt16BE(m.an, 6)
  return b
}

const question = (q: DnsQuestion): Buffer => {
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(q.type, 0)
  tail.writeUInt16BE(q.class, 2)
  return Buffer.concat([encodeName(q.name), tail])
}

/** a standard query with one question, recursion desired (what a stub resolver sends) */
export const encodeQuery = (id: number, name: string, type = TYPE_A): Buffer =>
  Buffer.concat([
    header({ id, response: false, opcode: 0, authoritative: false, recursionDesired: true, recursionAvailable: false, rcode: 0, qd: 1, an: 0 }),
    question({ name, type, class: CLASS_IN }),
  ])

const ipv4 = (address: string): Buffer => {
  const parts = address.split(".").map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new DnsWireError(`not an IPv4 address: ${address}`)
  return Buffer.from(parts)
}

/** the reply to `query`: its id and question echoed, A records for `addresses` under the asked name */
export const encodeResponse = (
  query: DnsMessage,
  rcode: number,
  addresses: ReadonlyArray<string>,
  ttl = 600,
): Buffer => {
  const q = query.questions[0]
  const answers =
    q && rcode === RCODE.NOERROR
      ? addresses.map((address) => {
          const fixed = Buffer.alloc(10)
          fixed.writeUInt16BE(TYPE_A, 0)
          fixed.writeUInt16BE(CLASS_IN, 2)
          fixed.writeUInt32BE(ttl >>> 0, 4)
          fixed.writeUInt16BE(4, 8)
          // 0xc00c: a pointer to the question's name, which always starts at offset 12
          return Buffer.concat([Buffer.from([0xc0, 0x0c]), fixed, ipv4(address)])
        })
      : []
  return Buffer.concat([
    header({
      id: query.id,
      response: true,
      opcode: query.opcode,
      authoritative: true,
      recursionDesired: query.recursionDesired,
      recursionAvailable: true,
      rcode,
      qd: q ? 1 : 0,
      an: answers.length,
    }),
    ...(q ? [question(q)] : []),
    ...answers,
  ])
}

// ---------------------------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------------------------

const need = (buffer: Buffer, offset: number, length: number): void => {
  if (offset + length > buffer.length) throw new DnsWireError("message truncated")
}

/** reads a possibly compressed name; returns it and the offset just after it in the record */
export const decodeName = (buffer: Buffer, start: number): { readonly name: string; readonly next: number } => {
  const labels: string[] = []
  let offset = start
  let next: number | undefined
  let jumps = 0
  let length = 0
  for (;;) {
    need(buffer, offset, 1)
    const size = buffer[offset] as number
    if ((size & 0xc0) === 0xc0) {
      need(buffer, offset, 2)
      if (++jumps > MAX_POINTERS) throw new DnsWireError("compression loop")
      next ??= offset + 2
      offset = buffer.readUInt16BE(offset) & 0x3fff
      continue
    }
    if ((size & 0xc0) !== 0) throw new DnsWireError("unknown label type")
    if (size === 0) {
      next ??= offset + 1
      break
    }
    need(buffer, offset + 1, size)
    length += size + 1
    if (length > MAX_NAME) throw new DnsWireError("name too long")
    labels.push(buffer.toString("utf8", offset + 1, offset + 1 + size))
    offset += 1 + size
  }
  return { name: labels.join("."), next }
}

export const decodeMessage = (buffer: Buffer): DnsMessage => {
  need(buffer, 0, 12)
  const flags = buffer.readUInt16BE(2)
  const qd = buffer.readUInt16BE(4)
  const an = buffer.readUInt16BE(6)
  let offset = 12
  const questions: DnsQuestion[] = []
  for (let i = 0; i < qd; i++) {
    const { name, next } = decodeName(buffer, offset)
    need(buffer, next, 4)
    questions.push({ name, type: buffer.readUInt16BE(next), class: buffer.readUInt16BE(next + 2) })
    offset = next + 4
  }
  const answers: DnsRecord[] = []
  for (let i = 0; i < an; i++) {
    const { name, next } = decodeName(buffer, offset)
    need(buffer, next, 10)
    const length = buffer.readUInt16BE(next + 8)
    need(buffer, next + 10, length)
    answers.push({
      name,
      type: buffer.readUInt16BE(next),
      class: buffer.readUInt16BE(next + 2),
      ttl: buffer.readUInt32BE(next + 4),
      data: buffer.subarray(next + 10, next + 10 + length),
    })
    offset = next + 10 + length
  }
  return {
    id: buffer.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    recursionDesired: (flags & 0x0100) !== 0,
    rcode: flags & 0xf,
    questions,
    answers,
  }
}

/** the IPv4 addresses of the A records among the answers */
export const answerAddresses = (message: DnsMessage): string[] =>
  message.answers
    .filter((r) => r.type === TYPE_A && r.class === CLASS_IN && r.data.length === 4)
    .map((r) => [...r.data].join("."))
