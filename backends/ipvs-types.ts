/**
 * IP virtual server as both backends use it to carry out a dnatBalance rule where the kernel has
 * ip_vs (Capabilities.ipvs): what libnetwork 20.10 makes for a service VIP (service_linux.go
 * addLBBackend, invokeFWMarker), a service keyed by firewall mark, round robin, whose destinations
 * the connections are NATed to. Data only: the form a table takes is ipvs-form.ts; the linux
 * backend's operations are linux/ipvs.ts (the bytes linux/netlink/ipvs-wire.ts), the simulator's
 * sim/ipvs.ts.
 */

/** a real server of a service: where a connection it is given goes */
export interface IpvsDestination {
  /** plain IPv4 address */
  readonly address: string
  /** the destination port; 0 keeps the port the connection was made to */
  readonly port: number
}

/**
 * A virtual service matched by firewall mark (IPVS_SVC_ATTR_FWMARK): every packet of a new
 * connection that arrives for a local address with this mark (any protocol IPVS schedules: TCP,
 * UDP, SCTP) is given to the next destination in turn. Scheduler round robin ("rr"), forwarding
 * by NAT (IP_VS_CONN_F_MASQ), IPv4: all that libnetwork sets, so none of it is a field.
 */
export interface IpvsService {
  readonly fwmark: number
  /** in the order they take their turns: the first new connection goes to the first */
  readonly destinations: ReadonlyArray<IpvsDestination>
}

/** how a destination is reached (IP_VS_CONN_F_FWD_MASK): "nat" is IP_VS_CONN_F_MASQ, the one cnmlab uses */
export type IpvsForward = "nat" | "local" | "tunnel" | "route" | "bypass"

/** a fwmark service as the kernel holds it (a dump) */
export interface IpvsServiceState {
  readonly fwmark: number
  readonly scheduler: string
  readonly destinations: ReadonlyArray<IpvsDestination & { readonly forward: IpvsForward; readonly weight: number }>
}

/** what the firewall asks of IPVS in a namespace of ours (ipvs.ts: IpvsServices, over generic netlink) */
export interface IpvsControl {
  /** a service and its destinations, all or nothing */
  add(ns: string, service: IpvsService): void
  /** a service with its destinations; the kernel refuses one that is not there (ESRCH) */
  delete(ns: string, fwmark: number): void
  /** delete, when the caller already has a failure to report */
  deleteQuietly(ns: string, fwmark: number): void
  /** every IPv4 fwmark service with its destinations, in the kernel's order */
  read(ns: string): IpvsServiceState[]
}

/**
 * What libnetwork 20.10 writes in a namespace whose IPVS it uses, before the first service there:
 * `net.ipv4.vs.conntrack` with the load balancer's SNAT rule (service_linux.go), so the nat rules
 * around a balancer see its connections; and the load-balancer and ingress sandboxes' tweaks
 * (osl/namespace_linux.go ApplyOSTweaks, written when the sandbox is made and again after each
 * destination is added): reused ports take no special path, connections to a deleted destination
 * and persistence templates of a quiesced one expire. The files exist only where ip_vs is loaded.
 */
export const IPVS_SYSCTLS: ReadonlyArray<readonly [key: string, value: string]> = [
  ["net.ipv4.vs.conntrack", "1"],
  ["net.ipv4.vs.conn_reuse_mode", "0"],
  ["net.ipv4.vs.expire_nodest_conn", "1"],
  ["net.ipv4.vs.expire_quiescent_template", "1"],
]
