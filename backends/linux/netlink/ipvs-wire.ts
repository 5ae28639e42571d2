/**
 * IP virtual server over generic netlink (linux/ip_vs.h, "IPVS Generic Netlink interface"):
 * services keyed by firewall mark, their destinations, and the dumps that read them back. Every
 * request is genlmsghdr (command, IPVS_GENL_VERSION) and top-level attributes, IPVS_CMD_ATTR_SERVICE
 * and IPVS_CMD_ATTR_DEST, each a nest of IPVS_SVC_ATTR_* / IPVS_DEST_ATTR_*. The kernel parses
 * them in ip_vs_ctl.c (ip_vs_genl_parse_service, ip_vs_genl_parse_dest): a service is identified
 * by AF and FWMARK, and a new one needs SCHED_NAME, FLAGS, TIMEOUT and NETMASK too; a destination
 * is identified by ADDR and PORT, and a new one needs FWD_METHOD, WEIGHT, U_THRESH and L_THRESH.
 * Ports and the netmask are network order; addresses are union nf_inet_addr (16 bytes, IPv4 in
 * the first 4); everything else host order.
 */
import type { IpvsDestination, IpvsForward, IpvsService } from "../../ipvs-types.ts"
import { AF_INET } from "./constants.ts"
import { genlmsghdr, parseGenl } from "./genl-wire.ts"
import { attr, attrBe16, attrNested, attrString, attrU16, attrU32, ipv4Bytes, parseAttrs, readBe16, readString, readU16, readU32 } from "./wire.ts"

export const IPVS_GENL_NAME = "IPVS"
export const IPVS_GENL_VERSION = 1

export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  FLUSH: 17,
} as const

export const IPVS_CMD_ATTR = { SERVICE: 1, DEST: 2 } as const

export const IPVS_SVC_ATTR = {
  AF: 1,
  PROTOCOL: 2,
  ADDR: 3,
  PORT: 4,
  FWMARK: 5,
  SCHED_NAME: 6,
  FLAGS: 7,
  TIMEOUT: 8,
  NETMASK: 9,
  STATS: 10,
  PE_NAME: 11,
  STATS64: 12,
} as const

export const IPVS_DEST_ATTR = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const

/** IP_VS_CONN_F_FWD_MASK and the forwarding methods under it */
export const IP_VS_CONN_F_FWD_MASK = 0x0007
export const IP_VS_CONN_F = { MASQ: 0x0000, LOCALNODE: 0x0001, TUNNEL: 0x0002, DROUTE: 0x0003, BYPASS: 0x0004 } as const

/** sizeof(struct ip_vs_flags): u32 flags, u32 mask */
export const IP_VS_FLAGS_SIZE = 8
/** sizeof(union nf_inet_addr) */
export const NF_INET_ADDR_SIZE = 16

/** libnetwork's round robin */
export const ROUND_ROBIN = "rr"

const FORWARDS: ReadonlyArray<readonly [number, IpvsForward]> = [
  [IP_VS_CONN_F.MASQ, "nat"],
  [IP_VS_CONN_F.LOCALNODE, "local"],
  [IP_VS_CONN_F.TUNNEL, "tunnel"],
  [IP_VS_CONN_F.DROUTE, "route"],
  [IP_VS_CONN_F.BYPASS, "bypass"],
]

const header = (command: number): Buffer => genlmsghdr(command, IPVS_GENL_VERSION)

/** an IPv4 address as union nf_inet_addr */
const inetAddr = (address: string): Buffer => {
  const out = Buffer.alloc(NF_INET_ADDR_SIZE)
  ipv4Bytes(address).copy(out, 0)
  return out
}

/** struct ip_vs_flags: these flags, every bit of them meant (mask all ones) */
const flagsValue = (flags: number): Buffer => {
  const b = Buffer.alloc(IP_VS_FLAGS_SIZE)
  b.writeUInt32LE(flags >>> 0, 0)
  b.writeUInt32LE(0xffffffff, 4)
  return b
}

/** what identifies a fwmark service (all DEL_SERVICE, NEW_DEST, DEL_DEST and the dest dump need) */
const serviceId = (fwmark: number): Buffer[] => [attrU16(IPVS_SVC_ATTR.AF, AF_INET), attrU32(IPVS_SVC_ATTR.FWMARK, fwmark)]

/** IPVS_CMD_NEW_SERVICE: a fwmark service, round robin, no persistence, no flags (libnetwork's) */
export const newServiceBody = (service: Pick<IpvsService, "fwmark">): Buffer[] => [
  header(IPVS_CMD.NEW_SERVICE),
  attrNested(IPVS_CMD_ATTR.SERVICE, [
    ...serviceId(service.fwmark),
    attrString(IPVS_SVC_ATTR.SCHED_NAME, ROUND_ROBIN),
    attr(IPVS_SVC_ATTR.FLAGS, flagsValue(0)),
    attrU32(IPVS_SVC_ATTR.TIMEOUT, 0),
    // the persistence netmask, network order; all ones as libnetwork sends it (unused without persistence)
    attr(IPVS_SVC_ATTR.NETMASK, Buffer.from([0xff, 0xff, 0xff, 0xff])),
  ]),
]

/** IPVS_CMD_DEL_SERVICE: the service and its destinations */
export const delServiceBody = (fwmark: number): Buffer[] => [header(IPVS_CMD.DEL_SERVICE), attrNested(IPVS_CMD_ATTR.SERVICE, serviceId(fwmark))]

const destinationId = (destination: IpvsDestination): Buffer[] => [
  attr(IPVS_DEST_ATTR.ADDR, inetAddr(destination.address)),
  attrBe16(IPVS_DEST_ATTR.PORT, destination.port),
]

/** IPVS_CMD_NEW_DEST: a destination of the service, NAT forwarding, weight 1, no thresholds */
export const newDestBody = (fwmark: number, destination: IpvsDestination): Buffer[] => [
  header(IPVS_CMD.NEW_DEST),
  attrNested(IPVS_CMD_ATTR.SERVICE, serviceId(fwmark)),
  attrNested(IPVS_CMD_ATTR.DEST, [
    ...destinationId(destination),
    attrU32(IPVS_DEST_ATTR.FWD_METHOD, IP_VS_CONN_F.MASQ),
    attrU32(IPVS_DEST_ATTR.WEIGHT, 1),
    attrU32(IPVS_DEST_ATTR.U_THRESH, 0),
    attrU32(IPVS_DEST_ATTR.L_THRESH, 0),
    attrU16(IPVS_DEST_ATTR.ADDR_FAMILY, AF_INET),
  ]),
]

/**
 * The requests that make a service with its destinations, in the order they are sent: the service,
 * then its destinations last first. The kernel puts each new destination at the head of the
 * service's list (__ip_vs_update_dest: list_add_rcu) and round robin starts at the head
 * (ip_vs_rr_init_svc, ip_vs_rr_schedule), so the first of `destinations` takes the first turn and
 * the others follow in order.
 */
export const newServiceRequests = (service: IpvsService): Buffer[][] => [
  newServiceBody(service),
  ...[...service.destinations].reverse().map((destination) => newDestBody(service.fwmark, destination)),
]

/** IPVS_CMD_DEL_DEST: identified by address and port */
export const delDestBody = (fwmark: number, destination: IpvsDestination): Buffer[] => [
  header(IPVS_CMD.DEL_DEST),
  attrNested(IPVS_CMD_ATTR.SERVICE, serviceId(fwmark)),
  attrNested(IPVS_CMD_ATTR.DEST, destinationId(destination)),
]

/** IPVS_CMD_GET_SERVICE with NLM_F_DUMP: every service of the namespace */
export const serviceDumpBody = (): Buffer[] => [header(IPVS_CMD.GET_SERVICE)]

/** IPVS_CMD_GET_DEST with NLM_F_DUMP: the destinations of one service, in its list's order */
export const destDumpBody = (fwmark: number): Buffer[] => [header(IPVS_CMD.GET_DEST), attrNested(IPVS_CMD_ATTR.SERVICE, serviceId(fwmark))]

/** one service of a dump (the kernel answers IPVS_CMD_NEW_SERVICE) */
export interface ServiceEntry {
  readonly af: number
  /** 0 for a service keyed by protocol, address and port instead */
  readonly fwmark: number
  readonly scheduler: string
  readonly flags: number
  readonly timeout: number
}

/** one destination of a dump (IPVS_CMD_NEW_DEST) */
export interface DestEntry extends IpvsDestination {
  readonly forward: IpvsForward
  readonly weight: number
}

/** the nest `type` of a dump message of `command`; undefined for anything else */
const nestOf = (payload: Buffer, command: number, type: number): Buffer | undefined => {
  if (payload.length < 4) return undefined
  const genl = parseGenl(payload)
  if (genl.command !== command) return undefined
  return genl.attrs.find(([t]) => t === type)?.[1]
}

export const parseServiceEntry = (payload: Buffer): ServiceEntry | undefined => {
  const nest = nestOf(payload, IPVS_CMD.NEW_SERVICE, IPVS_CMD_ATTR.SERVICE)
  if (nest === undefined) return undefined
  const attrs = parseAttrs(nest)
  const af = readU16(attrs.get(IPVS_SVC_ATTR.AF))
  const flags = attrs.get(IPVS_SVC_ATTR.FLAGS)
  if (af === undefined) return undefined
  return {
    af,
    fwmark: readU32(attrs.get(IPVS_SVC_ATTR.FWMARK)) ?? 0,
    scheduler: readString(attrs.get(IPVS_SVC_ATTR.SCHED_NAME)) ?? "",
    flags: flags !== undefined && flags.length >= IP_VS_FLAGS_SIZE ? flags.readUInt32LE(0) : 0,
    timeout: readU32(attrs.get(IPVS_SVC_ATTR.TIMEOUT)) ?? 0,
  }
}

export const parseDestEntry = (payload: Buffer): DestEntry | undefined => {
  const nest = nestOf(payload, IPVS_CMD.NEW_DEST, IPVS_CMD_ATTR.DEST)
  if (nest === undefined) return undefined
  const attrs = parseAttrs(nest)
  const address = attrs.get(IPVS_DEST_ATTR.ADDR)
  const port = readBe16(attrs.get(IPVS_DEST_ATTR.PORT))
  const method = readU32(attrs.get(IPVS_DEST_ATTR.FWD_METHOD))
  if (address === undefined || address.length < 4 || port === undefined || method === undefined) return undefined
  const forward = FORWARDS.find(([value]) => value === (method & IP_VS_CONN_F_FWD_MASK))?.[1]
  if (forward === undefined) return undefined
  return {
    address: `${address[0]}.${address[1]}.${address[2]}.${address[3]}`,
    port,
    forward,
    weight: readU32(attrs.get(IPVS_DEST_ATTR.WEIGHT)) ?? 0,
  }
}
