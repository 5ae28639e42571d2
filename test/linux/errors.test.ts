import { describe, expect, it } from "vitest"
import { errnoReasons, kernelError } from "../../backends/KernelError.ts"
import type { KernelOp } from "../../backends/kernel-types.ts"
import { errnoName } from "../../backends/linux/errno.ts"
import { toKernelError } from "../../backends/linux/errors.ts"
import { NetlinkRefusal } from "../../backends/linux/netlink/channel.ts"

const op: KernelOp = { op: "linkDel", ns: "cnm-x", name: "eth0" }

/** Pure tier: every way a refusal reaches the backend maps to the same reason. */
describe("toKernelError: the one errno -> KernelReason mapping", () => {
  it("maps netlink@0.3.0's bare strings by the errno they name", () => {
    for (const [errno, reason] of Object.entries(errnoReasons)) {
      const e = toKernelError(new Error(`Request rejected: ${errno}`), op)
      expect(e.reason).toBe(reason)
      expect(e.errno).toBe(errno)
      expect(e.op).toBe(op)
    }
    expect(toKernelError("Request rejected: EINVAL").reason).toBe("InvalidArgument")
  })

  it("maps our own netlink refusals (errno numbers) and keeps the kernel's sentence", () => {
    const refusal = new NetlinkRefusal(95, "Unknown device type", "create dummy d0")
    expect(refusal.code).toBe("EOPNOTSUPP")
    const e = toKernelError(refusal, op)
    expect(e.reason).toBe("NotSupported")
    expect(e.detail).toContain("Unknown device type")
    expect(toKernelError(new NetlinkRefusal(17, undefined, "x")).reason).toBe("AlreadyExists")
    expect(toKernelError(new NetlinkRefusal(19, undefined, "x")).reason).toBe("NoSuchDevice")
    expect(toKernelError(new NetlinkRefusal(3, undefined, "x")).reason).toBe("NotFound")
  })

  it("maps Node and addon syscall errors through their code", () => {
    const fsError = Object.assign(new Error("open /run/netns/cnm-x: no such file"), { code: "ENOENT", errno: -2 })
    expect(toKernelError(fsError).reason).toBe("NotFound")
    expect(toKernelError(Object.assign(new Error("boom"), { code: "EPERM" })).reason).toBe("PermissionDenied")
  })

  it("says Unknown (with the text) for anything without an errno, and keeps KernelErrors", () => {
    const e = toKernelError(new Error("something odd"))
    expect(e.reason).toBe("Unknown")
    expect(e.detail).toBe("something odd")
    const original = kernelError("Busy", "in use")
    expect(toKernelError(original)).toBe(original)
    expect(toKernelError(original, op).op).toBe(op)
  })

  it("names errno numbers as Linux does", () => {
    expect(errnoName(17)).toBe("EEXIST")
    expect(errnoName(95)).toBe("EOPNOTSUPP")
    expect(errnoName(11)).toBe("EAGAIN")
    expect(errnoName(100000)).toBe("E100000")
  })
})
