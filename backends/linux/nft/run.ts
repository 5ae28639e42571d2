import type { NetnsAddon, NftContext } from "../addon.ts"
import type { NamespaceTable } from "../namespaces.ts"
import { NetlinkChannel } from "../netlink/channel.ts"
import { parseAttrs } from "../netlink/wire.ts"

const NETLINK_NETFILTER = 12
/** (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN */
const NFT_MSG_GETGEN = (10 << 8) | 16
const NFTA_GEN_ID = 1
/** nfgenmsg: family AF_UNSPEC, NFNETLINK_V0, res_id 0 */
const NFGENMSG = Uint8Array.of(0, 0, 0, 0)

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
  /** a NETLINK_NETFILTER socket in the same namespace, for its generation */
  readonly netfilter: NetlinkChannel
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
 * A context's socket (and the generation socket next to it) keeps its namespace alive, so every context is closed before its namespace
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
    if (!open) open = this.openIn(ns, path, inode)
    const result = this.native.nftRun(open.context, path, commands)
    if (result.ok) return result.output
    const said = result.error.trim()
    throw new NftFailure(errnoOf(said), `nft: ${said || "failed without saying why"}`)
  }

  /**
   * nftables' generation in `ns`: the kernel counts up every committed transaction there, so an
   * unchanged number means nothing changed the namespace's tables meanwhile (one netlink request)
   */
  generation(ns: string): number {
    const { path, inode } = this.namespaces.ref(ns)
    const open = this.open.get(ns)
    const netfilter = open && open.inode === inode ? open.netfilter : this.openIn(ns, path, inode).netfilter
    const [reply] = netfilter.request(NFT_MSG_GETGEN, 0, [NFGENMSG], "nftables generation")
    const id = reply ? parseAttrs(reply.payload, NFGENMSG.length).get(NFTA_GEN_ID) : undefined
    if (!id || id.length < 4) throw new NftFailure("EPROTO", `nftables generation in ${ns}: no NFTA_GEN_ID in the answer`)
    return id.readUInt32BE(0)
  }

  close(ns: string): void {
    const open = this.open.get(ns)
    if (!open) return
    this.open.delete(ns)
    this.native.nftClose(open.context)
    open.netfilter.close()
  }

  private openIn(ns: string, path: string, inode: number): OpenContext {
    this.close(ns)
    const context = this.native.nftOpen(path)
    let netfilter: NetlinkChannel
    try {
      netfilter = new NetlinkChannel(this.native, path, NETLINK_NETFILTER)
    } catch (error) {
      this.native.nftClose(context)
      throw error
    }
    const open = { context, netfilter, inode }
    this.open.set(ns, open)
    return open
  }

  closeAll(): void {
    for (const ns of [...this.open.keys()]) this.close(ns)
  }
}
