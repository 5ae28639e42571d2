/**
 * Generic netlink (linux/genetlink.h): the 4-byte genlmsghdr that follows nlmsghdr, and the
 * controller's CTRL_CMD_GETFAMILY, which turns a family's name ("IPVS") into the message type its
 * requests are sent with. Pure functions over bytes.
 */
import { attrList, attrString, readU16, type NlMessage } from "./wire.ts"

export const NETLINK_GENERIC = 16

/** the controller's own family, fixed (NLMSG_MIN_TYPE) */
export const GENL_ID_CTRL = 0x10
export const CTRL_VERSION = 2
export const CTRL_CMD = { NEWFAMILY: 1, GETFAMILY: 3 } as const
export const CTRL_ATTR = { FAMILY_ID: 1, FAMILY_NAME: 2, VERSION: 3 } as const

const GENL_HDRLEN = 4

/** struct genlmsghdr: command, family version, 2 reserved bytes */
export const genlmsghdr = (command: number, version: number): Buffer => Buffer.from([command, version, 0, 0])

export interface GenlParsed {
  readonly command: number
  readonly version: number
  /** the message's top-level attributes in wire order, repeated types kept */
  readonly attrs: Array<readonly [number, Buffer]>
}

export const parseGenl = (payload: Buffer): GenlParsed => ({
  command: payload.readUInt8(0),
  version: payload.readUInt8(1),
  attrs: attrList(payload, GENL_HDRLEN),
})

/** CTRL_CMD_GETFAMILY's body, by name */
export const getFamilyBody = (name: string): Buffer[] => [genlmsghdr(CTRL_CMD.GETFAMILY, CTRL_VERSION), attrString(CTRL_ATTR.FAMILY_NAME, name)]

/** the family id in the controller's CTRL_CMD_NEWFAMILY answer; undefined when it is not one */
export const familyIdOf = (messages: ReadonlyArray<NlMessage>): number | undefined => {
  for (const m of messages) {
    if (m.type !== GENL_ID_CTRL || m.payload.length < GENL_HDRLEN) continue
    const genl = parseGenl(m.payload)
    if (genl.command !== CTRL_CMD.NEWFAMILY) continue
    const id = readU16(new Map(genl.attrs).get(CTRL_ATTR.FAMILY_ID))
    if (id !== undefined) return id
  }
  return undefined
}
