/**
 * The measurement thread: probes, DNS queries and the embedded DNS servers, on an event loop of
 * their own. The control plane's thread blocks in synchronous rtnetlink calls, nft runs and
 * namespace teardown; here nothing does, so an answer is read when it arrives and a timeout
 * fires when it is due (backends/linux/README.md, "Measurement plane", has the numbers).
 */
import { parentPort } from "node:worker_threads"
import { query } from "./dns-query.ts"
import { DnsServers } from "./dns-servers.ts"
import { probeEcho } from "./echo.ts"
import type { Reply, Request } from "./protocol.ts"

const port = parentPort
if (port === null) throw new Error("backends/linux/measurement/worker.ts runs as a worker thread")

const send = (reply: Reply): void => port.postMessage(reply)
const servers = new DnsServers()

/**
 * Requests are handled in the order they were posted: an update posted before a query is in the
 * mirror before the query goes out. Failures are not caught: an exception here ends the thread,
 * and the control plane fails everything pending and everything after, loudly.
 */
port.on("message", (request: Request) => {
  switch (request.kind) {
    case "probe": {
      const { id, fd, address, token, timeoutMs, inheritedMs } = request
      void probeEcho(fd, address, Buffer.from(token), timeoutMs, inheritedMs).then(({ outcome, ms }) =>
        send({ kind: "probe", id, outcome, ms }),
      )
      return
    }
    case "query": {
      const { id, fd, server, name, queryId, timeoutMs } = request
      void query(fd, server, name, queryId, timeoutMs).then(({ result, ms }) => send({ kind: "query", id, result, ms }))
      return
    }
    case "serve":
      servers.serve(request.scope, request.ns, request.fd, request.view)
      return
    case "update":
      servers.update(request.scope, request.update)
      return
    case "stop": {
      const { id } = request
      void servers.stop(request.scope, request.ns).then(() => {
        if (id !== undefined) send({ kind: "done", id })
      })
      return
    }
    case "close": {
      const { id } = request
      void servers.close(request.scope).then(() => send({ kind: "done", id }))
      return
    }
  }
})
