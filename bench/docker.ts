/**
 * What the same job costs Docker on this machine: `docker network connect` of a running container
 * to a bridge network, against the engine that /work/shared/tools/docker-engine-up starts (in its
 * own namespace `dk`). Measured twice: the CLI as a user types it (process start included), and
 * the engine alone (the same request over its API socket).
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { request } from "node:http"
import { median, ms } from "./stats.ts"

const DOCKER = "/usr/bin/docker"
const SOCKET = "/tmp/dk/docker.sock"

export type DockerConnect =
  | { readonly cliMs: number; readonly apiMs: number; readonly samples: number; readonly version: string }
  | { readonly cliMs: null; readonly reason: string }

interface Ran {
  readonly ms: number
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

const docker = (args: ReadonlyArray<string>, timeoutMs = 60_000): Promise<Ran> =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(DOCKER, ["-H", `unix://${SOCKET}`, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", (error) => resolve({ ms: performance.now() - started, status: null, stdout, stderr: error.message }))
    child.on("close", (status) => resolve({ ms: performance.now() - started, status, stdout, stderr }))
  })

/** one request to the engine's API; resolves with its duration, rejects on a non-2xx answer */
const api = (method: string, path: string, body: unknown): Promise<number> =>
  new Promise((resolve, reject) => {
    const payload = JSON.stringify(body)
    const started = performance.now()
    const req = request(
      { socketPath: SOCKET, method, path, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        let text = ""
        res.on("data", (chunk: Buffer) => (text += chunk.toString()))
        res.on("end", () => {
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) resolve(performance.now() - started)
          else reject(new Error(`${method} ${path}: ${status} ${text.trim()}`))
        })
      },
    )
    req.on("error", reject)
    req.end(payload)
  })

const must = (what: string, run: Ran): Ran => {
  if (run.status !== 0) throw new Error(`docker ${what}: ${run.stderr.trim() || `exit ${run.status}`}`)
  return run
}

export const measureDockerConnect = async (samples = 7): Promise<DockerConnect> => {
  if (!existsSync(DOCKER)) return { cliMs: null, reason: `no Docker CLI at ${DOCKER}` }
  const version = await docker(["version", "--format", "{{.Server.Version}}"], 10_000)
  if (version.status !== 0) {
    return { cliMs: null, reason: `no Docker engine answers at unix://${SOCKET} (start one with /work/shared/tools/docker-engine-up)` }
  }
  if ((await docker(["image", "inspect", "bb"])).status !== 0) {
    return { cliMs: null, reason: "the engine has no image bb (docker-engine-up imports it)" }
  }
  const tag = `cnmbench-${process.pid}`
  try {
    must("network create", await docker(["network", "create", tag]))
    must("run", await docker(["run", "-d", "--name", tag, "bb", "sleep", "600"]))
    // the first connect pays for things done once (the bridge's first port, caches): not counted
    must("network connect", await docker(["network", "connect", tag, tag]))
    must("network disconnect", await docker(["network", "disconnect", tag, tag]))
    const cli: number[] = []
    for (let i = 0; i < samples; i++) {
      cli.push(must("network connect", await docker(["network", "connect", tag, tag])).ms)
      must("network disconnect", await docker(["network", "disconnect", tag, tag]))
    }
    const engine: number[] = []
    for (let i = 0; i < samples; i++) {
      engine.push(await api("POST", `/networks/${tag}/connect`, { Container: tag }))
      await api("POST", `/networks/${tag}/disconnect`, { Container: tag, Force: false })
    }
    return { cliMs: ms(median(cli)), apiMs: ms(median(engine)), samples, version: version.stdout.trim() }
  } catch (error) {
    return { cliMs: null, reason: `measuring failed: ${(error as Error).message}` }
  } finally {
    await docker(["rm", "-f", tag])
    await docker(["network", "rm", tag])
  }
}
