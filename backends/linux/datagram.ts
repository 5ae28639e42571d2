import { createSocket, type Socket } from "node:dgram"
import type { NetnsAddon } from "./addon.ts"

/**
 * A Node dgram socket around a datagram socket the addon created inside a namespace. dgram's
 * bind({ fd }) adopts an existing descriptor (libuv sees SOCK_DGRAM over AF_INET, so an ICMP
 * "ping" socket qualifies too). The namespace was fixed when the addon called socket(); nothing
 * dgram does later (lookups, sends) can move it.
 */
export const adoptDatagram = (
  native: NetnsAddon,
  nsPath: string,
  kind: "udp" | "icmp",
  bind?: { readonly address: string; readonly port: number; readonly freebind?: boolean },
): Promise<Socket> => {
  const fd = native.openInetSocket(nsPath, kind, bind?.address ?? null, bind?.port ?? 0, bind?.freebind ?? false)
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
