import { createSocket, type Socket } from "node:dgram"

/**
 * A Node dgram socket around a datagram socket the control plane created inside a namespace.
 * dgram's bind({ fd }) adopts an existing descriptor (libuv sees SOCK_DGRAM over AF_INET, so an
 * ICMP "ping" socket qualifies too). The namespace was fixed when the addon called socket();
 * nothing dgram does later (lookups, sends) can move it. The socket owns the descriptor from here.
 */
export const adopt = (fd: number): Promise<Socket> => {
  const socket = createSocket("udp4")
  return new Promise((resolve, reject) => {
    socket.once("error", reject)
    socket.bind({ fd }, () => {
      socket.off("error", reject)
      resolve(socket)
    })
  })
}
