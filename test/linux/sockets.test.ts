import { createSocket, type Socket } from "node:dgram"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { addon } from "../../backends/linux/addon.ts"
import type { KernelShape } from "../../backends/Kernel.ts"
import { makeLinuxKernel } from "../../backends/linux/index.ts"
import { needsRoot, nsName, root, run } from "./support.ts"

const adopt = (fd: number): Promise<Socket> =>
  new Promise((resolve) => {
    const socket = createSocket("udp4")
    socket.bind({ fd }, () => resolve(socket))
  })

/**
 * Sockets made inside a namespace for probes and DNS queries have a port (a ping socket an echo
 * id) of their own from the start. libuv sets SO_REUSEADDR on a socket it adopts, and two
 * unbound sockets that both have it could be given the same port at their first send: the
 * replies then all went to one of them, and the other's query timed out (seen under load).
 */
describe.skipIf(!root)(`linux backend: each probe or query socket has a port of its own (${needsRoot})`, () => {
  let kernel: KernelShape
  const ns = nsName("sock")
  beforeAll(async () => {
    kernel = await makeLinuxKernel()
    await run(kernel.apply([{ op: "nsAdd", ns }, { op: "linkSet", ns, name: "lo", up: true }]))
    // a first probe allows ping sockets in the namespace, as every probe's namespace is
    expect((await run(kernel.probe(ns, "127.0.0.1"))).reachable).toBe(true)
  })
  afterAll(async () => {
    await run(kernel.close())
  })

  it.each(["udp", "icmp"] as const)("%s: bound when made, never sharing a port with another", async (kind) => {
    const native = addon()
    const sockets = await Promise.all(Array.from({ length: 64 }, () => adopt(native.openInetSocket(`/run/netns/${ns}`, kind, null, 0, false))))
    try {
      const ports = sockets.map((s) => s.address().port)
      expect(ports.every((port) => port > 0)).toBe(true)
      expect(new Set(ports).size).toBe(ports.length)
    } finally {
      for (const socket of sockets) socket.close()
    }
  })
})
