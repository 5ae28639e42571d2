import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { CTRL_ATTR, CTRL_CMD, familyIdOf, GENL_ID_CTRL, getFamilyBody, NETLINK_GENERIC } from "../../backends/linux/netlink/genl-wire.ts"
import {
  delDestBody,
  delServiceBody,
  destDumpBody,
  IP_VS_CONN_F,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_FLAGS_SIZE,
  IPVS_CMD,
  IPVS_CMD_ATTR,
  IPVS_DEST_ATTR,
  IPVS_GENL_NAME,
  IPVS_GENL_VERSION,
  IPVS_SVC_ATTR,
  newDestBody,
  newServiceBody,
  newServiceRequests,
  NF_INET_ADDR_SIZE,
  parseDestEntry,
  parseServiceEntry,
  serviceDumpBody,
} from "../../backends/linux/netlink/ipvs-wire.ts"
import { attr, attrNested, attrString, attrU16, attrU32, message, parseMessages } from "../../backends/linux/netlink/wire.ts"

/**
 * Pure tier: IPVS over generic netlink. The numbers and sizes are held to the kernel's uapi headers
 * installed here (linux/ip_vs.h, linux/genetlink.h, linux/netfilter.h) by compiling a program
 * that prints them; the request bytes are written out by hand from the header's layout; a dump
 * is decoded from messages shaped as ip_vs_ctl.c fills them (ip_vs_genl_fill_service,
 * ip_vs_genl_fill_dest: stats nests included). No kernel here has ip_vs, so none of this has been
 * answered by one (backends/linux/README.md, "Load balancing: numgen or IPVS").
 */

const hex = (parts: ReadonlyArray<Uint8Array>): string => Buffer.concat(parts).toString("hex")

const HEADERS = ["/usr/include/linux/ip_vs.h", "/usr/include/linux/genetlink.h", "/usr/include/linux/netfilter.h"]
const compiler = ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"].find((path) => existsSync(path))
const missing = [...HEADERS.filter((h) => !existsSync(h)), ...(compiler === undefined ? ["a C compiler"] : [])]

/** C expression -> the value our code uses for it */
const expected: Record<string, number> = {
  IPVS_GENL_VERSION: IPVS_GENL_VERSION,
  "sizeof(struct ip_vs_flags)": IP_VS_FLAGS_SIZE,
  "offsetof(struct ip_vs_flags, flags)": 0,
  "offsetof(struct ip_vs_flags, mask)": 4,
  "sizeof(union nf_inet_addr)": NF_INET_ADDR_SIZE,
  "sizeof(struct genlmsghdr)": 4,
  GENL_ID_CTRL: GENL_ID_CTRL,
  NETLINK_GENERIC: NETLINK_GENERIC,
  IP_VS_CONN_F_FWD_MASK: IP_VS_CONN_F_FWD_MASK,
  ...Object.fromEntries(Object.entries(IPVS_CMD).map(([k, v]) => [`IPVS_CMD_${k}`, v])),
  ...Object.fromEntries(Object.entries(IPVS_CMD_ATTR).map(([k, v]) => [`IPVS_CMD_ATTR_${k}`, v])),
  ...Object.fromEntries(Object.entries(IPVS_SVC_ATTR).map(([k, v]) => [`IPVS_SVC_ATTR_${k}`, v])),
  ...Object.fromEntries(Object.entries(IPVS_DEST_ATTR).map(([k, v]) => [`IPVS_DEST_ATTR_${k}`, v])),
  ...Object.fromEntries(Object.entries(IP_VS_CONN_F).map(([k, v]) => [`IP_VS_CONN_F_${k}`, v])),
  ...Object.fromEntries(Object.entries(CTRL_CMD).map(([k, v]) => [`CTRL_CMD_${k}`, v])),
  ...Object.fromEntries(Object.entries(CTRL_ATTR).map(([k, v]) => [`CTRL_ATTR_${k}`, v])),
}

const scratch = mkdtempSync(join(tmpdir(), "cnm-ipvs-h-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** what the installed headers say for every expression of `expected`, and IPVS_GENL_NAME */
const fromHeaders = (): { values: Record<string, number>; name: string } => {
  const source = [
    "#include <stdio.h>",
    "#include <stddef.h>",
    "#include <linux/netlink.h>",
    "#include <linux/netfilter.h>",
    "#include <linux/ip_vs.h>",
    "#include <linux/genetlink.h>",
    "int main(void) {",
    '  printf("%s\\n", IPVS_GENL_NAME);',
    ...Object.keys(expected).map((expr) => `  printf("%ld\\n", (long)(${expr}));`),
    "  return 0;",
    "}",
  ].join("\n")
  writeFileSync(join(scratch, "h.c"), source)
  execFileSync(compiler as string, ["-o", join(scratch, "h"), join(scratch, "h.c")])
  const [name, ...lines] = execFileSync(join(scratch, "h"), { encoding: "utf8" }).trim().split("\n")
  return { name: name as string, values: Object.fromEntries(Object.keys(expected).map((expr, i) => [expr, Number(lines[i])])) }
}

describe("IPVS generic netlink wire format", () => {
  it.skipIf(missing.length > 0)(
    `every number and size is the installed uapi headers'${missing.length > 0 ? ` (skipped: no ${missing.join(", ")})` : ""}`,
    () => {
      const headers = fromHeaders()
      expect(headers.name).toBe(IPVS_GENL_NAME)
      expect(headers.values).toEqual(expected)
      console.log(`ipvs-wire: ${Object.keys(expected).length} constants and sizes compared with ${HEADERS.join(", ")}`)
    },
  )

  it("CTRL_CMD_GETFAMILY asks the controller for a family by name, and its answer gives the id", () => {
    // genlmsghdr: cmd 3 (GETFAMILY), version 2, reserved; CTRL_ATTR_FAMILY_NAME (2) "IPVS\0": length 9, padded to 12
    expect(hex(getFamilyBody("IPVS"))).toBe("03020000" + "09000200" + "4950565300" + "000000")
    // what ctrl_build_family_msg answers: NEWFAMILY with FAMILY_ID (u16), FAMILY_NAME, VERSION …
    const answer = message({ type: GENL_ID_CTRL, flags: 0, seq: 7 }, [
      Buffer.from([CTRL_CMD.NEWFAMILY, 2, 0, 0]),
      attrU16(CTRL_ATTR.FAMILY_ID, 0x25),
      attrString(CTRL_ATTR.FAMILY_NAME, "IPVS"),
      attrU32(CTRL_ATTR.VERSION, 1),
    ])
    expect(familyIdOf(parseMessages(answer))).toBe(0x25)
    // an answer of another family, or another command, gives none
    expect(familyIdOf(parseMessages(message({ type: 0x25, flags: 0, seq: 7 }, [Buffer.from([1, 1, 0, 0]), attrU16(1, 9)])))).toBeUndefined()
  })

  it("NEW_SERVICE is a fwmark service, IPv4, round robin, no flags, no persistence: byte for byte", () => {
    const bytes = hex(newServiceBody({ fwmark: 0x100 }))
    expect(bytes).toBe(
      [
        "01010000", // genlmsghdr: IPVS_CMD_NEW_SERVICE (1), IPVS_GENL_VERSION (1)
        "38000100", // IPVS_CMD_ATTR_SERVICE (1), nest of 56 bytes
        "0600010002000000", // IPVS_SVC_ATTR_AF (1): u16 AF_INET, padded
        "0800050000010000", // IPVS_SVC_ATTR_FWMARK (5): u32 256
        "0700060072720000", // IPVS_SVC_ATTR_SCHED_NAME (6): "rr\0", padded
        "0c00070000000000ffffffff", // IPVS_SVC_ATTR_FLAGS (7): struct ip_vs_flags { flags 0, mask ~0 }
        "0800080000000000", // IPVS_SVC_ATTR_TIMEOUT (8): u32 0
        "08000900ffffffff", // IPVS_SVC_ATTR_NETMASK (9): be32 255.255.255.255
      ].join(""),
    )
  })

  it("NEW_DEST names its service by AF and fwmark and the destination by a 16-byte address and a big-endian port", () => {
    const bytes = hex(newDestBody(0x101, { address: "10.31.0.2", port: 80 }))
    expect(bytes).toBe(
      [
        "05010000", // IPVS_CMD_NEW_DEST (5)
        "14000100", // IPVS_CMD_ATTR_SERVICE, 20 bytes: only what identifies it
        "0600010002000000",
        "0800050001010000",
        "48000200", // IPVS_CMD_ATTR_DEST (2), nest of 72 bytes
        "14000100" + "0a1f0002" + "000000000000000000000000", // IPVS_DEST_ATTR_ADDR (1): union nf_inet_addr
        "0600020000500000", // IPVS_DEST_ATTR_PORT (2): be16 80, padded
        "0800030000000000", // IPVS_DEST_ATTR_FWD_METHOD (3): IP_VS_CONN_F_MASQ
        "0800040001000000", // IPVS_DEST_ATTR_WEIGHT (4): 1
        "0800050000000000", // IPVS_DEST_ATTR_U_THRESH (5)
        "0800060000000000", // IPVS_DEST_ATTR_L_THRESH (6)
        "06000b0002000000", // IPVS_DEST_ATTR_ADDR_FAMILY (11): u16 AF_INET
      ].join(""),
    )
    // DEL_DEST: the same identification, nothing more
    expect(hex(delDestBody(0x101, { address: "10.31.0.2", port: 0 }))).toBe(
      "07010000" + "14000100" + "0600010002000000" + "0800050001010000" + "20000200" + "14000100" + "0a1f0002" + "0".repeat(24) + "0600020000000000",
    )
    expect(hex(delServiceBody(0x101))).toBe("03010000" + "14000100" + "0600010002000000" + "0800050001010000")
    expect(hex(serviceDumpBody())).toBe("04010000")
    expect(hex(destDumpBody(0x101))).toBe("08010000" + "14000100" + "0600010002000000" + "0800050001010000")
  })

  it("a dump is decoded as ip_vs_ctl.c fills it, stats nests and attributes we do not use skipped", () => {
    const family = 0x25
    const stats = (type: number) => attrNested(type, [attrU32(1, 3), attrU32(2, 30), attrU32(3, 29)])
    // ip_vs_genl_fill_service for a fwmark service, then one keyed by protocol, address and port
    const services = Buffer.concat([
      message({ type: family, flags: 2, seq: 9 }, [
        Buffer.from([IPVS_CMD.NEW_SERVICE, 1, 0, 0]),
        attrNested(IPVS_CMD_ATTR.SERVICE, [
          attrU16(IPVS_SVC_ATTR.AF, 2),
          attrU32(IPVS_SVC_ATTR.FWMARK, 257),
          attrString(IPVS_SVC_ATTR.SCHED_NAME, "rr"),
          attr(IPVS_SVC_ATTR.FLAGS, Buffer.from("02000000ffffffff", "hex")),
          attrU32(IPVS_SVC_ATTR.TIMEOUT, 0),
          attr(IPVS_SVC_ATTR.NETMASK, Buffer.from("ffffffff", "hex")),
          stats(IPVS_SVC_ATTR.STATS),
          stats(IPVS_SVC_ATTR.STATS64),
        ]),
      ]),
      message({ type: family, flags: 2, seq: 9 }, [
        Buffer.from([IPVS_CMD.NEW_SERVICE, 1, 0, 0]),
        attrNested(IPVS_CMD_ATTR.SERVICE, [
          attrU16(IPVS_SVC_ATTR.AF, 2),
          attrU16(IPVS_SVC_ATTR.PROTOCOL, 6),
          attr(IPVS_SVC_ATTR.ADDR, Buffer.from("0a000001" + "0".repeat(24), "hex")),
          attr(IPVS_SVC_ATTR.PORT, Buffer.from("0050", "hex")),
          attrString(IPVS_SVC_ATTR.SCHED_NAME, "wlc"),
          attr(IPVS_SVC_ATTR.FLAGS, Buffer.from("0000000000000000", "hex")),
          attrU32(IPVS_SVC_ATTR.TIMEOUT, 300),
        ]),
      ]),
    ])
    expect(parseMessages(services).map((m) => parseServiceEntry(m.payload))).toEqual([
      { af: 2, fwmark: 257, scheduler: "rr", flags: 2, timeout: 0 },
      { af: 2, fwmark: 0, scheduler: "wlc", flags: 0, timeout: 300 },
    ])
    // ip_vs_genl_fill_dest: address, port, method, weight, thresholds, connection counts, stats, family, tunnel
    const dest = (address: string, port: string, method: number, weight: number) =>
      message({ type: family, flags: 2, seq: 10 }, [
        Buffer.from([IPVS_CMD.NEW_DEST, 1, 0, 0]),
        attrNested(IPVS_CMD_ATTR.DEST, [
          attr(IPVS_DEST_ATTR.ADDR, Buffer.from(address + "0".repeat(24), "hex")),
          attr(IPVS_DEST_ATTR.PORT, Buffer.from(port, "hex")),
          attrU32(IPVS_DEST_ATTR.FWD_METHOD, method),
          attrU32(IPVS_DEST_ATTR.WEIGHT, weight),
          attrU16(IPVS_DEST_ATTR.TUN_TYPE, 0),
          attr(IPVS_DEST_ATTR.TUN_PORT, Buffer.from("0000", "hex")),
          attrU16(IPVS_DEST_ATTR.TUN_FLAGS, 0),
          attrU32(IPVS_DEST_ATTR.U_THRESH, 0),
          attrU32(IPVS_DEST_ATTR.L_THRESH, 0),
          attrU32(IPVS_DEST_ATTR.ACTIVE_CONNS, 1),
          attrU32(IPVS_DEST_ATTR.INACT_CONNS, 2),
          attrU32(IPVS_DEST_ATTR.PERSIST_CONNS, 0),
          attrU16(IPVS_DEST_ATTR.ADDR_FAMILY, 2),
          stats(IPVS_DEST_ATTR.STATS),
          stats(IPVS_DEST_ATTR.STATS64),
        ]),
      ])
    const dests = Buffer.concat([dest("0a1f0002", "0050", 0, 1), dest("0a200002", "0000", 3, 0)])
    expect(parseMessages(dests).map((m) => parseDestEntry(m.payload))).toEqual([
      { address: "10.31.0.2", port: 80, forward: "nat", weight: 1 },
      { address: "10.32.0.2", port: 0, forward: "route", weight: 0 },
    ])
    // what is not a service or destination answer is not read as one
    expect(parseServiceEntry(Buffer.from([IPVS_CMD.NEW_DEST, 1, 0, 0]))).toBeUndefined()
    expect(parseDestEntry(Buffer.from([IPVS_CMD.NEW_SERVICE, 1, 0, 0]))).toBeUndefined()
  })

  it("what NEW_SERVICE and NEW_DEST send reads back through the dump decoder (the kernel answers in the same commands and nests)", () => {
    let checked = 0
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffffffff }), fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (fwmark, address, port) => {
        expect(parseServiceEntry(Buffer.concat(newServiceBody({ fwmark })))).toEqual({ af: 2, fwmark, scheduler: "rr", flags: 0, timeout: 0 })
        expect(parseDestEntry(Buffer.concat(newDestBody(fwmark, { address, port })))).toEqual({ address, port, forward: "nat", weight: 1 })
        checked++
      }),
      { numRuns: 200 },
    )
    console.log(`ipvs-wire: ${checked} services and destinations encoded and decoded`)
  })

  it("a service's requests give its first destination the first turn, by the kernel's list and round robin as ip_vs_ctl.c and ip_vs_rr.c have them", () => {
    let checked = 0
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffffffff }), fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: 6 }), (fwmark, addresses) => {
        const destinations = addresses.map((address) => ({ address, port: 80 }))
        const [create, ...adds] = newServiceRequests({ fwmark, destinations })
        expect(parseServiceEntry(Buffer.concat(create ?? []))?.fwmark).toBe(fwmark)
        // the kernel's service list: each NEW_DEST at the head (list_add_rcu); rr walks it from the head, in list order
        const list: Array<string | undefined> = []
        for (const body of adds) list.unshift(parseDestEntry(Buffer.concat(body))?.address)
        const turns = Array.from({ length: 2 * list.length }, (_, i) => list[i % list.length])
        expect(turns).toEqual([...addresses, ...addresses])
        checked++
      }),
      { numRuns: 100 },
    )
    console.log(`ipvs-wire: ${checked} services' destination order checked against the kernel's head insertion and rr`)
  })
})
