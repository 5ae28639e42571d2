import { Effect } from "effect"
import type { KernelShape } from "../../backends/Kernel.ts"
import type { KernelError } from "../../backends/KernelError.ts"
import { CNMLAB_LINK_GROUP, type FwRule, type FwTable, type NsState } from "../../backends/kernel-types.ts"
import * as model from "../../model/index.ts"

/**
 * What the kernel of a lab must hold, derived from the model's state alone, and the kernel as read
 * back, both as lists of facts ("link eth0 veth up …", "route default via …", "rule bridge-ip/forward:
 * -i br-… ! -o br-… -j ACCEPT"), so that any object the lab left behind or never made shows up as
 * a fact on one side only.
 *
 * The expectation is written from Docker 20.10's semantics (../shared/reference/cnm-libnetwork.md
 * §1.5, §4.2–4.5, §7; docs/docker-20.10.md) and the lab's naming (controller/Lab.ts), never from the
 * drivers' step tables: a bridge per bridge network holding the gateway, a veth per endpoint, the
 * default route through the first endpoint in libnetwork's sandbox order, the firewall of Docker's
 * ≤v27 iptables layout in cnmlab's nftables vocabulary. Only a lab of one host is described (the
 * model holds one host's state).
 *
 * What is left out, on both sides: link indexes, and the MACs the kernel makes up (bridges, the
 * host ends of veths, the underlay); the name of a veth's host end, which the lab picks freely and
 * Docker makes random, is shown as the end it is paired with. Firewall rules are compared as a
 * set per chain, apart from the first rule of a chain whose policy drops (there, what comes first
 * decides what may pass at all: the isolation chains before any accept).
 */

export interface LabLayout {
  readonly runId: string
  /** the lab's one Docker host */
  readonly host: string
  /** the outside machine's address with its prefix, when the lab has one */
  readonly outside?: string
}

/** controller/Lab.ts's namespace names */
export const labNamespaces = (layout: LabLayout) => {
  const prefix = `cnm-${layout.runId}`
  return {
    underlay: `${prefix}-underlay`,
    host: `${prefix}-${layout.host}`,
    outside: `${prefix}-outside`,
    sandboxPrefix: `${prefix}-c-`,
    sandbox: (container: string) => `${prefix}-c-${container}`,
    /** every namespace of the lab starts so */
    all: `${prefix}-`,
  }
}

/** namespace → its facts */
export type KernelFacts = ReadonlyMap<string, ReadonlyArray<string>>

const DEFAULT_MTU = 1500
const LOOPBACK = ["link lo loopback up mtu 65536 group 0", "addr lo 127.0.0.1/8"]
/** the lab's underlay: the host's eth0 on bridge ul0 in a namespace of its own, 192.168.99.0/24 */
const UNDERLAY_BRIDGE = "ul0"
const HOST_UPLINK = "eth0"
const HOST_UPLINK_ADDRESS = "192.168.99.1/24"
const UPLINK_SUBNET = "192.168.99.0/24"

const MTU_OPTION = "com.docker.network.driver.mtu"
const BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
const MASQUERADE_OPTION = "com.docker.network.bridge.enable_ip_masquerade"

/** the name Docker gives a network's bridge (§4.1): the option, docker0 for the default network, else br-<id[:12]> */
export const bridgeOf = (network: model.Network): string =>
  network.options[BRIDGE_NAME_OPTION] ?? (network.predefined ? "docker0" : `br-${network.id.slice(0, 12)}`)

const mtuOf = (network: model.Network): number => {
  const mtu = Number(network.options[MTU_OPTION])
  return Number.isInteger(mtu) && mtu > 0 ? mtu : DEFAULT_MTU
}

const masquerades = (network: model.Network): boolean => model.parseGoBool(network.options[MASQUERADE_OPTION] ?? "true") !== false

// ---------------------------------------------------------------------------------------------
// facts, as both sides spell them
// ---------------------------------------------------------------------------------------------

interface LinkFact {
  readonly name: string
  readonly kind: string
  readonly up: boolean
  readonly mtu: number
  readonly group: number
  readonly master?: string | undefined
  readonly peer?: string | undefined
  readonly mac?: string | undefined
}

const linkFact = (link: LinkFact): string =>
  `link ${link.name} ${link.kind} ${link.up ? "up" : "down"} mtu ${link.mtu} group ${link.group}` +
  `${link.master === undefined ? "" : ` master ${link.master}`}${link.peer === undefined ? "" : ` peer ${link.peer}`}` +
  `${link.mac === undefined ? "" : ` mac ${link.mac}`}`

/** the host end of a sandbox's veth, whatever its name: named by the end it is paired with */
const hostEndOf = (sandboxNs: string, ifname: string): string => `(host end of ${sandboxNs}/${ifname})`
const HOST_END = "(host end)"

export const routeFact = (dst: string, dev: string, scope: string, origin: string, via?: string): string =>
  `route ${dst}${via === undefined ? "" : ` via ${via}`} dev ${dev} scope ${scope} ${origin}`

const knownMatches = new Set(["iif", "iifNot", "oif", "oifNot", "bridge", "src", "srcNot", "dst", "dstNot", "proto", "dport", "ctState"])

/** rules are immutable, and a table the kernel holds unchanged is read back as the same objects */
const ruleTexts = new WeakMap<FwRule, string>()

/** an nftables rule in iptables' words, its matches in the order iptables-save prints them */
export const ruleText = (rule: FwRule): string => {
  const known = ruleTexts.get(rule)
  if (known !== undefined) return known
  const m = rule.match as Record<string, unknown>
  const words: string[] = []
  const put = (key: string, flag: string, negated: boolean) => {
    if (m[key] !== undefined) words.push(`${negated ? "! " : ""}${flag} ${String(m[key])}`)
  }
  put("src", "-s", false)
  put("srcNot", "-s", true)
  put("dst", "-d", false)
  put("dstNot", "-d", true)
  put("iif", "-i", false)
  put("iifNot", "-i", true)
  put("oif", "-o", false)
  put("oifNot", "-o", true)
  put("bridge", "--bridge", false)
  put("proto", "-p", false)
  put("dport", "--dport", false)
  if (rule.match.ctState !== undefined) words.push(`--ctstate ${[...rule.match.ctState].map((s) => s.toUpperCase()).sort().join(",")}`)
  for (const key of Object.keys(m).sort()) if (!knownMatches.has(key)) words.push(`?${key}=${JSON.stringify(m[key])}`)
  const v = rule.verdict
  const target =
    v.kind === "jump"
      ? v.chain
      : v.kind === "dnat" || v.kind === "snat"
        ? `${v.kind.toUpperCase()} --to ${v.to}${v.port === undefined ? "" : `:${v.port}`}`
        : v.kind === "dnatBalance"
          ? `DNAT-BALANCE --to ${v.to.join(",")}${v.port === undefined ? "" : ` --port ${v.port}`}`
          : v.kind.toUpperCase()
  const text = [...words, `-j ${target}`].join(" ")
  ruleTexts.set(rule, text)
  return text
}

const tableFactsMade = new WeakMap<FwTable, ReadonlyArray<string>>()

export const tableFacts = (table: FwTable): ReadonlyArray<string> => {
  const known = tableFactsMade.get(table)
  if (known !== undefined) return known
  const facts = [`table ${table.name}`]
  for (const chain of table.chains) {
    const where = `${table.name}/${chain.name}`
    const base = chain.hook === undefined ? "" : ` hook ${chain.hook} ${chain.type} priority ${chain.priority} policy ${chain.policy}`
    facts.push(`chain ${where}${base}`)
    for (const rule of chain.rules) facts.push(`rule ${where}: ${ruleText(rule)}`)
    const first = chain.rules[0]
    if (chain.policy === "drop" && first !== undefined) facts.push(`first ${where}: ${ruleText(first)}`)
  }
  tableFactsMade.set(table, facts)
  return facts
}

/**
 * A namespace as read back, as facts. `sandboxPrefix` names the lab's sandboxes: a veth paired with
 * one of them is the host end of an endpoint, shown by its pair; the MACs of a sandbox's links are
 * the lab's (Docker's 02:42 + address) and shown, all others are the kernel's and left out.
 */
export const readFacts = (state: NsState, sandboxPrefix: string): string[] => {
  const inSandbox = state.ns.startsWith(sandboxPrefix)
  const shownName = new Map<string, string>()
  for (const link of state.links) {
    if (!inSandbox && link.kind === "veth" && link.peer?.ns.startsWith(sandboxPrefix)) {
      shownName.set(link.name, hostEndOf(link.peer.ns, link.peer.name))
    }
  }
  const name = (dev: string) => shownName.get(dev) ?? dev
  const facts: string[] = []
  for (const link of state.links) {
    const peer = link.peer === undefined ? undefined : inSandbox && !link.peer.ns.startsWith(sandboxPrefix) ? `${link.peer.ns}/${HOST_END}` : `${link.peer.ns}/${link.peer.name}`
    const mac = inSandbox && link.kind !== "loopback" ? link.mac : undefined
    facts.push(linkFact({ name: name(link.name), kind: link.kind, up: link.up, mtu: link.mtu, group: link.group, master: link.master, peer, mac }))
    if (link.parent !== undefined) facts.push(`link ${name(link.name)} parent ${link.parent}`)
    if (link.vni !== undefined) facts.push(`link ${name(link.name)} vni ${link.vni}`)
  }
  for (const a of state.addrs) facts.push(`addr ${name(a.dev)} ${a.cidr}`)
  for (const r of state.routes) facts.push(routeFact(r.dst, name(r.dev), r.scope, r.origin, r.via))
  for (const n of state.neighs) facts.push(`neigh ${n.ip} dev ${name(n.dev)} lladdr ${n.mac}`)
  for (const f of state.fdb) facts.push(`fdb ${f.mac} dev ${name(f.dev)}${f.dst === undefined ? "" : ` dst ${f.dst}`}`)
  for (const [key, value] of Object.entries(state.sysctls)) facts.push(`sysctl ${key}=${value}`)
  for (const table of state.firewall) for (const fact of tableFacts(table)) facts.push(fact)
  return facts
}

// ---------------------------------------------------------------------------------------------
// the expectation
// ---------------------------------------------------------------------------------------------

interface Joined {
  readonly endpoint: model.Endpoint
  readonly network: model.Network
}

/** a container's endpoints on bridge networks, the only ones with something in the kernel */
const bridgeEndpoints = (state: model.CnmState, container: string): Joined[] =>
  model.endpointsOf(state, container).flatMap((endpoint) => {
    const network = model.network(state, endpoint.network)
    return network?.driver === "bridge" && endpoint.address !== undefined && endpoint.ifname !== undefined ? [{ endpoint, network }] : []
  })

/**
 * The endpoint whose network gives the sandbox its default route (§1.5): endpoints in libnetwork's
 * sandbox order, non-internal networks before internal ones, then by network name (Go compares
 * bytes); the first with a gateway wins. Every bridge network offers one, an internal one too
 * (Docker 20.10 gives an internal-only container `default via` its gateway).
 */
export const gatewayEndpoint = (joined: ReadonlyArray<Joined>): Joined | undefined =>
  [...joined]
    .filter((j) => j.network.gateway !== undefined)
    .sort((a, b) => Number(a.network.internal) - Number(b.network.internal) || (a.network.name < b.network.name ? -1 : a.network.name > b.network.name ? 1 : 0))[0]

const onHostNetwork = (state: model.CnmState, container: string): boolean =>
  model.endpointsOf(state, container).some((e) => model.network(state, e.network)?.driver === "host")

/**
 * A container's sandbox facts, made once per list of endpoints: a container whose endpoints are
 * unchanged keeps the very same list from state to state, and so do its networks (they are
 * immutable, and none can go while it has endpoints).
 */
const sandboxFactsMade = new WeakMap<ReadonlyArray<model.Endpoint>, { readonly hostNs: string; readonly facts: ReadonlyArray<string> }>()

const sandboxFacts = (state: model.CnmState, container: string, hostNs: string): ReadonlyArray<string> => {
  const endpoints = model.endpointsOf(state, container)
  const known = sandboxFactsMade.get(endpoints)
  if (known !== undefined && known.hostNs === hostNs) return known.facts
  const facts = makeSandboxFacts(state, container, hostNs)
  sandboxFactsMade.set(endpoints, { hostNs, facts })
  return facts
}

const makeSandboxFacts = (state: model.CnmState, container: string, hostNs: string): string[] => {
  const joined = bridgeEndpoints(state, container)
  const facts = [...LOOPBACK]
  for (const { endpoint, network } of joined) {
    const ifname = endpoint.ifname as string
    facts.push(
      linkFact({ name: ifname, kind: "veth", up: true, mtu: mtuOf(network), group: CNMLAB_LINK_GROUP, peer: `${hostNs}/${HOST_END}`, mac: endpoint.mac as string }),
      `addr ${ifname} ${endpoint.address as string}`,
      routeFact(network.subnet as string, ifname, "link", "kernel"),
    )
  }
  const gateway = gatewayEndpoint(joined)
  if (gateway !== undefined) {
    facts.push(routeFact("default", gateway.endpoint.ifname as string, "universe", "static", gateway.network.gateway))
  }
  return facts
}

/**
 * Docker 20.10's bridge firewall (§4.5, the ≤v27 layout: rules in FORWARD, the two isolation
 * stages), as cnmlab spells it: table bridge-ip for routed traffic and NAT, table bridge-l2 for
 * frames switched inside one bridge, where icc=false drops them (Docker: br_netfilter and
 * `-i br -o br -j DROP`). Per non-internal network: replies and outbound traffic accepted,
 * anything entering it from another bridge dropped, its subnet masqueraded unless told not to.
 * Per internal network: nothing leaves or enters its subnet.
 */
export const firewallFacts = (bridges: ReadonlyArray<model.Network>): string[] => {
  const facts = [
    "table bridge-ip",
    "chain bridge-ip/forward hook forward filter priority 0 policy drop",
    "chain bridge-ip/isolation-stage-1",
    "chain bridge-ip/isolation-stage-2",
    "chain bridge-ip/postrouting hook postrouting nat priority 100 policy accept",
    "rule bridge-ip/forward: -j isolation-stage-1",
    "first bridge-ip/forward: -j isolation-stage-1",
    "table bridge-l2",
    "chain bridge-l2/forward hook bridge-forward filter priority 0 policy accept",
  ]
  for (const network of bridges) {
    const br = bridgeOf(network)
    const subnet = network.subnet as string
    if (network.internal) {
      facts.push(`rule bridge-ip/isolation-stage-1: ! -d ${subnet} -i ${br} -j DROP`, `rule bridge-ip/isolation-stage-1: ! -s ${subnet} -o ${br} -j DROP`)
    } else {
      facts.push(
        `rule bridge-ip/forward: -o ${br} --ctstate ESTABLISHED,RELATED -j ACCEPT`,
        `rule bridge-ip/forward: -i ${br} ! -o ${br} -j ACCEPT`,
        `rule bridge-ip/isolation-stage-1: -i ${br} ! -o ${br} -j isolation-stage-2`,
        `rule bridge-ip/isolation-stage-2: -o ${br} -j DROP`,
      )
      if (masquerades(network)) facts.push(`rule bridge-ip/postrouting: -s ${subnet} ! -o ${br} -j MASQUERADE`)
    }
    if (!model.iccEnabled(network.options)) facts.push(`rule bridge-l2/forward: --bridge ${br} -j DROP`)
  }
  return facts
}

/** a published port as the lab's model holds it: host address ("" for every one), host port, the container's address and port */
export interface ExpectedPort {
  readonly network: string
  readonly hostIp: string
  readonly hostPort: number
  readonly proto: string
  readonly containerAddress: string
  readonly containerPort: number
}

/** the ports published on the lab's one host, from the model's bindings (SCTP has no rules here) */
export const publishedPorts = (lab: model.LabState): ReadonlyArray<ExpectedPort> => {
  const state = lab.hostStates[0] as model.CnmState
  const ports: ExpectedPort[] = []
  for (const binding of model.containers(state).flatMap((c) => model.portBindingsOf(lab, c.name))) {
    const endpoint = model.endpointsOf(state, binding.container).find((e) => e.network === binding.network)
    if (binding.proto === "sctp" || endpoint?.address === undefined) continue
    const { network, hostIp, hostPort, proto, containerPort } = binding
    ports.push({ network, hostIp, hostPort, proto, containerAddress: model.stripPrefix(endpoint.address), containerPort })
  }
  return ports
}

/**
 * Docker 20.10's rules for published ports (§4.5, ports-20.10.md; userland-proxy on): nat
 * PREROUTING and OUTPUT (not to 127.0.0.0/8, which is docker-proxy's) send local destinations
 * to the nat DOCKER chain, which returns what came from a bridge (the hairpin is the proxy's) and
 * DNATs each port not coming from its own bridge; FORWARD sends what goes into a bridge to the
 * filter DOCKER chain, which accepts each port's container; POSTROUTING masquerades a container
 * reaching itself through its own port. Only ports of non-internal bridges; nothing when none.
 */
export const portFacts = (bridges: ReadonlyArray<model.Network>, ports: ReadonlyArray<ExpectedPort>): string[] => {
  const open = bridges.filter((n) => !n.internal)
  const published = ports.filter((p) => open.some((n) => n.name === p.network))
  if (published.length === 0) return []
  const facts = [
    "chain bridge-ip/prerouting hook prerouting nat priority -100 policy accept",
    "rule bridge-ip/prerouting: ?dstLocal=true -j docker-nat",
    "chain bridge-ip/output hook output nat priority -100 policy accept",
    "rule bridge-ip/output: ! -d 127.0.0.0/8 ?dstLocal=true -j docker-nat",
    "chain bridge-ip/docker-nat",
    "chain bridge-ip/docker",
  ]
  for (const network of open) facts.push(`rule bridge-ip/docker-nat: -i ${bridgeOf(network)} -j RETURN`, `rule bridge-ip/forward: -o ${bridgeOf(network)} -j docker`)
  for (const port of published) {
    const br = bridgeOf(open.find((n) => n.name === port.network) as model.Network)
    const to = `${port.containerAddress}/32`
    const hostIp = port.hostIp === "" || port.hostIp === "0.0.0.0" ? "" : `-d ${port.hostIp}/32 `
    facts.push(
      `rule bridge-ip/docker-nat: ${hostIp}! -i ${br} -p ${port.proto} --dport ${port.hostPort} -j DNAT --to ${port.containerAddress}:${port.containerPort}`,
      `rule bridge-ip/docker: -d ${to} ! -i ${br} -o ${br} -p ${port.proto} --dport ${port.containerPort} -j ACCEPT`,
      `rule bridge-ip/postrouting: -s ${to} -d ${to} -p ${port.proto} --dport ${port.containerPort} -j MASQUERADE`,
    )
  }
  return facts
}

const hostFacts = (state: model.CnmState, names: ReturnType<typeof labNamespaces>, ports: ReadonlyArray<ExpectedPort>, outside: string | undefined): string[] => {
  const facts = [
    ...LOOPBACK,
    linkFact({ name: HOST_UPLINK, kind: "veth", up: true, mtu: DEFAULT_MTU, group: CNMLAB_LINK_GROUP, peer: `${names.underlay}/ul-0` }),
    `addr ${HOST_UPLINK} ${HOST_UPLINK_ADDRESS}`,
    routeFact(UPLINK_SUBNET, HOST_UPLINK, "link", "kernel"),
    "sysctl net.ipv4.ip_forward=1",
  ]
  for (const fact of networkFacts(state)) facts.push(fact)
  if (ports.length > 0) facts.push(...portFacts(model.networks(state).filter((n) => n.driver === "bridge" && n.subnet !== undefined), ports))
  if (outside !== undefined) {
    // the outside machine is the host's way out: a host route to it on eth0, then the default through it
    const plain = model.stripPrefix(outside)
    facts.push(routeFact(`${plain}/32`, HOST_UPLINK, "link", "static"), routeFact("default", HOST_UPLINK, "universe", "static", plain))
  }
  for (const { container, endpoint, network } of model.containers(state).flatMap((c) =>
    bridgeEndpoints(state, c.name).map((j) => ({ container: c.name, ...j })),
  )) {
    const sandbox = names.sandbox(container)
    const ifname = endpoint.ifname as string
    facts.push(
      linkFact({
        name: hostEndOf(sandbox, ifname),
        kind: "veth",
        up: true,
        mtu: mtuOf(network),
        group: CNMLAB_LINK_GROUP,
        master: bridgeOf(network),
        peer: `${sandbox}/${ifname}`,
      }),
    )
  }
  return facts
}

/** what a host holds for its bridge networks, made once per set of networks (containers come and go far more often) */
const networkFactsMade = new WeakMap<object, ReadonlyArray<string>>()

const networkFacts = (state: model.CnmState): ReadonlyArray<string> => {
  const version = model.networksVersion(state)
  const known = networkFactsMade.get(version)
  if (known !== undefined) return known
  const facts: string[] = []
  const bridges = model.networks(state).filter((n) => n.driver === "bridge" && n.subnet !== undefined)
  for (const network of bridges) {
    const br = bridgeOf(network)
    const prefix = (network.subnet as string).split("/")[1] as string
    facts.push(
      linkFact({ name: br, kind: "bridge", up: true, mtu: mtuOf(network), group: CNMLAB_LINK_GROUP }),
      `addr ${br} ${network.gateway as string}/${prefix}`,
      routeFact(network.subnet as string, br, "link", "kernel"),
    )
  }
  facts.push(...firewallFacts(bridges))
  networkFactsMade.set(version, facts)
  return facts
}

const underlayFacts = (names: ReturnType<typeof labNamespaces>): string[] => [
  ...LOOPBACK,
  linkFact({ name: UNDERLAY_BRIDGE, kind: "bridge", up: true, mtu: DEFAULT_MTU, group: CNMLAB_LINK_GROUP }),
  linkFact({ name: "ul-0", kind: "veth", up: true, mtu: DEFAULT_MTU, group: CNMLAB_LINK_GROUP, master: UNDERLAY_BRIDGE, peer: `${names.host}/${HOST_UPLINK}` }),
]

/** the outside machine (controller/Lab.ts): its eth0 on the underlay with its address and a route to the underlay's subnet only */
const outsideFacts = (names: ReturnType<typeof labNamespaces>, outside: string): string[] => [
  ...LOOPBACK,
  linkFact({ name: HOST_UPLINK, kind: "veth", up: true, mtu: DEFAULT_MTU, group: CNMLAB_LINK_GROUP, peer: `${names.underlay}/ul-out` }),
  `addr ${HOST_UPLINK} ${outside}`,
  routeFact(subnetOf(outside), HOST_UPLINK, "link", "kernel"),
  routeFact(UPLINK_SUBNET, HOST_UPLINK, "link", "static"),
]

/** the subnet an address with its prefix lies in, as the kernel's route for it names it */
const subnetOf = (cidr: string): string => {
  const parsed = model.parseCidrWithAddress(cidr) as model.Cidr
  const size = 2 ** (32 - parsed.prefix)
  return `${model.formatIPv4(Math.floor((model.parseIPv4(model.stripPrefix(cidr)) as number) / size) * size)}/${parsed.prefix}`
}

/**
 * Every namespace the lab must have in this state, with its facts: the underlay, the host, and a
 * sandbox per container that is not on the host's network (a container on none, or on no network
 * at all, keeps a sandbox with its loopback only).
 */
export const expectedKernel = (state: model.CnmState, layout: LabLayout, ports: ReadonlyArray<ExpectedPort> = []): KernelFacts => {
  const names = labNamespaces(layout)
  const underlay = underlayFacts(names)
  if (layout.outside !== undefined) {
    underlay.push(linkFact({ name: "ul-out", kind: "veth", up: true, mtu: DEFAULT_MTU, group: CNMLAB_LINK_GROUP, master: UNDERLAY_BRIDGE, peer: `${names.outside}/${HOST_UPLINK}` }))
  }
  const expected = new Map<string, ReadonlyArray<string>>([
    [names.underlay, underlay],
    [names.host, hostFacts(state, names, ports, layout.outside)],
  ])
  if (layout.outside !== undefined) expected.set(names.outside, outsideFacts(names, layout.outside))
  for (const container of model.containers(state)) {
    if (!onHostNetwork(state, container.name)) expected.set(names.sandbox(container.name), sandboxFacts(state, container.name, names.host))
  }
  return expected
}

/** each expected namespace's facts by position, made once: the same expectation meets many reads */
const factIndexes = new WeakMap<ReadonlyArray<string>, ReadonlyMap<string, number> | undefined>()

/** undefined when a fact is listed twice (an expectation lists none twice; the slow path tells) */
const factIndex = (facts: ReadonlyArray<string>): ReadonlyMap<string, number> | undefined => {
  if (factIndexes.has(facts)) return factIndexes.get(facts)
  const index = new Map(facts.map((fact, i) => [fact, i] as const))
  const made = index.size === facts.length ? index : undefined
  factIndexes.set(facts, made)
  return made
}

/** the two agree: every fact read back is expected, none twice, as many as expected */
const sameFacts = (want: ReadonlyArray<string>, have: ReadonlyArray<string>): boolean => {
  if (want.length !== have.length) return false
  const index = factIndex(want)
  if (index === undefined) return false
  const seen = new Uint8Array(want.length)
  for (const fact of have) {
    const at = index.get(fact)
    if (at === undefined || seen[at] === 1) return false
    seen[at] = 1
  }
  return true
}

/** readable lines for what one side has and the other has not ([] when they agree) */
export const kernelDifferences = (expected: KernelFacts, actual: KernelFacts): string[] => {
  if (expected.size === actual.size) {
    let same = true
    for (const [ns, want] of expected) {
      const have = actual.get(ns)
      if (have === undefined || !sameFacts(want, have)) {
        same = false
        break
      }
    }
    if (same) return []
  }
  const lines: string[] = []
  for (const ns of [...new Set([...expected.keys(), ...actual.keys()])].sort()) {
    const want = expected.get(ns)
    const have = actual.get(ns)
    if (want === undefined) {
      lines.push(`${ns}: a namespace left behind`)
      continue
    }
    if (have === undefined) {
      lines.push(`${ns}: a namespace missing`)
      continue
    }
    const counts = new Map<string, number>()
    for (const fact of want) counts.set(fact, (counts.get(fact) ?? 0) + 1)
    for (const fact of have) counts.set(fact, (counts.get(fact) ?? 0) - 1)
    for (const [fact, count] of counts) {
      if (count > 0) lines.push(`${ns}: missing ${fact}${count > 1 ? ` (×${count})` : ""}`)
      if (count < 0) lines.push(`${ns}: left behind ${fact}${count < -1 ? ` (×${-count})` : ""}`)
    }
  }
  return lines
}

/** plain data (what a kernel read gives: objects, arrays, strings, numbers, booleans) equal throughout */
const sameData = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false
    return true
  }
  const x = a as Record<string, unknown>
  const y = b as Record<string, unknown>
  let keys = 0
  for (const key in x) {
    keys++
    if (!sameData(x[key], y[key])) return false
  }
  for (const _ in y) keys--
  return keys === 0
}

/**
 * Reads a lab's namespaces back as facts, again and again: a namespace read back exactly as the
 * time before keeps the facts made then (most commands change one or two namespaces of a lab),
 * so only what changed is spelled out anew. Every namespace is still read every time.
 */
export class KernelReader {
  private readonly last = new Map<string, { readonly state: NsState; readonly facts: ReadonlyArray<string> }>()
  private readonly names: ReturnType<typeof labNamespaces>

  constructor(
    private readonly kernel: KernelShape,
    layout: LabLayout,
  ) {
    this.names = labNamespaces(layout)
  }

  read(): Effect.Effect<KernelFacts, KernelError> {
    const names = this.names
    return this.kernel.namespaces().pipe(
      Effect.flatMap((all) =>
        Effect.forEach(
          all.filter((ns) => ns.startsWith(names.all)),
          (ns) => this.kernel.read(ns).pipe(Effect.map((state) => [ns, this.factsOf(ns, state)] as const)),
        ),
      ),
      Effect.map((entries) => {
        for (const ns of this.last.keys()) if (!entries.some(([name]) => name === ns)) this.last.delete(ns)
        return new Map(entries)
      }),
    )
  }

  private factsOf(ns: string, state: NsState): ReadonlyArray<string> {
    const before = this.last.get(ns)
    if (before !== undefined && sameData(before.state, state)) return before.facts
    const facts = readFacts(state, this.names.sandboxPrefix)
    this.last.set(ns, { state, facts })
    return facts
  }
}

/** every namespace of the lab as the kernel holds it, as facts */
export const readKernel = (kernel: KernelShape, layout: LabLayout): Effect.Effect<KernelFacts, KernelError> =>
  new KernelReader(kernel, layout).read()
