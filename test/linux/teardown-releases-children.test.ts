import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { KernelShape } from "../../backends/Kernel.ts"
import { addon } from "../../backends/linux/addon.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { ipJson, needsRoot, nsName, root, run } from "./support.ts"

/**
 * nsDel frees a macvlan parent when apply returns, however late the kernel destroys the deleted
 * namespace. A socket held open inside the sandbox pins it here, as a busy kernel worker would
 * delay it: the passthru child must still be gone from its parent, the parent back out of
 * promiscuous mode and free for a new passthru child. Found by the multi-host differential:
 * right after removeContainer, another host's echo to this host was taken by a child of a
 * namespace the kernel had not destroyed yet.
 */
describe.skipIf(!root)(`linux backend: deleting a sandbox releases its macvlan child at once (${needsRoot})`, () => {
  let kernel: KernelShape
  const host = nsName("rc-host")
  const wire = nsName("rc-wire")
  const sandbox = nsName("rc-sb")
  const next = nsName("rc-next")
  const child = (ns: string) =>
    ({ op: "linkAdd", ns: host, link: { kind: "macvlan", name: "mv0", parent: "eth0", mode: "passthru", targetNs: ns } }) as const
  beforeAll(async () => {
    kernel = await makeLinuxKernel()
    await run(
      kernel.apply([
        { op: "nsAdd", ns: host },
        { op: "nsAdd", ns: wire },
        { op: "nsAdd", ns: sandbox },
        { op: "nsAdd", ns: next },
        { op: "linkAdd", ns: host, link: { kind: "veth", name: "eth0", peer: { name: "w0", ns: wire } } },
        { op: "linkSet", ns: host, name: "eth0", up: true },
        child(sandbox),
        { op: "linkSet", ns: sandbox, name: "mv0", up: true },
      ]),
    )
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  const promiscuity = (): number => ipJson<Array<{ promiscuity: number }>>(host, "-d", "link", "show", "eth0")[0]?.promiscuity ?? -1

  it("takes the passthru child off eth0 before the pinned namespace is destroyed", async () => {
    expect(promiscuity(), "a passthru child, up, makes its parent promiscuous").toBe(1)
    const native = addon()
    const pin = native.openInetSocket(`/run/netns/${sandbox}`, "udp", null, 0, false)
    try {
      await run(kernel.apply([{ op: "nsDel", ns: sandbox }]))
      expect(promiscuity(), "eth0 is released while the sandbox namespace still lives").toBe(0)
      // a parent takes one passthru child only: this fails with EBUSY while the old one lives
      await run(kernel.apply([child(next)]))
      expect(ipJson<Array<{ ifname: string }>>(next, "link", "show").map((l) => l.ifname)).toContain("mv0")
    } finally {
      native.closeFd(pin)
    }
  })
})
