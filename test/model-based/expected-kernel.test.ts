import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { FwTable, KernelOp } from "../../backends/kernel-types.ts"
import { makeSimKernel } from "../../backends/sim/layer.ts"
import { Lab } from "../../controller/Lab.ts"
import type { AttachRequest, NetworkRequest } from "../../model/types.ts"
import { expectedKernel, kernelDifferences, labNamespaces, readKernel, ruleText } from "./expected-kernel.ts"

const layout = { runId: "ek", host: "host1" } as const
const names = labNamespaces(layout)
const icc = { "com.docker.network.bridge.enable_icc": "false" }
const noMasquerade = { "com.docker.network.bridge.enable_ip_masquerade": "false" }

const labWith = (networks: ReadonlyArray<NetworkRequest>, containers: ReadonlyArray<[string, ...Array<string | AttachRequest>]>) => {
  const kernel = makeSimKernel()
  const lab = Effect.runSync(Lab.make(kernel, { hosts: [layout.host], runId: layout.runId }))
  for (const network of networks) Effect.runSync(lab.createNetwork(network))
  for (const [name, ...attachments] of containers) {
    Effect.runSync(lab.createContainer({ name, networks: attachments.map((a) => (typeof a === "string" ? { network: a } : a)) }))
  }
  const state = () => (lab.controllers[0] as (typeof lab.controllers)[number]).state
  const expected = () => expectedKernel(state(), layout)
  const differences = () => kernelDifferences(expected(), Effect.runSync(readKernel(kernel, layout)))
  const apply = (ops: ReadonlyArray<KernelOp>) => Effect.runSync(kernel.apply(ops))
  return { kernel, lab, state, expected, differences, apply }
}

const networkId = (lab: Lab, name: string) => lab.networks().find((n) => n.name === name)?.id.slice(0, 12)

describe("expected kernel: what a lab's state implies", () => {
  it("a fresh lab: the underlay, the host with docker0 and its firewall, nothing else", () => {
    const { expected, differences } = labWith([], [])
    expect([...expected().keys()].sort()).toEqual([names.host, names.underlay])
    expect(expected().get(names.host)).toContain("link docker0 bridge up mtu 1500 group 25454")
    expect(expected().get(names.host)).toContain("rule bridge-ip/postrouting: -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE")
    expect(differences()).toEqual([])
  })

  it("a lab with internal, icc=false, unmasqueraded, default-bridge, host and none endpoints holds exactly that", () => {
    const { lab, expected, differences } = labWith(
      [
        { name: "inner", internal: true, options: icc },
        { name: "plain", subnet: "10.3.0.0/24", options: noMasquerade },
      ],
      [["dual", "inner", "plain"], ["classic", "bridge"], ["hostbox", "host"], ["nonebox", "none"], ["lonely", "inner"]],
    )
    expect(differences()).toEqual([])
    const host = expected().get(names.host) ?? []
    const inner = `br-${networkId(lab, "inner")}`
    const plain = `br-${networkId(lab, "plain")}`
    expect(host).toContain(`rule bridge-l2/forward: --bridge ${inner} -j DROP`)
    expect(host).toContain(`rule bridge-ip/isolation-stage-1: ! -d 172.18.0.0/16 -i ${inner} -j DROP`)
    expect(host.filter((fact) => fact.includes("MASQUERADE"))).toEqual(["rule bridge-ip/postrouting: -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"])
    expect(host).toContain(`link (host end of ${names.sandbox("dual")}/eth1) veth up mtu 1500 group 25454 master ${plain} peer ${names.sandbox("dual")}/eth1`)
    // the host container has no namespace of its own; none keeps loopback only
    expect(expected().has(names.sandbox("hostbox"))).toBe(false)
    expect(expected().get(names.sandbox("nonebox"))).toEqual(["link lo loopback up mtu 65536 group 0", "addr lo 127.0.0.1/8"])
    // a non-internal network wins the default route; an internal-only container routes through its internal gateway
    expect(expected().get(names.sandbox("dual"))).toContain("route default via 10.3.0.1 dev eth1 scope universe static")
    expect(expected().get(names.sandbox("lonely"))).toContain("route default via 172.18.0.1 dev eth0 scope universe static")
  })

  it("the default route goes by network name, whatever the attach order", () => {
    const { expected, differences } = labWith([{ name: "zz" }, { name: "aa" }], [["both", "zz", "aa"]])
    expect(expected().get(names.sandbox("both"))).toContain("route default via 172.19.0.1 dev eth1 scope universe static")
    expect(differences()).toEqual([])
  })

  it("follows the lab through removals: a removed network's bridge and a disconnected endpoint's veth are gone", () => {
    const { lab, expected, differences } = labWith([{ name: "n1" }, { name: "n2" }], [["web", "n1", "n2"]])
    Effect.runSync(lab.disconnect("web", "n1"))
    Effect.runSync(lab.removeNetwork("n1"))
    expect(differences()).toEqual([])
    expect(expected().get(names.host)?.some((fact) => fact.includes(`br-${networkId(lab, "n2")}`))).toBe(true)
    expect(expected().get(names.sandbox("web"))?.filter((fact) => fact.startsWith("link "))).toHaveLength(2)
  })
})

describe("expected kernel: differences name what is left behind or missing", () => {
  it("a link, an address and a namespace nobody asked for are left behind", () => {
    const { apply, differences } = labWith([], [["web", "bridge"]])
    apply([
      { op: "linkAdd", ns: names.host, link: { kind: "bridge", name: "br-stale", up: true } },
      { op: "addrAdd", ns: names.sandbox("web"), dev: "lo", cidr: "127.0.0.2/8" },
      { op: "nsAdd", ns: names.sandbox("ghost") },
    ])
    expect(differences()).toEqual([
      `${names.sandbox("ghost")}: a namespace left behind`,
      `${names.sandbox("web")}: left behind addr lo 127.0.0.2/8`,
      `${names.host}: left behind link br-stale bridge up mtu 1500 group 25454`,
    ])
  })

  it("a veth left on the host by a disconnect shows on both of its ends", () => {
    const { lab, apply, differences } = labWith([{ name: "n1" }], [["web", "n1"]])
    const sandbox = names.sandbox("web")
    const br = `br-${networkId(lab, "n1")}`
    apply([{ op: "linkAdd", ns: names.host, link: { kind: "veth", name: "vstale", master: br, up: true, peer: { name: "eth7", ns: sandbox } } }])
    expect(differences()).toEqual([
      expect.stringMatching(new RegExp(`^${sandbox}: left behind link eth7 veth down mtu 1500 group 25454 peer ${names.host}/\\(host end\\) mac `)),
      `${names.host}: left behind link (host end of ${sandbox}/eth7) veth up mtu 1500 group 25454 master ${br} peer ${sandbox}/eth7`,
    ])
  })

  it("a missing route, a missing namespace and a missing firewall rule are missing", () => {
    const { apply, differences, kernel } = labWith([{ name: "quiet", options: icc }], [["web", "quiet"], ["db", "bridge"]])
    const hostFirewall = Effect.runSync(kernel.read(names.host)).firewall
    const l2 = hostFirewall.find((table) => table.name === "bridge-l2") as FwTable
    apply([
      { op: "routeDel", ns: names.sandbox("web"), route: { dst: "default", via: "172.18.0.1", dev: "eth0" } },
      { op: "nsDel", ns: names.sandbox("db") },
      { op: "firewallSet", ns: names.host, table: { ...l2, chains: l2.chains.map((chain) => ({ ...chain, rules: [] })) } },
    ])
    expect(differences()).toEqual([
      `${names.sandbox("db")}: a namespace missing`,
      `${names.sandbox("web")}: missing route default via 172.18.0.1 dev eth0 scope universe static`,
      expect.stringMatching(/host1: missing rule bridge-l2\/forward: --bridge br-[0-9a-f]{12} -j DROP$/),
      // the namespace took its veth along, host end included
      `${names.host}: missing link (host end of ${names.sandbox("db")}/eth0) veth up mtu 1500 group 25454 master docker0 peer ${names.sandbox("db")}/eth0`,
    ])
  })

  it("an accept ahead of the isolation chains changes the first rule of the forward chain", () => {
    const { apply, differences, kernel } = labWith([], [])
    const ip = Effect.runSync(kernel.read(names.host)).firewall.find((table) => table.name === "bridge-ip") as FwTable
    const reordered = ip.chains.map((chain) => (chain.name === "forward" ? { ...chain, rules: [...chain.rules].reverse() } : chain))
    apply([{ op: "firewallSet", ns: names.host, table: { ...ip, chains: reordered } }])
    expect(differences()).toEqual([
      `${names.host}: missing first bridge-ip/forward: -j isolation-stage-1`,
      `${names.host}: left behind first bridge-ip/forward: -i docker0 ! -o docker0 -j ACCEPT`,
    ])
  })
})

describe("ruleText", () => {
  it("spells every match as iptables-save does, in its order, and shows a match it does not know", () => {
    expect(
      ruleText({
        match: { iif: "a", oifNot: "b", src: "10.0.0.0/8", dstNot: "10.1.0.0/16", proto: "udp", dport: 53, ctState: ["related", "established"] },
        verdict: { kind: "dnat", to: "10.0.0.2", port: 5353 },
      }),
    ).toBe("-s 10.0.0.0/8 ! -d 10.1.0.0/16 -i a ! -o b -p udp --dport 53 --ctstate ESTABLISHED,RELATED -j DNAT --to 10.0.0.2:5353")
    expect(ruleText({ match: { bridge: "br0", iifNot: "x" }, verdict: { kind: "jump", chain: "next" } })).toBe("! -i x --bridge br0 -j next")
    const odd = { match: { mark: 7 }, verdict: { kind: "return" } } as unknown as Parameters<typeof ruleText>[0]
    expect(ruleText(odd)).toBe("?mark=7 -j RETURN")
  })
})
