import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  blockSize,
  cidrContains,
  cidrContainsCidr,
  cidrsOverlap,
  formatCidr,
  formatIPv4,
  lastAddress,
  nthAddress,
  parseCidr,
  parseCidrWithAddress,
  parseIPv4,
  splitCidr,
  stripPrefix,
} from "../../model/cidr.ts"

const anyAddress = fc.integer({ min: 0, max: 0xffffffff })
const anyCidr = fc
  .record({ address: anyAddress, prefix: fc.integer({ min: 0, max: 32 }) })
  .map(({ address, prefix }) => parseCidr(`${formatIPv4(address)}/${prefix}`)!)

describe("IPv4 addresses", () => {
  it("parses dotted quads into unsigned numbers", () => {
    expect(parseIPv4("0.0.0.0")).toBe(0)
    expect(parseIPv4("10.1.2.3")).toBe(10 * 2 ** 24 + 1 * 2 ** 16 + 2 * 2 ** 8 + 3)
    expect(parseIPv4("255.255.255.255")).toBe(0xffffffff)
  })

  it.each(["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", " 1.2.3.4", "1.2.3.4/24", "a.b.c.d", "1..2.3"])(
    "refuses %j",
    (text) => expect(parseIPv4(text)).toBeUndefined(),
  )

  it("formats what it parses, for every address", () => {
    fc.assert(fc.property(anyAddress, (address) => parseIPv4(formatIPv4(address)) === address))
  })
})

describe("CIDR blocks", () => {
  it("normalizes host bits to the network address and keeps the written address apart", () => {
    expect(parseCidrWithAddress("10.1.0.5/24")).toEqual({
      base: parseIPv4("10.1.0.0"),
      prefix: 24,
      address: parseIPv4("10.1.0.5"),
    })
    expect(formatCidr(parseCidr("172.18.200.7/16")!)).toBe("172.18.0.0/16")
    expect(formatCidr(parseCidr("1.2.3.4/0")!)).toBe("0.0.0.0/0")
    expect(formatCidr(parseCidr("1.2.3.4/32")!)).toBe("1.2.3.4/32")
  })

  it.each(["10.0.0.0", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/024", "10.0.0.0/", "/24", "10.0.0/24", "10.0.0.0/24/1"])(
    "refuses %j",
    (text) => expect(parseCidr(text)).toBeUndefined(),
  )

  it("knows sizes, last addresses and the n-th address", () => {
    const block = parseCidr("192.168.16.0/20")!
    expect(blockSize(20)).toBe(4096)
    expect(blockSize(0)).toBe(2 ** 32)
    expect(formatIPv4(lastAddress(block))).toBe("192.168.31.255")
    expect(formatIPv4(nthAddress(block, 1)!)).toBe("192.168.16.1")
    expect(nthAddress(block, 4096)).toBeUndefined()
    expect(formatIPv4(lastAddress(parseCidr("0.0.0.0/0")!))).toBe("255.255.255.255")
  })

  it("splits a block into consecutive sub-blocks", () => {
    expect(splitCidr(parseCidr("192.168.0.0/16")!, 20).map(formatCidr)).toEqual(
      Array.from({ length: 16 }, (_, index) => `192.168.${index * 16}.0/20`),
    )
  })

  it("decides containment and overlap like interval arithmetic does", () => {
    fc.assert(
      fc.property(anyCidr, anyCidr, anyAddress, (a, b, address) => {
        const [aFirst, aLast, bFirst, bLast] = [a.base, lastAddress(a), b.base, lastAddress(b)]
        expect(cidrContains(a, address)).toBe(address >= aFirst && address <= aLast)
        expect(cidrsOverlap(a, b)).toBe(aFirst <= bLast && bFirst <= aLast)
        expect(cidrsOverlap(a, b)).toBe(cidrsOverlap(b, a))
        expect(cidrContainsCidr(a, b)).toBe(aFirst <= bFirst && bLast <= aLast)
      }),
    )
  })

  it("strips a prefix from an endpoint address", () => {
    expect(stripPrefix("172.18.0.2/16")).toBe("172.18.0.2")
    expect(stripPrefix("172.18.0.2")).toBe("172.18.0.2")
  })
})
