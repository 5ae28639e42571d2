import { describe, expect, inject, it } from "vitest"
import { rootSnapshot } from "./root-snapshot.ts"
import { needsRoot, root } from "./support.ts"

/**
 * The root namespace as it was before the first test file (the globalSetup's snapshot) must equal
 * what it is now. The globalSetup repeats the comparison after the last file.
 */
describe.skipIf(!root)(`the machine's own network namespace is untouched (${needsRoot})`, () => {
  it("links, addresses, routes, nftables and network sysctls are as before the tests", () => {
    const before = inject("rootSnapshotBefore")
    expect(before, "vitest.config.ts must list test/linux/root-untouched.setup.ts in globalSetup").toBeTypeOf("string")
    expect(JSON.parse(rootSnapshot())).toEqual(JSON.parse(before))
  })

  it("the snapshot sees what it claims to: the loopback link and the sysctls are there", () => {
    const snapshot = JSON.parse(rootSnapshot()) as { links: Array<{ ifname: string }>; sysctls: Record<string, string> }
    expect(snapshot.links.map((l) => l.ifname)).toContain("lo")
    expect(snapshot.sysctls["net/ipv4/ip_forward"]).toMatch(/^[01]$/)
  })
})
