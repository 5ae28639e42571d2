import { createSocket, type Socket } from "node:dgram"
import type { NetnsAddon } from "../addon.ts"
import type { NamespaceRef } from "./protocol.ts"

/**
 * A Node dgram socket around a datagram socket the addon made inside the namespace `at` (the
 * addon enters it on the calling thread and comes back). dgram's bind({ fd }) adopts the
 * descriptor (libuv sees SOCK_DGRAM over AF_INET, so an ICMP "ping" socket qualifies too); the
 * namespace was fixed when socket() was called, and nothing dgram does later can move it.
 */
export const socketIn = (
  native: NetnsAddon,
  at: NamespaceRef,
  kind: "udp" | "icmp",
  bind?: { readonly address: string; readonly port: number },
  /** a socket the addon already made and bound in `at` (so its refusal was thrown before) */
  made?: number,
): Promise<Socket> => {
  const fd = made ?? native.openInetSocket(at.path, kind, bind?.address ?? null, bind?.port ?? 0, false, at.inode)
  const socket = createSocket("udp4")
  return new Promise((resolve, reject) => {
    const failed = (error: Error): void => {
      try {
        native.closeFd(fd)
      } catch {
        // dgram may already own and have closed it
      }
      reject(error)
    }
    socket.once("error", failed)
    socket.bind({ fd }, () => {
      socket.off("error", failed)
      resolve(socket)
    })
  })
}
