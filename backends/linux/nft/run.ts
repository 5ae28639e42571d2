import type { NetnsAddon, NftContext } from "../addon.ts"
import type { NamespaceTable } from "../namespaces.ts"

/** null when libnftables can be used, otherwise why not (asked once per process) */
let unavailable: string | null | undefined

export const nftUnavailable = (native: NetnsAddon): string | null => {
  if (unavailable === undefined) unavailable = native.nftAvailable()
  return unavailable
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

interface OpenContext {
  readonly context: NftContext
  /** the namespace's identity when the context was made: a namespace made again needs a new one */
  readonly inode: number
}

/**
 * nftables inside our namespaces through libnftables, the library behind the nft command: one
 * context per namespace, made inside it on first use, so its netlink socket belongs to that
 * namespace. A run is what `nft -j -f FILE` does with the same input (one transaction; what nft
 * would print on stderr is the failure's message), without a process: an nft process per change
 * cost 20-40 ms, mostly its start (backends/linux/README.md, "Firewall").
 *
 * A context's socket keeps its namespace alive, so every context is closed before its namespace
 * is deleted (through the table's onBeforeDelete), and all of them when the kernel instance closes.
 */
export class NftContexts {
  private readonly open = new Map<string, OpenContext>()

  constructor(
    private readonly native: NetnsAddon,
    private readonly namespaces: NamespaceTable,
  ) {
    namespaces.onBeforeDelete((ns) => this.close(ns))
  }

  get available(): boolean {
    return nftUnavailable(this.native) === null
  }

  /** runs `commands` (nft JSON or nft syntax) in `ns`; returns what nft prints on stdout */
  run(ns: string, commands: string): string {
    const why = nftUnavailable(this.native)
    if (why !== null) throw new NftFailure("ENOENT", why)
    let ref: { readonly path: string; readonly inode: number }
    try {
      ref = this.namespaces.ref(ns)
    } catch (error) {
      // deleted behind our back (not through our table): its context must not keep it alive
      this.close(ns)
      throw error
    }
    const { path, inode } = ref
    let open = this.open.get(ns)
    if (open && open.inode !== inode) {
      this.close(ns)
      open = undefined
    }
    if (!open) {
      open = { context: this.native.nftOpen(path), inode }
      this.open.set(ns, open)
    }
    const result = this.native.nftRun(open.context, path, commands)
    if (result.ok) return result.output
    const said = result.error.trim()
    throw new NftFailure(errnoOf(said), `nft: ${said || "failed without saying why"}`)
  }

  /** the namespaces with a context open (what tests look at) */
  openIn(): string[] {
    return [...this.open.keys()]
  }

  close(ns: string): void {
    const open = this.open.get(ns)
    if (!open) return
    this.open.delete(ns)
    this.native.nftClose(open.context)
  }

  closeAll(): void {
    for (const ns of [...this.open.keys()]) this.close(ns)
  }
}
