import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  answerAddresses,
  decodeMessage,
  decodeName,
  DnsWireError,
  encodeName,
  encodeQuery,
  encodeResponse,
  RCODE,
  TYPE_A,
} from "../../backends/linux/dns-wire.ts"

const label = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/)
const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((labels) => labels.join("."))

/** Pure tier: the embedded DNS's wire format (RFC 1035 section 4). */
describe("dns-wire", () => {
  it("round-trips queries: id, name (case kept) and type", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), name, (id, n) => {
        const q = decodeMessage(encodeQuery(id, n))
        expect(q.id).toBe(id)
        expect(q.response).toBe(false)
        expect(q.recursionDesired).toBe(true)
        expect(q.questions).toEqual([{ name: n, type: TYPE_A, class: 1 }])
      }),
    )
  })

  it("answers with the query's id and question, and A records behind a compression pointer", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), name, fc.array(fc.ipV4(), { maxLength: 6 }), (id, n, addresses) => {
        const query = decodeMessage(encodeQuery(id, n))
        const wire = encodeResponse(query, RCODE.NOERROR, addresses)
        const answer = decodeMessage(wire)
        expect(answer.id).toBe(id)
        expect(answer.response).toBe(true)
        expect(answer.rcode).toBe(RCODE.NOERROR)
        expect(answer.questions).toEqual(query.questions)
        expect(answerAddresses(answer)).toEqual(addresses)
        for (const record of answer.answers) expect(record.name).toBe(n)
      }),
    )
  })

  it("carries NXDOMAIN with no answers", () => {
    const query = decodeMessage(encodeQuery(7, "nope"))
    const answer = decodeMessage(encodeResponse(query, RCODE.NXDOMAIN, ["10.0.0.1"]))
    expect(answer.rcode).toBe(3)
    expect(answer.answers).toEqual([])
  })

  it("matches a hand-assembled RFC 1035 message byte for byte", () => {
    // id 0x1234, RD, one question "db" type A class IN
    const expected = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0x64, 0x62, 0, 0, 1, 0, 1])
    expect(encodeQuery(0x1234, "db")).toEqual(expected)
  })

  it("refuses malformed input instead of guessing", () => {
    expect(() => decodeMessage(Buffer.alloc(5))).toThrow(DnsWireError)
    const loop = Buffer.concat([Buffer.alloc(12), Buffer.from([0xc0, 12])])
    loop.writeUInt16BE(1, 4)
    expect(() => decodeMessage(loop)).toThrow(/compression loop/)
    const truncated = encodeQuery(1, "example.test").subarray(0, 20)
    expect(() => decodeMessage(truncated)).toThrow(DnsWireError)
    expect(() => encodeName("a".repeat(64))).toThrow(DnsWireError)
    expect(() => encodeName("a..b")).toThrow(DnsWireError)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          decodeMessage(Buffer.from(bytes))
        } catch (error) {
          expect(error).toBeInstanceOf(DnsWireError)
        }
      }),
    )
  })

  it("follows compression pointers to earlier names", () => {
    // "b" at 12, then "a" + pointer to 12 at 15: "a.b"
    const buffer = Buffer.concat([Buffer.alloc(12), Buffer.from([1, 0x62, 0, 1, 0x61, 0xc0, 12])])
    expect(decodeName(buffer, 15)).toEqual({ name: "a.b", next: 19 })
  })
})
