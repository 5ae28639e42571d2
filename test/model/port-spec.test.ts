/**
 * `-p` specs as Docker 20.10 parses them: Docker's own examples and refusals (ports-20.10.md),
 * then generated specs: what parses renders back to the same meaning, and a spec broken in one
 * place is refused with the sentence Docker gives for that place.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type PortMapping, parseListenSpec, parsePortSpec, portProtocols, renderPortMapping } from "../../model/port-spec.ts"

const mappings = (spec: string): ReadonlyArray<PortMapping> => {
  const parsed = parsePortSpec(spec)
  if (!parsed.ok) throw new Error(`${spec} refused: ${parsed.message}`)
  return parsed.mappings
}

const refusal = (spec: string): string => {
  const parsed = parsePortSpec(spec)
  return parsed.ok ? `accepted ${JSON.stringify(parsed.mappings)}` : parsed.message
}

describe("what Docker accepts", () => {
  it.each<[string, ReadonlyArray<PortMapping>]>([
    ["8080:80", [{ hostIp: "", hostPorts: { start: 8080, end: 8080 }, containerPort: 80, proto: "tcp" }]],
    ["80", [{ hostIp: "", containerPort: 80, proto: "tcp" }]],
    ["80/", [{ hostIp: "", containerPort: 80, proto: "tcp" }]],
    ["127.0.0.1:5353:53/udp", [{ hostIp: "127.0.0.1", hostPorts: { start: 5353, end: 5353 }, containerPort: 53, proto: "udp" }]],
    ["127.0.0.1::80", [{ hostIp: "127.0.0.1", containerPort: 80, proto: "tcp" }]],
    ["[::1]:8080:80", [{ hostIp: "::1", hostPorts: { start: 8080, end: 8080 }, containerPort: 80, proto: "tcp" }]],
    ["9000:9000/SCTP", [{ hostIp: "", hostPorts: { start: 9000, end: 9000 }, containerPort: 9000, proto: "sctp" }]],
    [
      "8080-8081:80-81",
      [
        { hostIp: "", hostPorts: { start: 8080, end: 8080 }, containerPort: 80, proto: "tcp" },
        { hostIp: "", hostPorts: { start: 8081, end: 8081 }, containerPort: 81, proto: "tcp" },
      ],
    ],
    // one container port and a host range: Docker picks the first free port of the range
    ["8080-8090:80", [{ hostIp: "", hostPorts: { start: 8080, end: 8090 }, containerPort: 80, proto: "tcp" }]],
    [
      "80-81/udp",
      [
        { hostIp: "", containerPort: 80, proto: "udp" },
        { hostIp: "", containerPort: 81, proto: "udp" },
      ],
    ],
    // Go's strings.Split reads the first two fields of a range only
    ["80-81-99", [{ hostIp: "", containerPort: 80, proto: "tcp" }, { hostIp: "", containerPort: 81, proto: "tcp" }]],
  ])("%s", (spec, expected) => {
    expect(mappings(spec)).toEqual(expected)
  })
})

describe("what Docker refuses, in Docker's words", () => {
  it.each([
    ["abc", "Invalid containerPort: abc."],
    ["8080:abc", "Invalid containerPort: abc."],
    ["99999:80", "Invalid hostPort: 99999."],
    ["80:99999", "Invalid containerPort: 99999."],
    ["80:80/xyz", "Invalid proto: xyz."],
    ["1.2.3:80:80", "Invalid ip address: 1.2.3."],
    ["80-81:90-92", "Invalid ranges specified for container and host Ports: 90-92 and 80-81."],
    ["8094:", "No port specified: 8094:<empty>."],
    ["/udp", "No port specified: /udp<empty>."],
    ["82-80", "Invalid containerPort: 82-80."],
    ["-80", "Invalid containerPort: -80."],
    ["+80", "Invalid containerPort: +80."],
    ["::1:80:80", "Invalid ip address ::1: address ::1:: too many colons in address."],
    // the port ranges are checked before the protocol
    ["abc/xyz", "Invalid containerPort: abc."],
  ])("%s", (spec, message) => {
    expect(refusal(spec)).toBe(message)
  })
})

const port = fc.integer({ min: 0, max: 65535 })
const hostIp = fc.oneof(
  fc.constant(""),
  fc.ipV4(),
  fc.constantFrom("::1", "fe80::1", "2001:db8::7"),
)
const range = fc.tuple(port, port).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) }))

const mapping: fc.Arbitrary<PortMapping> = fc
  .record({ hostIp, hostPorts: fc.option(range, { nil: undefined }), containerPort: port, proto: fc.constantFrom(...portProtocols) })
  .map(({ hostPorts, ...rest }) => ({ ...rest, ...(hostPorts !== undefined && { hostPorts }) }))

describe("generated specs", () => {
  it("a mapping renders to a spec that parses back to exactly that mapping", () => {
    const seen = { withIp: 0, ipv6: 0, ephemeral: 0, hostRange: 0 }
    fc.assert(
      fc.property(mapping, (wanted) => {
        if (wanted.hostIp !== "") seen.withIp++
        if (wanted.hostIp.includes(":")) seen.ipv6++
        if (wanted.hostPorts === undefined) seen.ephemeral++
        else if (wanted.hostPorts.start !== wanted.hostPorts.end) seen.hostRange++
        expect(mappings(renderPortMapping(wanted))).toEqual([wanted])
      }),
      { numRuns: 500, seed: 9 },
    )
    console.log(`port specs rendered and parsed back: ${JSON.stringify(seen)} of 500`)
    expect(Math.min(...Object.values(seen))).toBeGreaterThan(20)
  })

  it("a container range with a host range of the same width maps port to port", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60000 }), fc.integer({ min: 1, max: 60000 }), fc.integer({ min: 0, max: 5 }), (host, container, width) => {
        const parsed = mappings(`${host}-${host + width}:${container}-${container + width}/udp`)
        expect(parsed.map((entry) => [entry.hostPorts?.start, entry.hostPorts?.end, entry.containerPort])).toEqual(
          Array.from({ length: width + 1 }, (_, offset) => [host + offset, host + offset, container + offset]),
        )
      }),
      { numRuns: 200, seed: 3 },
    )
  })

  it("a spec broken in one place is refused with the sentence for that place", () => {
    const badPort = fc.oneof(fc.constantFrom("abc", "65536", "99999", "8o", "1e3", " 80"), fc.integer({ min: 65536, max: 10 ** 7 }).map(String))
    const badProto = fc.constantFrom("xyz", "icmp", "tcpp", "ud p")
    const badIp = fc.constantFrom("1.2.3", "256.1.1.1", "localhost", "10.0.0.0.1")
    type Broken = { spec: string; message: string; part: string }
    const broken: fc.Arbitrary<Broken> = fc.oneof(
      fc.tuple(badPort, port).map(([bad, good]): Broken => ({ spec: `${good}:${bad}`, message: `Invalid containerPort: ${bad}.`, part: "containerPort" })),
      fc.tuple(badPort, port).map(([bad, good]): Broken => ({ spec: `${bad}:${good}`, message: `Invalid hostPort: ${bad}.`, part: "hostPort" })),
      fc.tuple(badProto, port).map(([bad, good]): Broken => ({ spec: `${good}/${bad}`, message: `Invalid proto: ${bad}.`, part: "proto" })),
      fc.tuple(badIp, port, port).map(([bad, a, b]): Broken => ({ spec: `${bad}:${a}:${b}`, message: `Invalid ip address: ${bad}.`, part: "ip" })),
      fc
        .tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }))
        .filter(([, hostWidth, containerWidth]) => hostWidth !== containerWidth)
        .map(([start, hostWidth, containerWidth]): Broken => {
          const hostSide = `${start}-${start + hostWidth}`
          const containerSide = `${start + 2000}-${start + 2000 + containerWidth}`
          return {
            spec: `${hostSide}:${containerSide}`,
            message: `Invalid ranges specified for container and host Ports: ${containerSide} and ${hostSide}.`,
            part: "ranges",
          }
        }),
      port.map((good): Broken => ({ spec: `${good}:`, message: `No port specified: ${good}:<empty>.`, part: "empty" })),
    )
    const parts = new Map<string, number>()
    fc.assert(
      fc.property(broken, ({ spec, message, part }) => {
        parts.set(part, (parts.get(part) ?? 0) + 1)
        expect(refusal(spec)).toBe(message)
      }),
      { numRuns: 400, seed: 11 },
    )
    console.log(`bad port specs refused, by broken part: ${JSON.stringify(Object.fromEntries(parts))}`)
    expect(parts.size).toBe(6)
  })
})

describe("listen entries", () => {
  it.each([
    ["80/tcp", { port: 80, proto: "tcp" }],
    ["53/udp", { port: 53, proto: "udp" }],
    ["8080", { port: 8080, proto: "tcp" }],
  ])("%s", (spec, listen) => {
    expect(parseListenSpec(spec)).toEqual({ ok: true, listen })
  })

  it.each(["0/tcp", "80-81", "http", "80/xyz", ""])("%s is refused", (spec) => {
    expect(parseListenSpec(spec).ok).toBe(false)
  })
})
