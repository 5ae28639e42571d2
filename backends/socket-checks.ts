import { type KernelError, kernelError } from "./KernelError.ts"
import type { ConnectSpec, ListenSpec, ProxySpec, SocketRef } from "./kernel-types.ts"

/**
 * The input checks of the socket operations, the same on both backends: what cnmlab refuses
 * before any socket is made (Linux would take port 0 as "any free port", which a caller could not
 * name afterwards).
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

const invalid = (detail: string): KernelError => kernelError("InvalidArgument", detail, undefined, "EINVAL")

const checkPort = (port: number, what: string): KernelError | undefined =>
  Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : invalid(`${what}: port ${port} is not 1-65535`)

const checkAddress = (address: string, what: string): KernelError | undefined =>
  IPV4.test(address) ? undefined : invalid(`${what}: "${address}" is not an IPv4 address`)

const checkProto = (proto: string, what: string): KernelError | undefined =>
  proto === "tcp" || proto === "udp" ? undefined : invalid(`${what}: protocol "${proto}" is not tcp or udp`)

/** the address a socket is bound to: 0.0.0.0 (any address of its namespace) when none is given */
export const boundAddress = (socket: SocketRef): string => socket.address ?? "0.0.0.0"

export const checkSocketRef = (socket: SocketRef, what = "socket"): KernelError | undefined =>
  checkProto(socket.proto, what) ?? checkPort(socket.port, what) ?? checkAddress(boundAddress(socket), what)

export const checkListen = (spec: ListenSpec): KernelError | undefined =>
  checkSocketRef(spec, "listen") ?? (spec.answer.length === 0 ? invalid("listen: an empty answer") : undefined)

export const checkProxy = (spec: ProxySpec): KernelError | undefined =>
  checkSocketRef(spec, "proxy") ?? checkAddress(spec.to.address, "proxy target") ?? checkPort(spec.to.port, "proxy target")

export const checkConnect = (spec: ConnectSpec): KernelError | undefined =>
  checkProto(spec.proto, "connect") ?? checkPort(spec.port, "connect") ?? checkAddress(spec.address, "connect")
