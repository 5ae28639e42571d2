import { existsSync } from "node:fs"
import type { NetnsAddon } from "./addon.ts"
import type { FeatureCheck } from "./capabilities.ts"
import { toKernelError } from "./errors.ts"
import { IpvsServices, resolveFamilyIn } from "./ipvs.ts"
import type { IpvsService } from "../ipvs-types.ts"
import type { NamespaceTable } from "./namespaces.ts"
import { IPVS_GENL_NAME } from "./netlink/ipvs-wire.ts"

/** what the probe makes and reads back: a fwmark service with one NAT destination */
const TRIAL: IpvsService = { fwmark: 256, destinations: [{ address: "192.0.2.2", port: 80 }] }

/**
 * Whether balancing rules can be carried out by IPVS (Capabilities.ipvs): the kernel resolves the
 * "IPVS" generic netlink family (CTRL_CMD_GETFAMILY) inside a scratch namespace of ours, and takes
 * and gives back there what the IPVS form makes (a fwmark service, round robin, a NAT
 * destination), so a kernel that refuses our encoding leaves the flag false and the numgen form in
 * use. The namespace's deletion takes the service with it.
 *
 * The family is asked for by name, and a kernel that can load modules loads ip_vs for such a
 * question (ip_vs declares the alias net-pf-16-proto-16-family-IPVS). cnmlab loads no modules, so
 * it asks only where that cannot happen: ip_vs is loaded (/proc/net/ip_vs), or the kernel has no
 * module support (no /proc/modules), as this one.
 */
/** asking for the IPVS family loads no module: ip_vs is loaded, or the kernel cannot load modules */
export const askingLoadsNothing = (): boolean => existsSync("/proc/net/ip_vs") || !existsSync("/proc/modules")

export const probeIpvs = (native: NetnsAddon, namespaces: NamespaceTable, ns: string): FeatureCheck => {
  if (!askingLoadsNothing())
    return { ok: false, detail: "ip_vs is not loaded (no /proc/net/ip_vs); its generic netlink family was not asked for, since asking loads the module" }
  try {
    const family = resolveFamilyIn(native, namespaces.path(ns), IPVS_GENL_NAME)
    if (family === undefined) return { ok: false, detail: `the kernel has no IPVS generic netlink family (CTRL_CMD_GETFAMILY: ENOENT)` }
    const ipvs = new IpvsServices(native, namespaces)
    ipvs.add(ns, TRIAL)
    const read = ipvs.read(ns).find((service) => service.fwmark === TRIAL.fwmark)
    const destination = read?.destinations[0]
    if (read?.scheduler !== "rr" || destination?.address !== "192.0.2.2" || destination.port !== 80 || destination.forward !== "nat")
      return { ok: false, detail: `IPVS family ${family}: the trial fwmark service read back as ${JSON.stringify(read)}` }
    return { ok: true, detail: `IPVS family ${family}: a fwmark service with a NAT destination made and read back` }
  } catch (error) {
    const refused = toKernelError(error)
    return { ok: false, detail: `IPVS refused: ${refused.errno ?? refused.reason}: ${refused.detail}` }
  }
}
