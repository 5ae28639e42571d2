import { describe, expect, it } from "vitest"
import { doctor } from "../../backends/linux/index.ts"
import { needsRoot, root } from "./support.ts"

/**
 * What the linux backend cannot work without must pass `cnmlab doctor` on a machine where the
 * backend's own tests run (here and in CI); the optional link kinds are only reported.
 */
describe.skipIf(!root)(`linux backend: doctor (${needsRoot})`, () => {
  it("passes every check the backend needs: privileges, addon, nft, veth, bridge, nftables, ICMP sockets", async () => {
    const { checks } = await doctor()
    const needed = ["privileges", "addon", "nft", "kernel: veth", "kernel: bridge", "kernel: nftables", "icmp sockets"]
    const failing = checks.filter((check) => needed.includes(check.name) && !check.ok)
    expect(failing).toEqual([])
    expect(checks.map((check) => check.name)).toEqual(expect.arrayContaining(needed))
  })
})
