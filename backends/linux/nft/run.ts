import { spawn } from "node:child_process"
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from "node:fs"
import type { NetnsAddon } from "../addon.ts"

const CANDIDATES = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/usr/local/sbin/nft"]

let found: string | null | undefined

/** the nft binary, or null when nftables is not installed (apt-get install nftables) */
export const nftBinary = (): string | null => {
  if (found !== undefined) return found
  const fromPath = (process.env.PATH ?? "").split(":").filter(Boolean).map((dir) => `${dir}/nft`)
  found = null
  for (const candidate of [...CANDIDATES, ...fromPath]) {
    try {
      accessSync(candidate, constants.X_OK)
      found = candidate
      break
    } catch {
      // not there: try the next one
    }
  }
  return found
}

/** nft's words for the kernel's errno (it prints strerror), back to the errno name */
const STRERROR: ReadonlyArray<readonly [string, string]> = [
  ["No such file or directory", "ENOENT"],
  ["Operation not supported", "EOPNOTSUPP"],
  ["Protocol error", "EPROTO"],
  ["Invalid argument", "EINVAL"],
  ["File exists", "EEXIST"],
  ["Device or resource busy", "EBUSY"],
  ["Operation not permitted", "EPERM"],
  ["Permission denied", "EACCES"],
  ["No buffer space available", "ENOBUFS"],
]

export class NftFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const errnoOf = (stderr: string): string => {
  for (const [text, code] of STRERROR) if (stderr.includes(text)) return code
  // syntax or JSON errors: nft refused the input itself
  return "EINVAL"
}

/** where nft input files go (tmpfs, root only) */
export const NFT_INPUT_DIR = "/run/cnmlab/nft"
let inputCounter = 0

/**
 * Runs nft inside the namespace: the child is spawned while the thread is inside it (withNetns),
 * so nft and its netlink socket live there. spawn() forks synchronously, which is what makes
 * that sound; everything after (pipes, exit) is ordinary async I/O.
 */
const runInNamespace = (native: NetnsAddon, nsPath: string, binary: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = native.withNetns(nsPath, () => spawn(binary, [...args], { stdio: ["ignore", "pipe", "pipe"] }))
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk))
    child.on("error", (error) => reject(error))
    child.on("close", (code) => {
      const stderr = Buffer.concat(err).toString("utf8").trim()
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"))
      else reject(new NftFailure(errnoOf(stderr), `nft ${args.join(" ")}: ${stderr || `exit ${code}`}`))
    })
  })

/** `nft ARGS` inside the namespace; returns its standard output */
export const runNft = (native: NetnsAddon, nsPath: string, args: ReadonlyArray<string>): Promise<string> => {
  const binary = nftBinary()
  if (!binary) return Promise.reject(new NftFailure("ENOENT", "nft is not installed (apt-get install nftables)"))
  return runInNamespace(native, nsPath, binary, args)
}

/**
 * `nft -j -f FILE` inside the namespace, with `input` as the file: nft cannot read a Node stdin
 * pipe (it is a socket, and nft opens /dev/stdin, which fails with ENXIO), and one argv string
 * is capped at 128 KiB.
 */
export const runNftJson = async (native: NetnsAddon, nsPath: string, input: unknown): Promise<string> => {
  const binary = nftBinary()
  if (!binary) throw new NftFailure("ENOENT", "nft is not installed (apt-get install nftables)")
  mkdirSync(NFT_INPUT_DIR, { recursive: true, mode: 0o700 })
  const file = `${NFT_INPUT_DIR}/${process.pid}-${++inputCounter}.json`
  writeFileSync(file, JSON.stringify(input))
  try {
    return await runInNamespace(native, nsPath, binary, ["-j", "-f", file])
  } finally {
    rmSync(file, { force: true })
  }
}
