import type { Socket as DatagramSocket } from "node:dgram"
import { createServer, type Server, Socket } from "node:net"
import type { ConnectOutcome, Proto } from "../../kernel-types.ts"
import type { NetnsAddon } from "../addon.ts"
import { socketIn } from "./adopt.ts"
import type { NamespaceRef } from "./protocol.ts"

/**
 * The helper's sockets inside sandboxes: servers that answer every TCP connection and UDP
 * datagram with one JSON line (who answers, the source address it saw), docker-proxies, and the
 * client side of a connection. Every socket is made by the addon inside its namespace and then
 * adopted by Node (net for TCP, dgram for UDP); routing, the firewall and NAT are the kernel's.
 */

export interface Answer {
  readonly answer: string
  readonly seenFrom: string
}

const answerLine = (answer: string, seenFrom: string): string => `${JSON.stringify({ answer, seenFrom } satisfies Answer)}\n`

/** the line a server sent, or undefined when it is not one of ours */
const parseAnswer = (text: string): Answer | undefined => {
  try {
    const parsed = JSON.parse(text.trim()) as Partial<Answer>
    return typeof parsed.answer === "string" && typeof parsed.seenFrom === "string" ? { answer: parsed.answer, seenFrom: parsed.seenFrom } : undefined
  } catch {
    return undefined
  }
}

/** what a UDP client sends: anything will do, the server answers every datagram */
const QUESTION = Buffer.from("cnmlab\n")

export interface ConnectReply {
  readonly outcome: ConnectOutcome
  readonly answeredBy?: string
  readonly seenFrom?: string
  readonly detail?: string
}

/** errno reported by a client socket -> outcome (a reset after the handshake is handled apart) */
const OUTCOME_OF_ERRNO: Readonly<Record<string, ConnectOutcome>> = {
  ECONNREFUSED: "refused",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  // an output-hook drop in the client's own namespace: the packet never left
  EPERM: "timeout",
  EACCES: "timeout",
}

const fromErrno = (code: string, what: string): ConnectReply => ({
  outcome: OUTCOME_OF_ERRNO[code] ?? "timeout",
  detail: `${what}: ${code}`,
})

const answered = (text: string): ConnectReply => {
  const parsed = parseAnswer(text)
  return parsed === undefined
    ? { outcome: "answer", detail: `an answer that is not a cnmlab server's: ${JSON.stringify(text.slice(0, 80))}` }
    : { outcome: "answer", answeredBy: parsed.answer, seenFrom: parsed.seenFrom }
}

/**
 * One TCP connection from `from`: the addon starts a non-blocking connect inside the namespace and
 * Node reads the socket. Data and then the end: answer; the end (or a reset) with no data after
 * the handshake: closed; an error before it: what the errno says; nothing within `timeoutMs`: timeout.
 */
const connectTcp = (native: NetnsAddon, from: NamespaceRef, address: string, port: number, timeoutMs: number): Promise<ConnectReply> => {
  let fd: number
  try {
    fd = native.connectTcp(from.path, address, port, from.inode)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "EIO"
    if (code in OUTCOME_OF_ERRNO) return Promise.resolve(fromErrno(code, "connect"))
    return Promise.reject(error)
  }
  return new Promise((resolve) => {
    const socket = new Socket({ fd, readable: true, writable: true })
    const chunks: Array<Buffer> = []
    let settled = false
    const done = (reply: ConnectReply): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(reply)
    }
    const timer = setTimeout(() => done({ outcome: "timeout", detail: `nothing came back within ${timeoutMs} ms` }), timeoutMs)
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("end", () => {
      if (chunks.length > 0) done(answered(Buffer.concat(chunks).toString()))
      else done({ outcome: "closed", detail: "accepted, then closed without an answer" })
    })
    socket.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "EIO"
      if (chunks.length > 0) done(answered(Buffer.concat(chunks).toString()))
      // a reset can only come after the handshake: a refusal during it is ECONNREFUSED
      else if (code === "ECONNRESET" || code === "EPIPE") done({ outcome: "closed", detail: `accepted, then reset (${code})` })
      else done(fromErrno(code, "the connection"))
    })
  })
}

/**
 * One UDP exchange from a socket in `from` connected to address:port: it takes answers only from
 * there, and hears every ICMP error about the flow (IP_RECVERR: port, net and host unreachable;
 * without it Linux reports only the first to a UDP socket, and a router's "no route" would read
 * as a timeout).
 */
const exchangeUdp = async (native: NetnsAddon, from: NamespaceRef, address: string, port: number, timeoutMs: number): Promise<ConnectReply> => {
  const made = native.openInetSocket(from.path, "udp", null, 0, false, from.inode, true)
  const socket = await socketIn(native, from, "udp", undefined, made)
  try {
    return await new Promise<ConnectReply>((resolve) => {
      let settled = false
      const done = (reply: ConnectReply): void => {
        settled = true
        clearTimeout(timer)
        resolve(reply)
      }
      const timer = setTimeout(() => done({ outcome: "timeout", detail: `no answer within ${timeoutMs} ms` }), timeoutMs)
      socket.on("error", (error: NodeJS.ErrnoException) => done(fromErrno(error.code ?? "EIO", "the exchange")))
      socket.on("message", (message) => done(answered(message.toString())))
      socket.connect(port, address, (refused?: NodeJS.ErrnoException) => {
        // Node hands a failed connect (ENETUNREACH: no route) to this callback and leaves the socket
        // unconnected, and an unconnected socket's send takes the callback for a port and throws,
        // killing the helper; the timeout may also have closed the socket before the connect completed
        if (settled) return
        if (refused) return done(fromErrno(refused.code ?? "EIO", "the exchange"))
        socket.send(QUESTION, (error) => {
          if (error) done(fromErrno((error as NodeJS.ErrnoException).code ?? "EIO", "send"))
        })
      })
    })
  } finally {
    socket.close()
  }
}

export const connect = (native: NetnsAddon, from: NamespaceRef, address: string, port: number, proto: Proto, timeoutMs: number): Promise<ConnectReply> =>
  proto === "tcp" ? connectTcp(native, from, address, port, timeoutMs) : exchangeUdp(native, from, address, port, timeoutMs)

/** what a bound socket does with what arrives */
export type Serve = { readonly kind: "listen"; readonly answer: string } | { readonly kind: "proxy"; readonly to: { readonly address: string; readonly port: number } }

interface Bound {
  readonly kind: Serve["kind"]
  readonly proto: Proto
  readonly address: string
  readonly port: number
  /** settles once its socket (and every socket it made) is closed */
  readonly close: () => Promise<void>
}

/** how long a UDP proxy keeps a client's own socket towards the target (docker-proxy: 90 s) */
const UDP_PROXY_IDLE_MS = 90_000

/**
 * The bound sockets of every scope (a linux kernel instance) by namespace. Each is bound
 * synchronously, so the kernel's refusal (EADDRINUSE, EADDRNOTAVAIL) is thrown by `bind`.
 */
export class BoundSockets {
  private readonly bound = new Map<string, Array<Bound>>()

  constructor(private readonly native: NetnsAddon) {}

  bind(scope: number, at: NamespaceRef, proto: Proto, address: string, port: number, serve: Serve): void {
    const close = proto === "tcp" ? this.tcp(at, address, port, serve) : this.udp(at, address, port, serve)
    const key = `${scope}/${at.ns}`
    this.bound.set(key, [...(this.bound.get(key) ?? []), { kind: serve.kind, proto, address, port, close }])
  }

  /** closes one socket; false when there is none of that kind */
  async unbind(scope: number, ns: string, kind: Serve["kind"], proto: Proto, address: string, port: number): Promise<boolean> {
    const key = `${scope}/${ns}`
    const list = this.bound.get(key) ?? []
    const at = list.findIndex((b) => b.kind === kind && b.proto === proto && b.address === address && b.port === port)
    if (at < 0) return false
    const [gone] = list.splice(at, 1)
    await gone?.close()
    return true
  }

  /** closes every socket of a namespace */
  async stop(scope: number, ns: string): Promise<void> {
    const key = `${scope}/${ns}`
    const list = this.bound.get(key) ?? []
    this.bound.delete(key)
    await Promise.all(list.map((b) => b.close()))
  }

  async close(scope: number): Promise<void> {
    const prefix = `${scope}/`
    const keys = [...this.bound.keys()].filter((key) => key.startsWith(prefix))
    await Promise.all(keys.map((key) => this.stop(scope, key.slice(prefix.length))))
  }

  private tcp(at: NamespaceRef, address: string, port: number, serve: Serve): () => Promise<void> {
    const fd = this.native.openInetSocket(at.path, "tcp", address, port, false, at.inode)
    const open = new Set<Socket>()
    const server: Server = createServer((client) => {
      open.add(client)
      client.on("close", () => open.delete(client))
      client.on("error", () => {})
      if (serve.kind === "listen") client.end(answerLine(serve.answer, client.remoteAddress ?? ""))
      else this.relayTcp(at, client, serve.to, open)
    })
    server.on("error", () => {})
    server.listen({ fd })
    return () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy()
        server.close(() => resolve())
      })
  }

  /**
   * docker-proxy: the client is accepted already; a connection of our own from the same namespace
   * to the target, and the bytes relayed both ways. If it fails, the client's connection is closed
   * (the client sees it closed, not refused).
   */
  private relayTcp(at: NamespaceRef, client: Socket, to: { readonly address: string; readonly port: number }, open: Set<Socket>): void {
    let fd: number
    try {
      fd = this.native.connectTcp(at.path, to.address, to.port, at.inode)
    } catch {
      client.end()
      return
    }
    const target = new Socket({ fd, readable: true, writable: true })
    open.add(target)
    target.on("close", () => {
      open.delete(target)
      client.end()
    })
    target.on("error", () => client.end())
    client.on("close", () => target.destroy())
    target.pipe(client)
    client.pipe(target)
  }

  private udp(at: NamespaceRef, address: string, port: number, serve: Serve): () => Promise<void> {
    const fd = this.native.openInetSocket(at.path, "udp", address, port, false, at.inode)
    const relays = new Map<string, { socket: Promise<DatagramSocket>; timer: NodeJS.Timeout }>()
    let socket: DatagramSocket | undefined
    let closed = false
    const adopted = socketIn(this.native, at, "udp", undefined, fd).then((s) => {
      socket = s
      if (closed) s.close()
      return s
    })
    const relay = (message: Buffer, clientAddress: string, clientPort: number, to: { readonly address: string; readonly port: number }): void => {
      const key = `${clientAddress}:${clientPort}`
      let entry = relays.get(key)
      if (entry === undefined) {
        const own = socketIn(this.native, at, "udp").then((s) => {
          s.on("error", () => {})
          // the answer goes back from the proxy's own socket, from whichever address routing picks
          s.on("message", (answer) => socket?.send(answer, clientPort, clientAddress))
          s.connect(to.port, to.address)
          return new Promise<DatagramSocket>((resolve) => s.once("connect", () => resolve(s)))
        })
        entry = { socket: own, timer: setTimeout(() => forget(key), UDP_PROXY_IDLE_MS) }
        relays.set(key, entry)
      } else entry.timer.refresh()
      void entry.socket.then((s) => s.send(message)).catch(() => {})
    }
    const forget = (key: string): void => {
      const entry = relays.get(key)
      relays.delete(key)
      if (entry === undefined) return
      clearTimeout(entry.timer)
      void entry.socket.then((s) => s.close()).catch(() => {})
    }
    void adopted.then((s) => {
      s.on("error", () => {})
      s.on("message", (message, from) => {
        if (serve.kind === "listen") s.send(answerLine(serve.answer, from.address), from.port, from.address)
        else relay(message, from.address, from.port, serve.to)
      })
    })
    return async () => {
      closed = true
      for (const key of [...relays.keys()]) forget(key)
      const s = await adopted
      await new Promise<void>((resolve) => {
        try {
          s.close(() => resolve())
        } catch {
          resolve()
        }
      })
    }
  }
}
