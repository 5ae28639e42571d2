import { boundAddress } from "../socket-checks.ts"
import type { Proto, SocketRef } from "../kernel-types.ts"
import { isLocalAddress } from "./addresses.ts"
import { formatIpv4, INVALID, isLoopbackAddress, parseIpv4 } from "./ipv4.ts"
import { namespaceOf, noNamespace, type Outcome, refuse } from "./refusal.ts"
import type { SimMachine, SimNamespace, SimSocket } from "./state.ts"

/**
 * Bound sockets: servers and docker-proxies. bind() as Linux does it: a local address (whatever
 * the state of its link) or any 127/8 address, else EADDRNOTAVAIL; one port and protocol is held
 * once per address, and 0.0.0.0 holds it on all of them (EADDRINUSE; the DNS server on udp/53
 * counts). Delivery prefers the socket bound to the very address over the one bound to any.
 */

export const FIRST_EPHEMERAL_PORT = 32768
const LAST_EPHEMERAL_PORT = 60999
const ANY = 0
const DNS_PORT = 53

/** the next ephemeral source port, as connect() takes one */
export const ephemeralPort = (machine: SimMachine): number => {
  const port = machine.nextPort
  machine.nextPort = port >= LAST_EPHEMERAL_PORT ? FIRST_EPHEMERAL_PORT : port + 1
  return port
}

const overlaps = (a: number, b: number): boolean => a === b || a === ANY || b === ANY

const inUse = (ns: SimNamespace, proto: Proto, bound: number, port: number): boolean => {
  if (proto === "udp" && port === DNS_PORT) for (const dnsBound of ns.dns?.keys() ?? []) if (overlaps(dnsBound, bound)) return true
  return ns.sockets?.some((s) => s.proto === proto && s.port === port && overlaps(s.bound, bound)) === true
}

/** binds a socket described by `ref` and serving `serve` */
export const bindSocket = (machine: SimMachine, ref: SocketRef, serve: SimSocket["serve"]): Outcome => {
  const ns = namespaceOf(machine, ref.ns)
  if (ns === undefined) return noNamespace(undefined, ref.ns)
  const address = boundAddress(ref)
  const bound = address === "0.0.0.0" ? ANY : parseIpv4(address)
  if (bound === INVALID) return refuse(undefined, "EINVAL", `invalid address "${address}"`)
  if (bound !== ANY && !isLoopbackAddress(bound) && !isLocalAddress(ns, bound)) {
    return refuse(undefined, "EADDRNOTAVAIL", `${address} is not an address of namespace "${ref.ns}"`)
  }
  if (inUse(ns, ref.proto, bound, ref.port)) {
    return refuse(undefined, "EADDRINUSE", `${address}:${ref.port}/${ref.proto} is already bound in "${ref.ns}"`)
  }
  const socket: SimSocket = { proto: ref.proto, bound, port: ref.port, serve }
  if (ns.sockets === undefined) ns.sockets = [socket]
  else ns.sockets.push(socket)
  return undefined
}

/** closes the socket `ref` names, when it serves `kind` */
export const closeSocket = (machine: SimMachine, ref: SocketRef, kind: SimSocket["serve"]["kind"]): Outcome => {
  const ns = namespaceOf(machine, ref.ns)
  if (ns === undefined) return noNamespace(undefined, ref.ns)
  const bound = parseIpv4(boundAddress(ref))
  const at = ns.sockets?.findIndex((s) => s.proto === ref.proto && s.port === ref.port && s.bound === bound && s.serve.kind === kind) ?? -1
  if (at < 0) return refuse(undefined, "ENOENT", `no ${kind} socket ${formatIpv4(bound)}:${ref.port}/${ref.proto} in "${ref.ns}"`)
  ns.sockets?.splice(at, 1)
  return undefined
}

/** the socket a datagram or connection to address:port is delivered to: the exact address first */
export const socketFor = (ns: SimNamespace, proto: Proto, address: number, port: number): SimSocket | undefined => {
  let any: SimSocket | undefined
  for (const socket of ns.sockets ?? []) {
    if (socket.proto !== proto || socket.port !== port) continue
    if (socket.bound === address) return socket
    if (socket.bound === ANY) any = socket
  }
  return any
}
