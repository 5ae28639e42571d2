import { errnoReasons, KernelError, kernelError, type KernelReason } from "../KernelError.ts"
import type { KernelOp } from "../kernel-types.ts"

/**
 * The one place where whatever the kernel (or a syscall, or nft) said becomes a KernelError.
 * Accepts: a KernelError (kept), anything with an errno name in `code` (our netlink refusals,
 * the addon's syscall errors, Node's fs/dgram errors), and bare strings in netlink@0.3.0's
 * style ("Request rejected: EINVAL"). Anything else is "Unknown" with its message as detail.
 */
export const toKernelError = (cause: unknown, op?: KernelOp): KernelError => {
  if (cause instanceof KernelError) return cause.op || !op ? cause : kernelError(cause.reason, cause.detail, op, cause.errno)
  const errno = errnoNameIn(cause)
  const reason: KernelReason = errno ? (errnoReasons[errno] ?? "Unknown") : "Unknown"
  return kernelError(reason, messageOf(cause), op, errno)
}

const ERRNO_IN_TEXT = /\b(E[A-Z][A-Z0-9]+)\b/

const errnoNameIn = (cause: unknown): string | undefined => {
  if (typeof cause === "object" && cause !== null) {
    const code = (cause as { code?: unknown }).code
    if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code
  }
  return ERRNO_IN_TEXT.exec(messageOf(cause))?.[1]
}

const messageOf = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "string") return cause
  return String(cause)
}
