import type { Socket } from "node:dgram"
import { DnsRecords } from "../../dns-records.ts"
import type { DnsAnswer, DnsRcode, DnsUpdate, DnsView } from "../../kernel-types.ts"
import { decodeMessage, DnsWireError, encodeResponse, RCODE, TYPE_A } from "../dns-wire.ts"
import { adopt } from "./adopt.ts"

const RCODE_OF: Readonly<Record<DnsRcode, number>> = {
  NOERROR: RCODE.NOERROR,
  NXDOMAIN: RCODE.NXDOMAIN,
  SERVFAIL: RCODE.SERVFAIL,
  REFUSED: RCODE.REFUSED,
}

const NXDOMAIN: DnsAnswer = { rcode: "NXDOMAIN", addresses: [] }

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
 * The embedded DNS servers of the measurement thread and the names they answer from: every
 * resolver's records, mirrored from the control plane's updates in the order they were posted,
 * so a query posted after an update is answered from it. Keys carry the scope (the kernel
 * instance), so two instances in one process never share a server or a resolver.
 */
export class DnsServers {
  private readonly servers = new Map<string, Server[]>()
  private readonly resolvers = new Map<string, DnsRecords>()

  /**
   * Known at once, adopted a moment later: an update or a stop handled meanwhile still reaches it
   * (queries that arrive before the adoption wait in the socket's receive queue).
   */
  serve(scope: number, ns: string, fd: number, view: DnsView): void {
    const server: Server = { socket: undefined, adopted: Promise.resolve(), stopped: false, view }
    const key = `${scope}/${ns}`
    this.servers.set(key, [...(this.servers.get(key) ?? []), server])
    server.adopted = adopt(fd).then((socket) => {
      server.socket = socket
      if (server.stopped) {
        socket.close()
        return
      }
      socket.on("message", (request, from) => {
        const { resolver, networks } = server.view
        const records = this.resolvers.get(`${scope}/${resolver}`)
        const answer = reply(request, (name) => records?.answer(networks, name) ?? NXDOMAIN)
        if (answer) socket.send(answer, from.port, from.address)
      })
    })
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
