/**
 * `docker run -p` specs as Docker 20.10 reads them (go-connections nat.ParsePortSpec, which the
 * CLI calls before anything reaches the daemon): `8080:80`, `80`, `127.0.0.1:5353:53/udp`,
 * `127.0.0.1::80`, `8080-8082:80-82`, `8080-8090:80`. A spec Docker refuses gets Docker's own
 * sentence (with the CLI's closing period), so a reader can compare it with what Docker printed.
 * Pure: no I/O, nothing allocated here (host ports are the publisher's, model/ports.ts).
 */
import { isIPv6 } from "node:net"
import { parseIPv4 } from "./cidr.ts"

export const portProtocols = ["tcp", "udp", "sctp"] as const
export type PortProtocol = (typeof portProtocols)[number]

/** inclusive; one port is a range of one */
export interface PortRange {
  readonly start: number
  readonly end: number
}

/** one container port to publish, as ParsePortSpec gives it (a nat.PortBinding with its port) */
export interface PortMapping {
  /** "" publishes on every host address (0.0.0.0) */
  readonly hostIp: string
  /**
   * absent: an ephemeral port; a range with one container port: the first free port in it
   * (Docker's dynamic host range); `0` is Docker's way of writing "ephemeral" too
   */
  readonly hostPorts?: PortRange
  readonly containerPort: number
  readonly proto: PortProtocol
}

export type PortSpecParse =
  | { readonly ok: true; readonly mappings: ReadonlyArray<PortMapping> }
  | { readonly ok: false; readonly message: string }

const refuse = (message: string): PortSpecParse => ({ ok: false, message: `${message}.` })

/** Go's strconv.ParseUint(text, 10, 16): decimal digits only, at most 65535 */
const parseUint16 = (text: string): number | undefined => {
  if (!/^[0-9]+$/.test(text)) return undefined
  const value = Number(text)
  return value <= 65535 ? value : undefined
}

/**
 * nat.ParsePortRange: `N` or `A-B` with A ≤ B. Like Go's strings.Split it reads only the first
 * two fields of `A-B-C`, so `80-81-99` is 80-81 there too.
 */
const parsePortRange = (text: string): PortRange | undefined => {
  if (!text.includes("-")) {
    const port = parseUint16(text)
    return port === undefined ? undefined : { start: port, end: port }
  }
  const [first = "", second = ""] = text.split("-")
  const start = parseUint16(first)
  const end = parseUint16(second)
  if (start === undefined || end === undefined || end < start) return undefined
  return { start, end }
}

/** splitParts: the last field is the container side, the one before the host port, the rest the host IP */
const splitParts = (spec: string): { rawIp: string; hostPort: string; containerPart: string } => {
  const parts = spec.split(":")
  const containerPart = parts.at(-1) ?? ""
  if (parts.length === 1) return { rawIp: "", hostPort: "", containerPart }
  if (parts.length === 2) return { rawIp: "", hostPort: parts[0] ?? "", containerPart }
  return { rawIp: parts.slice(0, -2).join(":"), hostPort: parts.at(-2) ?? "", containerPart }
}

/** nat.SplitProtoPort: `80` → tcp, `80/` → tcp, `/udp` → nothing at all */
const splitProtoPort = (text: string): { proto: string; port: string } => {
  const parts = text.split("/")
  if (text === "" || (parts[0] ?? "") === "") return { proto: "", port: "" }
  if (parts.length === 1 || (parts[1] ?? "") === "") return { proto: "tcp", port: parts[0] ?? "" }
  return { proto: parts[1] ?? "", port: parts[0] ?? "" }
}

/**
 * Go's net.SplitHostPort(rawIp + ":"), keeping the host: brackets are stripped, and a bare host
 * with a colon is refused ("too many colons"), as is a bracket that does not close.
 */
const hostOfRawIp = (rawIp: string): { ok: true; host: string } | { ok: false; reason: string } => {
  if (rawIp.startsWith("[")) {
    const close = rawIp.indexOf("]")
    if (close === -1) return { ok: false, reason: `address ${rawIp}: missing ']' in address` }
    if (close !== rawIp.length - 1) return { ok: false, reason: `address ${rawIp}:: too many colons in address` }
    return { ok: true, host: rawIp.slice(1, close) }
  }
  if (rawIp.includes("]")) return { ok: false, reason: `address ${rawIp}:: missing '[' in address` }
  if (rawIp.includes(":")) return { ok: false, reason: `address ${rawIp}:: too many colons in address` }
  return { ok: true, host: rawIp }
}

const isIpAddress = (text: string): boolean => parseIPv4(text) !== undefined || isIPv6(text)

const isProtocol = (text: string): text is PortProtocol => (portProtocols as ReadonlyArray<string>).includes(text)

/** one `-p` value → the mappings it asks for, in container-port order, or Docker's refusal */
export const parsePortSpec = (spec: string): PortSpecParse => {
  const { rawIp, hostPort, containerPart } = splitParts(spec)
  const { proto, port: containerPort } = splitProtoPort(containerPart)
  const host = hostOfRawIp(rawIp)
  if (!host.ok) return refuse(`Invalid ip address ${rawIp}: ${host.reason}`)
  if (host.host !== "" && !isIpAddress(host.host)) return refuse(`Invalid ip address: ${host.host}`)
  if (containerPort === "") return refuse(`No port specified: ${spec}<empty>`)
  const containerPorts = parsePortRange(containerPort)
  if (containerPorts === undefined) return refuse(`Invalid containerPort: ${containerPort}`)
  const hostPorts = hostPort === "" ? undefined : parsePortRange(hostPort)
  if (hostPort !== "" && hostPorts === undefined) return refuse(`Invalid hostPort: ${hostPort}`)
  const containerWidth = containerPorts.end - containerPorts.start
  if (hostPorts !== undefined && hostPorts.end - hostPorts.start !== containerWidth && containerWidth !== 0) {
    return refuse(`Invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`)
  }
  const protocol = proto.toLowerCase()
  if (!isProtocol(protocol)) return refuse(`Invalid proto: ${proto}`)
  const mappings: Array<PortMapping> = []
  for (let offset = 0; offset <= containerWidth; offset++) {
    const ports =
      hostPorts === undefined
        ? undefined
        : containerWidth === 0
          ? hostPorts
          : { start: hostPorts.start + offset, end: hostPorts.start + offset }
    mappings.push({ hostIp: host.host, ...(ports !== undefined && { hostPorts: ports }), containerPort: containerPorts.start + offset, proto: protocol })
  }
  return { ok: true, mappings }
}

const renderRange = (range: PortRange): string => (range.start === range.end ? `${range.start}` : `${range.start}-${range.end}`)

/** one mapping as a `-p` value that parses back to exactly it */
export const renderPortMapping = (mapping: PortMapping): string => {
  const target = `${mapping.containerPort}/${mapping.proto}`
  const hostSide = mapping.hostPorts === undefined ? "" : renderRange(mapping.hostPorts)
  if (mapping.hostIp === "") return mapping.hostPorts === undefined ? target : `${hostSide}:${target}`
  const ip = isIPv6(mapping.hostIp) ? `[${mapping.hostIp}]` : mapping.hostIp
  return `${ip}:${hostSide}:${target}`
}

/** what a container serves: `80/tcp`, `53/udp`, `80` (tcp) */
export interface ListenSpec {
  readonly port: number
  readonly proto: PortProtocol
}

export type ListenParse = { readonly ok: true; readonly listen: ListenSpec } | { readonly ok: false; readonly message: string }

/** a `listen` entry: a port and a protocol as the container side of a `-p` spec, one port only */
export const parseListenSpec = (spec: string): ListenParse => {
  const { proto, port } = splitProtoPort(spec)
  const number = parseUint16(port)
  if (number === undefined || number === 0) return { ok: false, message: `"${spec}" is not a port such as 80/tcp or 53/udp` }
  const protocol = proto.toLowerCase()
  if (!isProtocol(protocol)) return { ok: false, message: `"${spec}": the protocol must be tcp, udp or sctp` }
  return { ok: true, listen: { port: number, proto: protocol } }
}
