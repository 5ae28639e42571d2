/**
 * The measurement helper: a process of its own that sends probes and DNS queries, answers as the
 * embedded DNS servers, and times all of it on an event loop nothing else runs on. The cnmlab
 * process blocks in synchronous rtnetlink calls, forks nft and waits on namespace teardown; a
 * thread of that process still stalled behind it (its forks and memory mappings hold the whole
 * process's address space), a process of its own does not. And it runs under SCHED_RR, ahead of
 * ordinary work, since a busy machine otherwise makes it wait for a CPU.
 * backends/linux/README.md, "Measurement plane", has the numbers behind both choices.
 */
import { readdirSync } from "node:fs"
import { stat } from "node:fs/promises"
import { setPriority } from "node:os"
import { addon } from "../addon.ts"
import { query } from "./dns-query.ts"
import { DnsServers } from "./dns-servers.ts"
import { probeEcho } from "./echo.ts"
import type { Reply, Request } from "./protocol.ts"
import { BoundSockets, connect } from "./sockets.ts"

/** the lowest real-time priority: ahead of every ordinary task, behind every real-time one */
const REALTIME_PRIORITY = 1
/** where SCHED_RR is refused (no CAP_SYS_NICE), the strongest ordinary priority */
const FALLBACK_NICENESS = -20

const send = (reply: Reply): void => {
  process.send?.(reply)
}

if (process.send === undefined) throw new Error("backends/linux/measurement/helper.ts runs as a child process with an IPC channel")

const native = addon()

/**
 * Every thread of the process runs ahead of ordinary work, not only the event loop's: the loop
 * waits on the others (V8's scavenger joins its helper threads; a thread in mmap holds the address
 * space while the loop faults a page in), and an ordinary thread that a busy machine kept off the
 * CPU held the real-time loop as long (scavenges of 24-686 ms at load 10-13, answers sent on time
 * read after the timeout: README "Measurement plane"). libuv starts its thread pool on first use,
 * and a thread started later would not inherit the policy: the pool is started first.
 */
const runAheadOfOrdinaryWork = async (): Promise<string> => {
  await stat("/")
  const threads = readdirSync("/proc/self/task").map(Number)
  try {
    for (const thread of threads) native.setRealtime(REALTIME_PRIORITY, thread)
    return `SCHED_RR ${REALTIME_PRIORITY} (${threads.length} threads)`
  } catch (error) {
    for (const thread of threads) setPriority(thread, FALLBACK_NICENESS)
    return `nice ${FALLBACK_NICENESS} (SCHED_RR refused: ${(error as NodeJS.ErrnoException).code})`
  }
}

// its parent decides when it ends: Ctrl-C reaches the whole process group, and the parent still
// needs its helper while it tears its run down; the channel closing (the parent gone) ends it
process.on("SIGINT", () => {})
process.on("disconnect", () => process.exit(0))

const servers = new DnsServers(native)
const sockets = new BoundSockets(native)

const failed = (id: number, error: unknown): void => {
  const { code, message } = error as NodeJS.ErrnoException
  send({ kind: "failed", id, code: code ?? "EIO", message })
}

/**
 * Requests are handled in the order they were sent: an update sent before a query is in the
 * mirror before the query goes out. A socket the kernel refuses is a failed reply; anything else
 * thrown here ends the helper, and the control plane fails everything waiting and everything
 * after, loudly.
 */
process.on("message", (request: Request) => {
  switch (request.kind) {
    case "probe": {
      const { id, from, address, token, timeoutMs, inheritedMs } = request
      probeEcho(native, from, address, Buffer.from(token), timeoutMs, inheritedMs).then(
        ({ outcome, ms }) => send({ kind: "probe", id, outcome, ms }),
        (error) => failed(id, error),
      )
      return
    }
    case "query": {
      const { id, from, server, name, queryId, timeoutMs } = request
      query(native, from, server, name, queryId, timeoutMs).then(
        ({ result, ms }) => send({ kind: "query", id, result, ms }),
        (error) => failed(id, error),
      )
      return
    }
    case "connect": {
      const { id, from, address, port, proto, timeoutMs } = request
      const started = performance.now()
      connect(native, from, address, port, proto, timeoutMs).then(
        (result) => send({ kind: "connect", id, result, ms: performance.now() - started }),
        (error) => failed(id, error),
      )
      return
    }
    case "bind":
      try {
        sockets.bind(request.scope, request.at, request.proto, request.address, request.port, request.serve)
        send({ kind: "done", id: request.id })
      } catch (error) {
        failed(request.id, error)
      }
      return
    case "unbind": {
      const { id, scope, ns, serves, proto, address, port } = request
      void sockets.unbind(scope, ns, serves, proto, address, port).then((found) => {
        if (found) send({ kind: "done", id })
        else send({ kind: "failed", id, code: "ENOENT", message: `no ${serves} socket ${address}:${port}/${proto} in ${ns}` })
      })
      return
    }
    case "serve":
      try {
        servers.serve(request.scope, request.at, request.address, request.view)
        send({ kind: "done", id: request.id })
      } catch (error) {
        failed(request.id, error)
      }
      return
    case "update":
      servers.update(request.scope, request.update)
      return
    case "stop": {
      const { id } = request
      const stopped = request.what === "dns" ? servers.stop(request.scope, request.ns) : sockets.stop(request.scope, request.ns)
      void stopped.then(() => {
        if (id !== undefined) send({ kind: "done", id })
      })
      return
    }
    case "close": {
      const { id } = request
      void Promise.all([servers.close(request.scope), sockets.close(request.scope)]).then(() => send({ kind: "done", id }))
      return
    }
  }
})

send({ kind: "ready", scheduling: await runAheadOfOrdinaryWork() })
