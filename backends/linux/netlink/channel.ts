import type { NetnsAddon } from "../addon.ts"
import { errnoName } from "../errno.ts"
import { NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSGERR_ATTR_MSG } from "./constants.ts"
import { message, parseAttrs, parseMessages, readString, type NlMessage } from "./wire.ts"

/** the kernel refused a netlink request: errno and, when it said more, its own sentence */
export class NetlinkRefusal extends Error {
  readonly errno: number
  readonly code: string
  readonly extack: string | undefined
  constructor(errno: number, extack: string | undefined, what: string) {
    const code = errnoName(errno)
    super(`${what}: ${code}${extack ? ` (${extack})` : ""}`)
    this.errno = errno
    this.code = code
    this.extack = extack
  }
}

/** 4 MiB: a dump of a few thousand links fits without the kernel dropping anything */
const RECEIVE_BUFFER_BYTES = 4 << 20
/** a request the kernel never answers (it always does) must not hang the process forever */
const REPLY_TIMEOUT_MS = 10_000

/**
 * One netlink socket (rtnetlink unless asked otherwise), opened inside one namespace, used synchronously: each request is sent and
 * its answer read before the next one, so exactly one request is ever in flight and a dump can
 * never interleave with anything else on the socket.
 */
export class NetlinkChannel {
  private seq = 1
  private fd: number

  constructor(
    private readonly native: NetnsAddon,
    nsPath: string | null,
    /** NETLINK_ROUTE (0) unless given: nftables' generation is asked over NETLINK_NETFILTER */
    protocol?: number,
  ) {
    this.fd = native.openNetlink(nsPath, RECEIVE_BUFFER_BYTES, REPLY_TIMEOUT_MS, protocol)
  }

  get closed(): boolean {
    return this.fd < 0
  }

  /**
   * A request that wants an ACK. Returns the messages that came before the ACK (what NLM_F_ECHO
   * or a GET returns); throws NetlinkRefusal when the kernel refused.
   */
  request(type: number, flags: number, body: ReadonlyArray<Uint8Array>, what = `netlink request ${type}`): NlMessage[] {
    return this.exchange(type, NLM_F_REQUEST | NLM_F_ACK | flags, body, what)
  }

  /** a dump: every object of the kind, until NLMSG_DONE */
  dump(type: number, body: ReadonlyArray<Uint8Array>, what = `netlink dump ${type}`): NlMessage[] {
    return this.exchange(type, NLM_F_REQUEST | NLM_F_DUMP, body, what)
  }

  close(): void {
    if (this.fd < 0) return
    const fd = this.fd
    this.fd = -1
    this.native.closeFd(fd)
  }

  private exchange(type: number, flags: number, body: ReadonlyArray<Uint8Array>, what: string): NlMessage[] {
    if (this.fd < 0) throw new NetlinkRefusal(9 /* EBADF */, "the namespace's netlink socket is closed", what)
    const seq = this.nextSeq()
    const reply = this.native.netlinkTransact(this.fd, message({ type, flags, seq }, body), seq, seq)
    const out: NlMessage[] = []
    for (const m of parseMessages(reply)) {
      if (m.seq !== seq) continue
      if (m.type === NLMSG_DONE) {
        // a dump can also end in an error, carried as a negative int after NLMSG_DONE
        const status = m.payload.length >= 4 ? m.payload.readInt32LE(0) : 0
        if (status < 0) throw new NetlinkRefusal(-status, undefined, what)
        break
      }
      if (m.type === NLMSG_ERROR) {
        const status = m.payload.readInt32LE(0)
        if (status < 0) throw new NetlinkRefusal(-status, extendedAck(m), what)
        break
      }
      out.push(m)
    }
    return out
  }

  private nextSeq(): number {
    // wraps long before 2^31 so the native side's signed comparison stays valid
    this.seq = this.seq >= 0x7fff0000 ? 1 : this.seq + 1
    return this.seq
  }
}

/** the NLMSGERR_ATTR_MSG text of an error message, when the kernel sent one */
const extendedAck = (m: NlMessage): string | undefined => {
  if (!(m.flags & NLM_F_ACK_TLVS)) return undefined
  // int error, then the request: only its 16-byte header when capped (NETLINK_CAP_ACK), else whole
  const capped = (m.flags & NLM_F_CAPPED) !== 0
  const echoedLength = capped ? 16 : m.payload.length >= 8 ? m.payload.readUInt32LE(4) : 0
  const attrs = parseAttrs(m.payload, 4 + ((echoedLength + 3) & ~3))
  return readString(attrs.get(NLMSGERR_ATTR_MSG))
}
