import type { Socket } from "node:dgram"
import { DnsRecords } from "../dns-records.ts"
import type { DnsAnswer, DnsQueryResult, DnsRcode, DnsUpdate, DnsView } from "../kernel-types.ts"
import type { NetnsAddon } from "./addon.ts"
import { adoptDatagram } from "./datagram.ts"
import { answerAddresses, decodeMessage, DnsWireError, encodeQuery, encodeResponse, RCODE, TYPE_A } from "./dns-wire.ts"
import type { NamespaceTable } from "./namespaces.ts"

const DNS_PORT = 53

const RCODE_OF: Readonly<Record<DnsRcode, number>> = {
  NOERROR: RCODE.NOERROR,
  NXDOMAIN: RCODE.NXDOMAIN,
  SERVFAIL: RCODE.SERVFAIL,
  REFUSED: RCODE.REFUSED,
}

const RCODE_NAME = new Map<number, DnsRcode>([
  [RCODE.NOERROR, "NOERROR"],
  [RCODE.NXDOMAIN, "NXDOMAIN"],
  [RCODE.SERVFAIL, "SERVFAIL"],
  [RCODE.REFUSED, "REFUSED"],
])

/** what `answer` says about one query, as a wire reply */
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
  let answer: DnsAnswer
  try {
    answer = answerOf(q.name)
  } catch {
    return encodeResponse(query, RCODE.SERVFAIL, [])
  }
  // a known name asked for another type (AAAA, say) exists but has no such record: empty NOERROR
  const addresses = q.type === TYPE_A ? answer.addresses : []
  return encodeResponse(query, RCODE_OF[answer.rcode], addresses)
}

/** UDP DNS servers bound inside namespaces; each namespace's are stopped with it */
export class DnsServers {
  private readonly servers = new Map<string, Array<{ readonly socket: Socket; view: DnsView }>>()
  private readonly resolvers = new Map<string, DnsRecords>()

  constructor(
    private readonly native: NetnsAddon,
    private readonly namespaces: NamespaceTable,
  ) {}

  /**
   * Binds address:53 inside `ns` (the addon creates and binds the socket there: dgram's own bind
   * resolves the address asynchronously and would escape the namespace). A plain bind, so the
   * kernel decides: EADDRNOTAVAIL for an address the namespace does not have, EADDRINUSE for a
   * second server. (In a namespace whose lo was never up there is no local table yet, and the
   * kernel lets any address be bound: measured, and what the conformance suite expects.)
   */
  async serve(ns: string, address: string, view: DnsView): Promise<void> {
    const socket = await adoptDatagram(this.native, this.namespaces.path(ns), "udp", { address, port: DNS_PORT })
    const server = { socket, view }
    socket.on("message", (request, from) => {
      const { resolver, networks } = server.view
      const answer = reply(request, (name) => this.resolvers.get(resolver)?.answer(networks, name) ?? NXDOMAIN)
      if (answer) socket.send(answer, from.port, from.address)
    })
    // a server must not keep the process alive on its own: its owner stops it or closes the kernel
    socket.unref()
    this.servers.set(ns, [...(this.servers.get(ns) ?? []), server])
  }

  /** all or nothing: a namespace listed without a server refuses the whole update */
  update(update: DnsUpdate): void {
    for (const { ns } of update.networks ?? []) {
      if (!this.running(ns)) throw Object.assign(new Error(`no DNS server runs in ${ns}`), { code: "ENOENT" })
    }
    let records = this.resolvers.get(update.resolver)
    if (records === undefined) this.resolvers.set(update.resolver, (records = new DnsRecords()))
    records.update(update)
    for (const { ns, networks } of update.networks ?? []) {
      for (const server of this.servers.get(ns) ?? []) server.view = { resolver: server.view.resolver, networks }
    }
  }

  stop(ns: string): void {
    for (const { socket } of this.servers.get(ns) ?? []) socket.close()
    this.servers.delete(ns)
  }

  stopAll(): void {
    for (const ns of [...this.servers.keys()]) this.stop(ns)
    this.resolvers.clear()
  }

  running(ns: string): boolean {
    return (this.servers.get(ns)?.length ?? 0) > 0
  }
}

const TIMEOUT: DnsQueryResult = { rcode: "TIMEOUT", addresses: [] }

const NXDOMAIN: DnsAnswer = { rcode: "NXDOMAIN", addresses: [] }

/** one A query from a socket inside `ns` to server:53; nothing in time (or unsendable) is TIMEOUT */
export const queryDns = async (
  native: NetnsAddon,
  namespaces: NamespaceTable,
  ns: string,
  server: string,
  name: string,
  id: number,
  timeoutMs: number,
): Promise<DnsQueryResult> => {
  const socket = await adoptDatagram(native, namespaces.path(ns), "udp")
  try {
    return await new Promise<DnsQueryResult>((resolve) => {
      const timer = setTimeout(() => resolve(TIMEOUT), timeoutMs)
      const done = (result: DnsQueryResult): void => {
        clearTimeout(timer)
        resolve(result)
      }
      socket.on("error", () => done(TIMEOUT))
      socket.on("message", (message, from) => {
        if (from.address !== server || from.port !== DNS_PORT) return
        let decoded
        try {
          decoded = decodeMessage(message)
        } catch {
          return
        }
        if (!decoded.response || decoded.id !== id) return
        const rcode = RCODE_NAME.get(decoded.rcode) ?? "SERVFAIL"
        done({ rcode, addresses: rcode === "NOERROR" ? answerAddresses(decoded) : [] })
      })
      socket.send(encodeQuery(id, name), DNS_PORT, server, (error) => {
        if (error) done(TIMEOUT)
      })
    })
  } finally {
    socket.close()
  }
}
