import { Data } from "effect"
import type { KernelOp } from "./kernel-types.ts"

/**
 * Why the kernel refused. A closed set, the same on every backend: the simulator refuses with the
 * reason Linux would give, and the linux backend maps errno to it in exactly one function.
 */
export type KernelReason =
  | "AlreadyExists" // EEXIST
  | "NoSuchDevice" // ENODEV: no link of that name/index
  | "NotFound" // ENOENT / ESRCH: no such address, route, neighbour, namespace
  | "Busy" // EBUSY
  | "InvalidArgument" // EINVAL
  | "NotSupported" // EOPNOTSUPP
  | "NetworkUnreachable" // ENETUNREACH: gateway not on-link
  | "NotConnected" // ENOTCONN
  | "PermissionDenied" // EPERM / EACCES
  | "NoBufferSpace" // ENOBUFS
  | "Full" // EXFULL: a bridge holds 1,023 ports
  | "TimedOut" // ETIMEDOUT: the kernel did not finish in time (linux only: see backends/linux/README.md)
  | "Unknown"

export const errnoReasons: Readonly<Record<string, KernelReason>> = {
  EEXIST: "AlreadyExists",
  ENODEV: "NoSuchDevice",
  ENOENT: "NotFound",
  ESRCH: "NotFound",
  EADDRNOTAVAIL: "NotFound",
  // a namespace name that now stands for another namespace than the one asked for
  ESTALE: "NotFound",
  EBUSY: "Busy",
  EINVAL: "InvalidArgument",
  EOPNOTSUPP: "NotSupported",
  ENOTSUP: "NotSupported",
  // xfrm: an ESP state whose AEAD the kernel lacks ("Requested AEAD algorithm not found"), or
  // whose protocol it lacks ("Requested type not found"): what a kernel without ESP says
  ENOSYS: "NotSupported",
  EPROTONOSUPPORT: "NotSupported",
  ENETUNREACH: "NetworkUnreachable",
  // a route whose device is administratively down (Linux: "Device for nexthop is not up")
  ENETDOWN: "NetworkUnreachable",
  // a netlink attribute out of policy range, e.g. a link name longer than 15 bytes
  ERANGE: "InvalidArgument",
  EADDRINUSE: "Busy",
  ENOTCONN: "NotConnected",
  EPERM: "PermissionDenied",
  EACCES: "PermissionDenied",
  ENOBUFS: "NoBufferSpace",
  EXFULL: "Full",
  ETIMEDOUT: "TimedOut",
}

export class KernelError extends Data.TaggedError("KernelError")<{
  readonly reason: KernelReason
  /** the errno name as the kernel said it ("EEXIST"), when there was one */
  readonly errno?: string
  /** the operation that was refused */
  readonly op?: KernelOp
  readonly detail: string
}> {
  override get message(): string {
    const what = this.op ? `${this.op.op} in ${this.op.ns}` : "kernel"
    return `${what}: ${this.reason}${this.errno ? ` (${this.errno})` : ""}: ${this.detail}`
  }
}

export const kernelError = (reason: KernelReason, detail: string, op?: KernelOp, errno?: string): KernelError =>
  new KernelError({ reason, detail, ...(op ? { op } : {}), ...(errno ? { errno } : {}) })
