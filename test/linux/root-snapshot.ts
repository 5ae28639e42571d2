/**
 * The machine's own (root) network namespace, as data: links, addresses, routes, the nftables
 * ruleset and the sysctls our namespaces set for themselves. Taken before and after the linux
 * tests; any difference means something leaked out of a cnm- namespace.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"

const json = (command: string, args: ReadonlyArray<string>): unknown => {
  const result = spawnSync(command, args, { encoding: "utf8" })
  if (result.status !== 0) return { unavailable: `${command} ${args.join(" ")}: ${result.stderr || result.error?.message}` }
  return result.stdout.trim() === "" ? [] : JSON.parse(result.stdout)
}

const pick = <T extends Record<string, unknown>>(item: T, keys: ReadonlyArray<string>): Record<string, unknown> =>
  Object.fromEntries(keys.filter((k) => item[k] !== undefined).map((k) => [k, item[k]]))

const list = (value: unknown): Array<Record<string, unknown>> => (Array.isArray(value) ? value : [])

const SYSCTLS = [
  "net/ipv4/ip_forward",
  "net/ipv4/conf/all/forwarding",
  "net/ipv4/ping_group_range",
  "net/ipv4/ip_local_port_range",
  ...(() => {
    try {
      return readdirSync("/proc/sys/net/bridge").map((f) => `net/bridge/${f}`)
    } catch {
      return []
    }
  })(),
]

export const rootSnapshot = (): string =>
  JSON.stringify(
    {
      links: list(json("ip", ["-j", "link"])).map((l) => pick(l, ["ifindex", "ifname", "flags", "mtu", "address", "master", "group", "link_type"])),
      addrs: list(json("ip", ["-j", "addr"])).map((l) => ({
        ifname: l.ifname,
        addrs: list(l.addr_info).map((a) => pick(a, ["family", "local", "prefixlen", "scope"])),
      })),
      routes: ["-4", "-6"].flatMap((family) =>
        list(json("ip", ["-j", family, "route", "show", "table", "all"])).map((r) =>
          pick(r, ["type", "dst", "gateway", "dev", "table", "protocol", "scope", "prefsrc", "metric"]),
        ),
      ),
      nftables: list((json("nft", ["-j", "list", "ruleset"]) as { nftables?: unknown }).nftables).filter((i) => !("metainfo" in i)),
      sysctls: Object.fromEntries(
        SYSCTLS.map((key) => {
          try {
            return [key, readFileSync(`/proc/sys/${key}`, "utf8").trim()]
          } catch {
            return [key, "(unreadable)"]
          }
        }),
      ),
    },
    null,
    1,
  )
