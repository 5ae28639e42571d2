import { describe, expect, it } from "vitest"
import type { ProbeHop } from "../../backends/kernel-types.ts"
import { floodedUnicasts } from "./sim-trace.ts"

const hop = (event: string, dev = "x"): ProbeHop => ({ ns: "h", dev, event })

/** a probe's trace: the sender resolves (or recalls) the next hop, the frame crosses `crossings`, arrives */
const leg = (crossings: ReadonlyArray<string>): ProbeHop[] => [
  hop("send 10.0.0.2 -> 10.0.0.3 via 10.0.0.3"),
  hop("bridge v1 -> v2", "br0"),
  hop("bridge v1 -> v3", "br0"),
  hop("arp 10.0.0.3 is-at 02:42:0a:00:00:03"),
  ...crossings.map((c) => hop(c, "br0")),
  hop("receive 10.0.0.2 -> 10.0.0.3"),
]

describe("floodedUnicasts", () => {
  it("lets an ARP question flood and a frame for a known MAC cross once", () => {
    expect(floodedUnicasts([...leg(["bridge v1 -> v3"]), hop("deliver 10.0.0.3"), ...leg(["bridge v3 -> v1"])])).toEqual([])
  })

  it("names a frame for a known MAC that a bridge sent out of several ports", () => {
    expect(floodedUnicasts(leg(["bridge v1 -> v2", "bridge v1 -> v3"]))).toEqual([
      "receive 10.0.0.2 -> 10.0.0.3: crossed br0 (bridge v1 -> v2), br0 (bridge v1 -> v3)",
    ])
  })

  it("counts nothing before the MAC is known, nor frames that never arrive", () => {
    expect(floodedUnicasts([hop("bridge v1 -> v2"), hop("bridge v1 -> v3"), hop("receive 10.0.0.2 -> 10.0.0.3")])).toEqual([])
    expect(floodedUnicasts([hop("arp 10.0.0.3 is-at 02:42:0a:00:00:03 (cached)"), hop("bridge v1 -> v2"), hop("bridge v1 -> v3")])).toEqual([])
  })
})
