import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { addon } from "../../backends/linux/addon.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { failure, ipJson, needsRoot, nsName, root, run } from "./support.ts"

/**
 * A wait that gives up says so. Here a socket held open inside a deleted namespace keeps the
 * kernel from destroying it, so its veth peer never goes: apply fails with TimedOut instead of
 * returning as if nsDel's effects were visible (with a short bound, to keep the test short).
 */
describe.skipIf(!root)(`linux backend: a teardown that does not finish in time fails apply (${needsRoot})`, () => {
  let kernel: KernelShape
  const a = nsName("td-a")
  const b = nsName("td-b")
  beforeAll(async () => {
    kernel = await makeLinuxKernel({ teardownMaxMs: 300 })
    await run(
      kernel.apply([
        { op: "nsAdd", ns: a },
        { op: "nsAdd", ns: b },
        { op: "linkAdd", ns: a, link: { kind: "veth", name: "x0", peer: { name: "x1", ns: b } } },
      ]),
    )
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  it("names the namespace and the peer still there, and the peer goes once nothing pins the namespace", async () => {
    const native = addon()
    const pin = native.openInetSocket(`/run/netns/${b}`, "udp", null, 0, false)
    const error = await failure(kernel.apply([{ op: "nsDel", ns: b }]))
    try {
      expect(error.reason).toBe("TimedOut")
      expect(error.errno).toBe("ETIMEDOUT")
      expect(error.op).toEqual({ op: "nsDel", ns: b })
      expect(error.detail).toContain(b)
      expect(error.detail).toContain(a)
      // the name is gone, as nsDel asked; the namespace itself lives on while the socket does
      expect(await run(kernel.namespaces())).not.toContain(b)
      expect(ipJson<Array<{ ifname: string }>>(a, "link", "show").map((l) => l.ifname)).toContain("x0")
    } finally {
      native.closeFd(pin)
    }
    const deadline = performance.now() + 10_000
    while (ipJson<Array<{ ifname: string }>>(a, "link", "show").some((l) => l.ifname === "x0") && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(ipJson<Array<{ ifname: string }>>(a, "link", "show").map((l) => l.ifname)).not.toContain("x0")
  })
})
