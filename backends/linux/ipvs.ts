import type { NetnsAddon } from "./addon.ts"
import { IPVS_SYSCTLS, type IpvsControl, type IpvsService, type IpvsServiceState } from "../ipvs-types.ts"
import type { NamespaceTable } from "./namespaces.ts"
import { NetlinkChannel, NetlinkRefusal } from "./netlink/channel.ts"
import { familyIdOf, GENL_ID_CTRL, getFamilyBody, NETLINK_GENERIC } from "./netlink/genl-wire.ts"
import {
  delServiceBody,
  destDumpBody,
  IPVS_GENL_NAME,
  newServiceRequests,
  parseDestEntry,
  parseServiceEntry,
  serviceDumpBody,
} from "./netlink/ipvs-wire.ts"
import { AF_INET } from "./netlink/constants.ts"
import { sysctlWrite } from "./sysctl.ts"

/**
 * IPVS services inside a namespace of ours, over generic netlink. Like xfrm, a socket is opened
 * for the work and closed after it (a socket kept open would pin the namespace past its deletion).
 * Nothing here has run against a kernel with ip_vs: this one has none (backends/linux/README.md,
 * "Load balancing: numgen or IPVS").
 */

/** a generic netlink socket inside `nsPath` (null: our own namespace), for the length of `fn` */
const withGenl = <T>(native: NetnsAddon, nsPath: string | null, fn: (channel: NetlinkChannel) => T): T => {
  const channel = new NetlinkChannel(native, nsPath, NETLINK_GENERIC)
  try {
    return fn(channel)
  } finally {
    channel.close()
  }
}

/**
 * CTRL_CMD_GETFAMILY: the message type of a generic netlink family, or undefined when the kernel
 * has no such family (ENOENT). Asked by name, so on a kernel that can load modules, a family
 * that is a module not loaded yet gets loaded (the kernel asks modprobe for
 * net-pf-16-proto-16-family-<name>): the caller decides whether to ask.
 */
export const resolveFamily = (channel: NetlinkChannel, name: string): number | undefined => {
  try {
    const id = familyIdOf(channel.request(GENL_ID_CTRL, 0, getFamilyBody(name), `genl family ${name}`))
    if (id === undefined) throw new NetlinkRefusal(71 /* EPROTO */, "the controller's answer holds no family id", `genl family ${name}`)
    return id
  } catch (error) {
    if (error instanceof NetlinkRefusal && error.code === "ENOENT") return undefined
    throw error
  }
}

export const resolveFamilyIn = (native: NetnsAddon, nsPath: string | null, name: string): number | undefined =>
  withGenl(native, nsPath, (channel) => resolveFamily(channel, name))

/**
 * The IPVS services of our namespaces. The family's id is the kernel's, the same in every
 * namespace, so it is resolved once.
 */
export class IpvsServices implements IpvsControl {
  private family: number | undefined
  /** namespaces where libnetwork's IPVS sysctls have been written */
  private readonly tracked = new Set<string>()

  constructor(
    private readonly native: NetnsAddon,
    private readonly namespaces: NamespaceTable,
    /** told of each sysctl written, so the namespace's read shows it as one set through sysctlSet */
    private readonly onSysctl: (ns: string, key: string) => void = () => {},
  ) {
    namespaces.onBeforeDelete((ns) => this.tracked.delete(ns))
  }

  /** a service and its destinations, in the order newServiceRequests gives; a refusal midway deletes the service again */
  add(ns: string, service: IpvsService): void {
    this.withFamily(ns, (channel, family) => {
      this.sysctlsOn(ns)
      const [create, ...destinations] = newServiceRequests(service)
      channel.request(family, 0, create as Buffer[], `ipvs service fwmark ${service.fwmark}`)
      try {
        for (const body of destinations) channel.request(family, 0, body, `ipvs destination of fwmark ${service.fwmark}`)
      } catch (error) {
        channel.request(family, 0, delServiceBody(service.fwmark), `ipvs service fwmark ${service.fwmark} (taken back)`)
        throw error
      }
    })
  }

  /** a service with its destinations */
  delete(ns: string, fwmark: number): void {
    this.withFamily(ns, (channel, family) => channel.request(family, 0, delServiceBody(fwmark), `ipvs service fwmark ${fwmark} delete`))
  }

  deleteQuietly(ns: string, fwmark: number): void {
    try {
      this.delete(ns, fwmark)
    } catch {
      // see the caller
    }
  }

  read(ns: string): IpvsServiceState[] {
    return this.withFamily(ns, (channel, family) => {
      const services: IpvsServiceState[] = []
      // a dump is read whole before the next request, so asking for each service's destinations interleaves nothing
      for (const m of channel.dump(family, serviceDumpBody(), "ipvs service dump")) {
        const entry = parseServiceEntry(m.payload)
        if (entry === undefined || entry.af !== AF_INET || entry.fwmark === 0) continue
        const destinations = channel
          .dump(family, destDumpBody(entry.fwmark), `ipvs destination dump of fwmark ${entry.fwmark}`)
          .flatMap((d) => parseDestEntry(d.payload) ?? [])
        services.push({ fwmark: entry.fwmark, scheduler: entry.scheduler, destinations })
      }
      return services
    })
  }

  private withFamily<T>(ns: string, fn: (channel: NetlinkChannel, family: number) => T): T {
    return withGenl(this.native, this.namespaces.path(ns), (channel) => {
      this.family ??= resolveFamily(channel, IPVS_GENL_NAME)
      if (this.family === undefined) throw new NetlinkRefusal(95 /* EOPNOTSUPP */, "the kernel has no IPVS generic netlink family", `ipvs in ${ns}`)
      return fn(channel, this.family)
    })
  }

  /**
   * IPVS forwards a connection by NAT without telling conntrack unless net.ipv4.vs.conntrack is 1;
   * the nat rules around a balancer (its source rewrite, the reply's way back) need conntrack to
   * see it. libnetwork writes it when it sets up a load balancer's SNAT (fwmarker), and its
   * load-balancer tweaks when it makes the sandbox and after each destination (IPVS_SYSCTLS);
   * here all of them before the first service of a namespace. The files exist only where ip_vs is
   * loaded.
   */
  private sysctlsOn(ns: string): void {
    if (this.tracked.has(ns)) return
    for (const [key, value] of IPVS_SYSCTLS) {
      sysctlWrite(this.native, this.namespaces, ns, key, value)
      this.onSysctl(ns, key)
    }
    this.tracked.add(ns)
  }
}
