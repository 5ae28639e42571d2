/**
 * iperf3 between two namespaces: a server started inside one (it serves test after test until
 * stopped), clients started inside the other, each reporting in JSON. The processes are forked
 * while this thread is inside the namespace (spawn forks synchronously), as the baselines in
 * ip-baselines.ts start ip.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import type { NetnsAddon } from "../backends/linux/addon.ts"
import { nsPath } from "../backends/linux/namespaces.ts"

export interface IperfOptions {
  /** seconds of each test (iperf3 -t) */
  readonly seconds: number
  /** parallel streams (iperf3 -P) */
  readonly streams: number
  /** bytes per write (iperf3 -l); undefined: iperf3's default (128 KiB for TCP) */
  readonly writeBytes?: number
  /** CPU the client runs on and CPU the server runs on (iperf3 -A); undefined: not pinned */
  readonly cpus?: { readonly client: number; readonly server: number }
}

export interface IperfResult {
  /** what the receiver got, bits per second */
  readonly bitsPerSecond: number
  readonly retransmits: number
  /** percent of a CPU, as iperf3 reports it */
  readonly senderCpu: number
  readonly receiverCpu: number
}

/** the installed iperf3's version line, or why there is none */
export const iperfVersion = (): { readonly ok: true; readonly version: string } | { readonly ok: false; readonly reason: string } => {
  const run = spawnSync("iperf3", ["--version"], { encoding: "utf8" })
  if (run.error || run.status !== 0) return { ok: false, reason: "iperf3 is not installed (apt-get install -y iperf3)" }
  return { ok: true, version: (run.stdout.split("\n")[0] ?? "").trim() }
}

export class IperfServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
  ) {}

  /** iperf3 -s bound to `address` inside `ns`; ready once it says it listens */
  static start(native: NetnsAddon, ns: string, address: string, cpu?: number): Promise<IperfServer> {
    const args = ["-s", "--forceflush", "-B", address, ...(cpu === undefined ? [] : ["-A", String(cpu)])]
    const child = native.withNetns(nsPath(ns), () => spawn("iperf3", args, { stdio: ["ignore", "pipe", "pipe"] }))
    return new Promise((resolve, reject) => {
      let output = ""
      const timer = setTimeout(() => {
        child.kill()
        reject(new Error(`iperf3 server in ${ns} did not start within 5 s: ${output.trim()}`))
      }, 5000)
      const listen = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes("Server listening")) {
          clearTimeout(timer)
          child.stdout?.off("data", listen)
          // the server keeps printing a report per test: read and dropped, so the pipe never fills
          child.stdout?.resume()
          resolve(new IperfServer(child, address))
        }
      }
      child.stdout?.on("data", listen)
      child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
      child.on("error", (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.on("exit", (status) => {
        clearTimeout(timer)
        reject(new Error(`iperf3 server in ${ns} exited (${status}): ${output.trim()}`))
      })
    })
  }

  stop(): void {
    this.child.kill()
  }
}

/** one test from `ns` to the server at `address`; refused or failed tests throw with iperf3's reason */
export const iperfClient = (native: NetnsAddon, ns: string, address: string, options: IperfOptions): Promise<IperfResult> => {
  const args = [
    "-c",
    address,
    "-J",
    // a path that drops the connection fails the test in seconds, not after the SYN retries
    "--connect-timeout",
    "3000",
    "-t",
    String(options.seconds),
    "-P",
    String(options.streams),
    ...(options.writeBytes === undefined ? [] : ["-l", String(options.writeBytes)]),
    ...(options.cpus === undefined ? [] : ["-A", String(options.cpus.client)]),
  ]
  const child = native.withNetns(nsPath(ns), () => spawn("iperf3", args, { stdio: ["ignore", "pipe", "pipe"] }))
  return new Promise((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (status) => {
      let report: IperfReport
      try {
        report = JSON.parse(stdout) as IperfReport
      } catch {
        reject(new Error(`iperf3 client in ${ns} → ${address} exited ${status} without a report: ${stderr.trim()}`))
        return
      }
      if (report.error !== undefined || status !== 0 || report.end?.sum_received === undefined) {
        reject(new Error(`iperf3 client in ${ns} → ${address}: ${report.error ?? `exited ${status}`}`))
        return
      }
      resolve({
        bitsPerSecond: report.end.sum_received.bits_per_second,
        retransmits: report.end.sum_sent?.retransmits ?? 0,
        senderCpu: report.end.cpu_utilization_percent?.host_total ?? 0,
        receiverCpu: report.end.cpu_utilization_percent?.remote_total ?? 0,
      })
    })
  })
}

/** the parts of iperf3's JSON report read here */
interface IperfReport {
  readonly error?: string
  readonly end?: {
    readonly sum_received?: { readonly bits_per_second: number }
    readonly sum_sent?: { readonly retransmits?: number }
    readonly cpu_utilization_percent?: { readonly host_total: number; readonly remote_total: number }
  }
}
