import type { DnsQueryResult, DnsRcode } from "../../kernel-types.ts"
import { answerAddresses, decodeMessage, encodeQuery, RCODE } from "../dns-wire.ts"
import type { NetnsAddon } from "../addon.ts"
import { socketIn } from "./adopt.ts"
import type { NamespaceRef } from "./protocol.ts"

const DNS_PORT = 53

const RCODE_NAME = new Map<number, DnsRcode>([
  [RCODE.NOERROR, "NOERROR"],
  [RCODE.NXDOMAIN, "NXDOMAIN"],
  [RCODE.SERVFAIL, "SERVFAIL"],
  [RCODE.REFUSED, "REFUSED"],
])

const TIMEOUT: DnsQueryResult = { rcode: "TIMEOUT", addresses: [] }

/**
 * One A query from a UDP socket in `from` to server:53; nothing in time (or unsendable) is TIMEOUT.
 * `ms`: from the send to the answer, or to giving up.
 */
export const query = async (
  native: NetnsAddon,
  from: NamespaceRef,
  server: string,
  name: string,
  id: number,
  timeoutMs: number,
): Promise<{ readonly result: DnsQueryResult; readonly ms: number }> => {
  const socket = await socketIn(native, from, "udp")
  try {
    return await new Promise((resolve) => {
      let started = 0
      const done = (result: DnsQueryResult): void => {
        clearTimeout(timer)
        resolve({ result, ms: performance.now() - started })
      }
      socket.on("error", () => done(TIMEOUT))
      socket.on("message", (message, sender) => {
        if (sender.address !== server || sender.port !== DNS_PORT) return
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
      const timer = setTimeout(() => done(TIMEOUT), timeoutMs)
      started = performance.now()
      socket.send(encodeQuery(id, name), DNS_PORT, server, (error) => {
        if (error) done(TIMEOUT)
      })
    })
  } finally {
    socket.close()
  }
}
