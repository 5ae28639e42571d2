import { existsSync, readdirSync } from "node:fs"
import { loadAddon } from "./addon.ts"
import { linuxAvailability, missingPrivileges } from "./availability.ts"
import { loopbackUp, measureFeatures, withScratchNamespace } from "./capabilities.ts"
import { orphanedEntries } from "./clean.ts"
import { LEDGER_DIR, listEntries, ownerAlive } from "./ledger.ts"
import { measurementPlane } from "./measurement/plane.ts"
import { NETNS_DIR, nsPath, NS_PREFIX } from "./namespaces.ts"
import { nftUnavailable } from "./nft/run.ts"
import { probe } from "./probe.ts"

export interface DoctorCheck {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const check = (name: string, ok: boolean, detail: string): DoctorCheck => ({ name, ok, detail })

/**
 * Everything the linux backend depends on, measured rather than assumed: each link kind is
 * really created in a scratch namespace, nft really sets a table there, an ICMP echo really goes
 * out of a ping socket there. Also lists what earlier runs left behind.
 */
export const doctor = async (): Promise<{ checks: DoctorCheck[] }> => {
  const checks: DoctorCheck[] = []
  const availability = linuxAvailability()
  const addon = loadAddon()
  const missing = missingPrivileges()
  checks.push(
    check(
      "privileges",
      missing.length === 0,
      missing.length === 0 ? "CAP_NET_ADMIN and CAP_SYS_ADMIN (root)" : `missing ${missing.join(" and ")}: run as root`,
    ),
  )
  checks.push(check("addon", addon.ok, addon.ok ? "build/cnmlab_netns.node loaded" : addon.reason))
  const nftMissing = addon.ok ? nftUnavailable(addon.addon) : "needs the addon"
  checks.push(check("nft", nftMissing === null, nftMissing ?? "libnftables.so.1 loaded (nftables' own library, one context per namespace)"))

  if (availability.ok && addon.ok) {
    const native = addon.addon
    try {
      const features = await measureFeatures(native)
      for (const [kind, result] of Object.entries(features.links)) {
        checks.push(check(`kernel: ${kind}`, result.ok, result.ok ? result.detail : linkKindDetail(kind, result.detail)))
      }
      checks.push(check("kernel: nftables", features.firewall.ok, features.firewall.detail))
      checks.push(
        check(
          "kernel: esp",
          features.esp.ok,
          features.esp.ok ? features.esp.detail : `${features.esp.detail}: encrypted overlay networks cannot carry traffic between hosts here`,
        ),
      )
      checks.push(
        check(
          "kernel: ipvs",
          features.ipvs.ok,
          features.ipvs.ok ? features.ipvs.detail : `${features.ipvs.detail}: service VIPs are balanced by nftables (numgen) instead`,
        ),
      )
    } catch (error) {
      checks.push(check("kernel: link kinds", false, (error as Error).message))
    }
    try {
      const result = await withScratchNamespace(native, "doctor", async (namespaces, ns) => {
        loopbackUp(namespaces, ns)
        // the socket itself (allowed as a probe allows it), then a real echo to the namespace's own
        // loopback, sent by the measurement helper as every probe is
        namespaces.prepare(ns, "pings")
        native.closeFd(native.openInetSocket(nsPath(ns), "icmp", null, 0, false))
        return probe(namespaces, measurementPlane(), ns, "127.0.0.1", Buffer.from("cnmlab doctor"), 1000, false)
      })
      checks.push(check("icmp sockets", result.reachable, result.reachable ? "ping socket inside a namespace: echo answered" : `echo not answered: ${result.reason} ${result.detail ?? ""}`))
    } catch (error) {
      checks.push(check("icmp sockets", false, (error as Error).message))
    }
    const scheduling = await measurementPlane().scheduling()
    checks.push(
      check(
        "measurement helper",
        scheduling.startsWith("SCHED_RR"),
        scheduling.startsWith("SCHED_RR")
          ? `probes and DNS run in a process of their own under ${scheduling}`
          : `${scheduling}: on a busy machine probes and DNS answers may wait for a CPU`,
      ),
    )
  }

  checks.push(...ledgerChecks())
  return { checks }
}

/** a link kind the kernel refused: what it means for a user, and the usual fix */
const linkKindDetail = (kind: string, detail: string): string => {
  if (!/EOPNOTSUPP/.test(detail)) return detail
  const said = /\(([^()]+)\)\s*$/.exec(detail)?.[1] ?? "EOPNOTSUPP"
  return `not in this kernel ("${said}"): scenarios that need ${kind} links fail here; modprobe ${kind === "vlan" ? "8021q" : kind} if it is built as a module`
}

/** what the ledger says: runs in progress, namespaces dead runs left, and cnm- namespaces that are not ours */
const ledgerChecks = (): DoctorCheck[] => {
  try {
    readdirSync(LEDGER_DIR)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== "ENOENT") {
      return [check("ledger", false, `${LEDGER_DIR} is not readable (${code}): run as root to see which namespaces are cnmlab's`)]
    }
  }
  const entries = listEntries()
  const checks: DoctorCheck[] = []
  const live = new Map<number, number>()
  for (const entry of entries) if (ownerAlive(entry) && existsSync(nsPath(entry.ns))) live.set(entry.pid, (live.get(entry.pid) ?? 0) + 1)
  const runs = [...live].map(([pid, count]) => `pid ${pid}: ${count}`)
  checks.push(
    check(
      "runs in progress",
      true,
      runs.length === 0 ? "none" : `${runs.length} cnmlab process(es) own namespaces (${runs.join(", ")}); clean never touches them`,
    ),
  )
  const leftover = [...new Set(orphanedEntries().filter((e) => existsSync(nsPath(e.ns))).map((e) => e.ns))]
  checks.push(
    check(
      "leftovers",
      leftover.length === 0,
      leftover.length === 0
        ? "no namespaces left by dead cnmlab processes"
        : `${leftover.length} namespaces left by dead cnmlab processes (sudo cnmlab clean removes them): ${leftover.join(", ")}`,
    ),
  )
  const recorded = new Set(entries.map((e) => e.ns))
  let foreign: string[] = []
  try {
    foreign = readdirSync(NETNS_DIR).filter((n) => n.startsWith(NS_PREFIX) && !recorded.has(n))
  } catch {
    // no /run/netns at all: nothing left anywhere
  }
  if (foreign.length > 0)
    checks.push(check("foreign cnm- namespaces", true, `not in cnmlab's ledger, so never touched: ${foreign.join(", ")}`))
  return checks
}
