import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  attr,
  attrBe16,
  attrList,
  attrNested,
  attrString,
  attrU32,
  ifinfomsg,
  message,
  networkOf,
  parseAttrs,
  parseCidr,
  parseIfinfomsg,
  parseMessages,
  readBe16,
  readIpv4,
  readMac,
  readString,
  readU32,
  ipv4Bytes,
  macBytes,
} from "../../backends/linux/netlink/wire.ts"

/** Pure tier: the netlink wire codec, no kernel needed. */
describe("netlink wire codec", () => {
  it("pads every attribute to 4 bytes and keeps the real length in the header", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x3fff }), fc.uint8Array({ maxLength: 64 }), (type, value) => {
        const a = attr(type, value)
        expect(a.length % 4).toBe(0)
        expect(a.readUInt16LE(0)).toBe(4 + value.length)
        const [[readType, readValue]] = attrList(a) as [[number, Buffer]]
        expect(readType).toBe(type)
        expect([...readValue]).toEqual([...value])
      }),
    )
  })

  it("reads back a sequence of attributes in order, nested ones included", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 200 }), fc.uint8Array({ maxLength: 20 })), { maxLength: 12 }),
        (pairs) => {
          const inner = Buffer.concat(pairs.map(([t, v]) => attr(t, v)))
          const outer = attrNested(18, pairs.map(([t, v]) => attr(t, v)))
          expect(attrList(inner).map(([t, v]) => [t, [...v]])).toEqual(pairs.map(([t, v]) => [t, [...v]]))
          const nested = parseAttrs(outer).get(18) as Buffer
          expect(attrList(nested).length).toBe(pairs.length)
        },
      ),
    )
  })

  it("strips the NLA_F_NESTED and byte-order flag bits from attribute types", () => {
    const flagged = attr(0x8000 | 0x4000 | 7, Buffer.from([1, 2]))
    expect(attrList(flagged)[0]?.[0]).toBe(7)
  })

  it("encodes strings NUL-terminated and ports big-endian (a little-endian VXLAN port is silently wrong)", () => {
    const name = attrString(3, "eth0")
    expect(name.subarray(4, 9).toString("latin1")).toBe("eth0\0")
    expect(readString(parseAttrs(name).get(3))).toBe("eth0")
    const port = attrBe16(15, 4789)
    expect([...port.subarray(4, 6)]).toEqual([0x12, 0xb5])
    expect(readBe16(parseAttrs(port).get(15))).toBe(4789)
  })

  it("frames messages so parseMessages splits a concatenation back", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.integer({ min: 16, max: 100 }), seq: fc.nat(), index: fc.integer({ min: 0, max: 1e6 }), name: fc.stringMatching(/^[a-z0-9]{1,15}$/) }), {
          minLength: 1,
          maxLength: 8,
        }),
        (messages) => {
          const wire = Buffer.concat(
            messages.map((m) => message({ type: m.type, flags: 5, seq: m.seq }, [ifinfomsg({ index: m.index }), attrString(3, m.name)])),
          )
          const parsed = parseMessages(wire)
          expect(parsed.map((p) => [p.type, p.seq, p.flags])).toEqual(messages.map((m) => [m.type, m.seq, 5]))
          parsed.forEach((p, i) => {
            const info = parseIfinfomsg(p.payload)
            expect(info.index).toBe(messages[i]?.index)
            expect(readString(info.attrs.get(3))).toBe(messages[i]?.name)
          })
        },
      ),
    )
  })

  it("ignores a truncated tail instead of reading past the buffer", () => {
    const whole = message({ type: 16, flags: 0, seq: 1 }, [ifinfomsg(), attrU32(4, 1500)])
    expect(parseMessages(whole.subarray(0, whole.length - 3))).toEqual([])
    expect(attrList(attrU32(4, 1500).subarray(0, 6))).toEqual([])
    expect(readU32(Buffer.alloc(2))).toBeUndefined()
  })

  it("parses addresses and CIDRs, and refuses malformed ones with EINVAL", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, len) => {
        expect(readIpv4(ipv4Bytes(ip))).toBe(ip)
        expect(parseCidr(`${ip}/${len}`)).toEqual({ address: ip, prefixLength: len })
        const network = networkOf(ip, len)
        // the network address is the address with the host bits cleared, and is its own network
        expect(networkOf(network, len)).toBe(network)
      }),
    )
    expect(networkOf("10.1.2.3", 24)).toBe("10.1.2.0")
    expect(networkOf("10.1.2.3", 0)).toBe("0.0.0.0")
    for (const bad of ["10.0.0.256/24", "10.0.0.1/33", "10.0.0/24", "x", "10.0.0.1/"]) {
      expect(() => parseCidr(bad)).toThrow(expect.objectContaining({ code: "EINVAL" }))
    }
    expect(readMac(macBytes("02:42:AC:11:00:02"))).toBe("02:42:ac:11:00:02")
    expect(() => macBytes("02:42:ac:11:00")).toThrow(expect.objectContaining({ code: "EINVAL" }))
  })
})
