import type { Socket } from "node:dgram"
import type { NetnsAddon } from "../addon.ts"
import { socketIn } from "./adopt.ts"
import type { EchoOutcome, NamespaceRef } from "./protocol.ts"

const ICMP_ECHO_REQUEST = 8
const ICMP_ECHO_REPLY = 0

/** 8-byte ICMP header (the kernel fills in id and checksum on a ping socket) + our token */
const echoRequest = (sequence: number, token: Buffer): Buffer => {
  const header = Buffer.alloc(8)
  header.writeUInt8(ICMP_ECHO_REQUEST, 0)
  header.writeUInt16BE(sequence & 0xffff, 6)
  return Buffer.concat([header, token])
}

interface Sent {
  readonly outcome: EchoOutcome
  /** from the send to the reply, or to giving up */
  readonly ms: number
}

/** sends one echo and waits for its reply, an error, or `waitMs` */
const sendEcho = (socket: Socket, sequence: number, address: string, token: Buffer, waitMs: number): Promise<Sent> =>
  new Promise((resolve) => {
    let started = 0
    const done = (outcome: EchoOutcome): void => {
      clearTimeout(timer)
      socket.removeAllListeners("message")
      socket.removeAllListeners("error")
      resolve({ outcome, ms: performance.now() - started })
    }
    socket.on("error", (error: NodeJS.ErrnoException) => done({ kind: "error", code: error.code ?? "EIO" }))
    socket.on("message", (message) => {
      // a ping socket only hands us replies to its own id; the token rules out stale ones
      if (message[0] === ICMP_ECHO_REPLY && message.subarray(8).equals(token)) done({ kind: "reply" })
    })
    const timer = setTimeout(() => done({ kind: "timeout" }), waitMs)
    started = performance.now()
    // the port is meaningless for ICMP (the kernel ignores it), but dgram insists on one
    socket.send(echoRequest(sequence, token), 1, address, (error) => {
      if (error) done({ kind: "error", code: (error as NodeJS.ErrnoException).code ?? "EIO" })
    })
  })

/**
 * One probe from a ping socket in `from`: an echo, waiting `timeoutMs` (plus `inheritedMs` when it is
 * queued behind an earlier resolution of the next hop); such an inherited wait that ends without
 * a reply sends one echo more, which starts a fresh resolution as a first probe would.
 */
export const probeEcho = async (
  native: NetnsAddon,
  from: NamespaceRef,
  address: string,
  token: Buffer,
  timeoutMs: number,
  inheritedMs: number,
): Promise<Sent> => {
  const socket = await socketIn(native, from, "icmp")
  try {
    const first = await sendEcho(socket, 1, address, token, timeoutMs + inheritedMs)
    if (inheritedMs === 0 || first.outcome.kind === "reply") return first
    return await sendEcho(socket, 2, address, token, timeoutMs)
  } finally {
    socket.close()
  }
}
