import type { ProxySpec } from "../../backends/kernel-types.ts"
import type { PublishedPort } from "../Driver.ts"

/**
 * The docker-proxy processes dockerd starts for published ports (userland-proxy on, Docker
 * 20.10's default), one per port, in the host's namespace: `docker-proxy -proto P -host-ip H
 * -host-port N -container-ip C -container-port M`. They answer what the nat rules do not rewrite:
 * connections from the host to 127.0.0.1 and from containers on a bridge to the host's addresses.
 * Sockets, not firewall rules, so the caller starts them with Kernel.proxy (and stops them with
 * unproxy) next to the driver's steps.
 */
export const dockerProxies = (hostNs: string, published: ReadonlyArray<PublishedPort>): ReadonlyArray<ProxySpec> =>
  published.map((port) => ({
    ns: hostNs,
    address: port.hostIp === "" ? "0.0.0.0" : port.hostIp,
    port: port.hostPort,
    proto: port.proto,
    to: { address: port.containerAddress, port: port.containerPort },
  }))
