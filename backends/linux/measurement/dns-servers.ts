import { createSocket, type Socket } from "node:dgram"
import { DnsRecords } from "../../dns-records.ts"
import type { DnsAnswer, DnsRcode, DnsUpdate, DnsView } from "../../kernel-types.ts"
import type { NetnsAddon } from "../addon.ts"
import { decodeMessage, DnsWireError, encodeResponse, RCODE, TYPE_A } from "../dns-wire.ts"
import type { NamespaceRef } from "./protocol.ts"

const RCODE_OF: Readonly<Record<DnsRcode, number>> = {
  NOERROR: RCODE.NOERROR,
  NXDOMAIN: RCODE.NXDOMAIN,
  SERVFAIL: RCODE.SERVFAIL,
  REFUSED: RCODE.REFUSED,
}

const NXDOMAIN: DnsAnswer = { rcode: "NXDOMAIN", addresses: [] }

const DNS_PORT = 53

/** what `answerOf` says about one query, as a wire reply (undefined: not a query, say nothing) */
const reply = (request: Buffer, answerOf: (name: string) => DnsAnswer): Buffer | undefined => {
  let query
  try {
    query = decodeMessage(request)
  } catch (error) {
    if (error instanceof DnsWireError) return undefined
    throw error
  }
  if (query.response) return undefined
  const q = query.questions[0]
  if (query.opcode !== 0 || !q) return encodeResponse(query, RCODE.NOTIMP, [])
  const answer = answerOf(q.name)
  // a known name asked for another type (AAAA, say) exists but has no such record: empty NOERROR
  const addresses = q.type === TYPE_A ? answer.addresses : []
  return encodeResponse(query, RCODE_OF[answer.rcode], addresses)
}

interface Server {
  /** undefined until adopted */
  socket: Socket | undefined
  /** settles once adopted (and closed again, when it was stopped meanwhile) */
  adopted: Promise<void>
  stopped: boolean
  view: DnsView
}

/**
 * The embedded DNS servers of the measurement helper and the names they answer from: every
 * resolver's records, mirrored from the control plane's updates in the order they were posted,
 * so a query posted after an update is answered from it. Keys carry the scope (the kernel
 * instance), so two instances in one process never share a server or a resolver.
 */
export class DnsServers {
  private readonly servers = new Map<string, Server[]>()
  private readonly resolvers = new Map<string, DnsRecords>()

  constructor(private readonly native: NetnsAddon) {}

  /**
   * Binds address:53 inside `at`, synchronously, so that the kernel's refusal (EADDRNOTAVAIL for
   * an address the namespace lacks, EADDRINUSE for a second server) is thrown here. A plain bind:
   * in a namespace whose lo was never up there is no local table yet, and the kernel lets any
   * address be bound (measured, and what the conformance suite expects). The bound socket is
   * known at once and adopted by dgram a moment later: an update or a stop handled meanwhile still
   * reaches it, and queries that arrive before then wait in its receive queue.
   */
  serve(scope: number, at: NamespaceRef, address: string, view: DnsView): void {
    const fd = this.native.openInetSocket(at.path, "udp", address, DNS_PORT, false, at.inode)
    const server: Server = { socket: undefined, adopted: Promise.resolve(), stopped: false, view }
    const key = `${scope}/${at.ns}`
    this.servers.set(key, [...(this.servers.get(key) ?? []), server])
    server.adopted = new Promise<void>((resolve) => {
      const socket = createSocket("udp4")
      socket.bind({ fd }, () => {
        server.socket = socket
        if (server.stopped) socket.close()
        else socket.on("message", (request, from) => answer(request, from.address, from.port))
        resolve()
      })
    })
    const answer = (request: Buffer, address: string, port: number): void => {
      const { resolver, networks } = server.view
      const records = this.resolvers.get(`${scope}/${resolver}`)
      const response = reply(request, (name) => records?.answer(networks, name) ?? NXDOMAIN)
      if (response) server.socket?.send(response, port, address)
    }
  }

  update(scope: number, update: DnsUpdate): void {
    const key = `${scope}/${update.resolver}`
    let records = this.resolvers.get(key)
    if (records === undefined) this.resolvers.set(key, (records = new DnsRecords()))
    records.update(update)
    for (const { ns, networks } of update.networks ?? []) {
      for (const server of this.servers.get(`${scope}/${ns}`) ?? []) server.view = { resolver: server.view.resolver, networks }
    }
  }

  /** settles once every socket of the namespace's servers is closed */
  stop(scope: number, ns: string): Promise<unknown> {
    const key = `${scope}/${ns}`
    const servers = this.servers.get(key) ?? []
    this.servers.delete(key)
    for (const server of servers) {
      server.stopped = true
      server.socket?.close()
    }
    return Promise.all(servers.map((s) => s.adopted))
  }

  close(scope: number): Promise<unknown> {
    const prefix = `${scope}/`
    for (const key of [...this.resolvers.keys()]) if (key.startsWith(prefix)) this.resolvers.delete(key)
    const keys = [...this.servers.keys()].filter((key) => key.startsWith(prefix))
    return Promise.all(keys.map((key) => this.stop(scope, key.slice(prefix.length))))
  }
}
