import { IPVS_SYSCTLS, type IpvsService, type IpvsServiceState } from "../ipvs-types.ts"
import { formatIpv4, parseIpv4 } from "./ipv4.ts"
import type { SimNamespace } from "./state.ts"
import { rememberSysctl } from "./sysctl.ts"
import type { Packet } from "./walk.ts"

/**
 * IP virtual server as the simulated kernel holds and runs it (where Capabilities.ipvs is set):
 * fwmark services, round robin, NAT destinations, the kernel state the firewall's IPVS form
 * (ipvs-form.ts) makes. What ip_vs does with a packet, after ip_vs_core.c and ip_vs_rr.c:
 * - in LOCAL_IN (ip_vs_remote_request4, after the filter input chains), a packet of a new TCP or
 *   UDP connection whose mark is a service's is given to the destination whose turn it is; ICMP is
 *   no connection, so an echo is the namespace's own to answer and takes no turn;
 * - round robin starts at the head of the list (the first destination) and moves one on per
 *   connection; a destination port of 0 keeps the port the connection was made to;
 * - NAT forwarding rewrites the destination, and with net.ipv4.vs.conntrack the conntrack entry's
 *   reply with it (ip_vs_update_conntrack), so the answer is translated back by conntrack; the
 *   packet then leaves through LOCAL_OUT and POSTROUTING (ip_vs_nat_send_or_cont), where the nat
 *   chains that have not yet seen the connection (postrouting's SNAT) still apply.
 * Not modeled: connections the namespace makes to its own balanced addresses (Linux would give
 * them to IPVS too, marked on their way in through lo; no balancer sandbox of cnmlab makes any),
 * and IPVS's place before the nat input chains (a connection IPVS takes is not seen by them in
 * Linux; here they run first, and no table of cnmlab's has one).
 */

/** one destination as the kernel's list holds it */
export class SimIpvsDestination {
  constructor(
    readonly address: number,
    /** 0: the port the connection was made to */
    readonly port: number,
  ) {}
}

export class SimIpvsService {
  /** the index of the destination whose turn is next (ip_vs_rr's sched_data) */
  next = 0

  constructor(
    readonly fwmark: number,
    /** in the kernel's list order, head first: the order round robin takes them in */
    readonly destinations: ReadonlyArray<SimIpvsDestination>,
  ) {}
}

/**
 * A service with its destinations (IPVS_CMD_NEW_SERVICE, then NEW_DEST for each); the first
 * service of a namespace writes libnetwork's IPVS sysctls there first, as the linux backend does.
 * The caller has checked the addresses (the table's compilation) and that the mark is free.
 */
export const ipvsAdd = (ns: SimNamespace, service: IpvsService): void => {
  if (ns.ipvs === undefined) {
    for (const [key, value] of IPVS_SYSCTLS) rememberSysctl(ns, key, value)
    ns.ipvs = new Map()
  }
  const destinations = service.destinations.map((d) => new SimIpvsDestination(parseIpv4(d.address), d.port))
  ns.ipvs.set(service.fwmark, new SimIpvsService(service.fwmark, destinations))
}

/** IPVS_CMD_DEL_SERVICE: the service with its destinations */
export const ipvsDelete = (ns: SimNamespace, fwmark: number): void => {
  ns.ipvs?.delete(fwmark)
}

/** the fwmark services, by mark, as a dump shows them: round robin, NAT, weight 1 */
export const readIpvs = (ns: SimNamespace): IpvsServiceState[] | undefined => {
  if (ns.ipvs === undefined || ns.ipvs.size === 0) return undefined
  return [...ns.ipvs.values()]
    .sort((a, b) => a.fwmark - b.fwmark)
    .map((service) => ({
      fwmark: service.fwmark,
      scheduler: "rr",
      destinations: service.destinations.map((d) => ({ address: formatIpv4(d.address), port: d.port, forward: "nat" as const, weight: 1 })),
    }))
}

/** the destination IPVS gives `packet`, arrived for a local address in LOCAL_IN; undefined: it is not IPVS's */
export const ipvsSchedule = (ns: SimNamespace, packet: Packet): { readonly address: number; readonly port: number } | undefined => {
  if (ns.ipvs === undefined || packet.reply || packet.error || packet.ct !== "new") return undefined
  if (packet.proto !== "tcp" && packet.proto !== "udp") return undefined
  const service = ns.ipvs.get(packet.mark)
  if (service === undefined || service.destinations.length === 0) return undefined
  const destination = service.destinations[service.next % service.destinations.length] as SimIpvsDestination
  service.next = (service.next + 1) % service.destinations.length
  return { address: destination.address, port: destination.port === 0 ? packet.dport : destination.port }
}
