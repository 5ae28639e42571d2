/**
 * Mutations a reviewer would try, each a one-place change to the code under test, and the test
 * files of `npm test` that should notice it. run.ts makes one, runs those files, and puts the
 * file back; docs/mutations.md has what the runs showed. `from` must occur exactly once.
 */
export interface Mutation {
  readonly id: string
  readonly what: string
  readonly file: string
  readonly from: string
  readonly to: string
  /** which sets of test files (run.ts, testSets) should catch it */
  readonly sets: ReadonlyArray<TestSet>
}

export type TestSet = "sim" | "model" | "fixtures" | "linux" | "nat"

export const mutations: ReadonlyArray<Mutation> = [
  {
    id: "bridge-left",
    what: "removeNetwork leaves its bridge (the bridge driver's deleteNetwork has no linkDel)",
    file: "drivers/bridge/driver.ts",
    from: `    step("bridge.device", [{ op: "linkDel", ns: host.ns, name: bridgeName(network) }]),\n`,
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "aliases-dropped",
    what: "aliases never enter the embedded DNS (the controller's DNS entry holds the container's name only)",
    file: "controller/dns-plan.ts",
    from: "  for (let i = 0; i < endpoint.aliases.length; i++) names.push(endpoint.aliases[i] as string)\n",
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "no-learning",
    what: "the simulator's bridges do not learn (every unicast frame is flooded)",
    file: "backends/sim/l2.ts",
    from: "    if (blocked === undefined) bridge.learned.set(this.frame.srcMac, inPort)\n",
    to: "",
    sets: ["sim"],
  },
  {
    id: "icc-rule",
    what: "the icc=false rule is not installed (frames between two ports of that bridge pass)",
    file: "drivers/bridge/firewall.ts",
    from: "      switched.push({ match: { bridge: br }, verdict: drop, comment: `${network.name}: icc disabled` })\n",
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "veth-left",
    what: "disconnect leaves its veth (the bridge driver's leave deletes nothing)",
    file: "drivers/bridge/driver.ts",
    from: `at.sandboxClosing ? [] : [step("bridge.veth", [{ op: "linkDel", ns: host.ns, name: at.hostIf }])],`,
    to: "[],",
    sets: ["sim", "linux"],
  },
  {
    id: "iprange-ignored",
    what: "IPAM ignores --ip-range (dynamic addresses from the whole subnet)",
    file: "model/ipam.ts",
    from: "  ipRange === undefined\n    ? { first: 0,",
    to: "  true\n    ? { first: 0,",
    sets: ["model", "sim"],
  },
  {
    id: "gateway-not-booked",
    what: "IPAM does not book the gateway: the first container gets the gateway's address",
    file: "model/ipam.ts",
    from: "  const booked = IntTrie.set(holders, gatewayOffset, gatewayHolder)\n",
    to: "  const booked = holders\n",
    sets: ["model", "sim"],
  },
  {
    id: "static-last-allowed",
    what: "static address check off by one: the subnet's broadcast address is not reserved",
    file: "model/ipam.ts",
    from: "IntTrie.set(IntTrie.set(IntTrie.empty<number>(), 0, reservedHolder), size - 1, reservedHolder)",
    to: "IntTrie.set(IntTrie.empty<number>(), 0, reservedHolder)",
    sets: ["model", "sim"],
  },
  {
    id: "pool-order",
    what: "default pools in another order (192.168.0.0/16's /20s before 172.17-31)",
    file: "model/ipam.ts",
    from: `  ...splitCidr(cidr("172.16.0.0/12"), 16).slice(1),\n  ...splitCidr(cidr("192.168.0.0/16"), 20),\n`,
    to: `  ...splitCidr(cidr("192.168.0.0/16"), 20),\n  ...splitCidr(cidr("172.16.0.0/12"), 16).slice(1),\n`,
    sets: ["model", "sim"],
  },
  {
    id: "dns-kept-on-disconnect",
    what: "disconnect keeps the container's names in the embedded DNS of that network",
    file: "controller/Controller.ts",
    from: `      if (!isGatewayLeg(change.before, endpoint.container, endpoint)) dns = withName(dns, "remove", this.networkIn(before, endpoint.network), endpoint)\n`,
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "dns-kept-on-remove",
    what: "a removed container's names stay in the embedded DNS",
    file: "controller/Controller.ts",
    from: `      if (!isGatewayLeg(lab, name, endpoint)) dns = withName(dns, "remove", this.networkIn(state, endpoint.network), endpoint)\n`,
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "internal-first",
    what: "sandbox order puts internal networks first (default route and DNS order from an internal network)",
    file: "controller/sandbox-policy.ts",
    from: "a.internal !== b.internal ? (a.internal ? 1 : -1)",
    to: "a.internal !== b.internal ? (a.internal ? -1 : 1)",
    sets: ["sim", "linux"],
  },
  {
    id: "masquerade-missing",
    what: "no masquerade rule for a network's subnet",
    file: "drivers/bridge/firewall.ts",
    from: `        postrouting.push({ match: { src: subnet, oifNot: br }, verdict: { kind: "masquerade" } })\n`,
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "isolation-missing",
    what: "no isolation-stage-2 drop: traffic crosses from one bridge network to another",
    file: "drivers/bridge/firewall.ts",
    from: "      stage2.push({ match: { oif: br }, verdict: drop, comment: `${network.name}: isolation` })\n",
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "internal-leaks",
    what: "an internal network's traffic may leave it (the first internal isolation rule is missing)",
    file: "drivers/bridge/firewall.ts",
    from: "      stage1.push({ match: { iif: br, dstNot: subnet }, verdict: drop, comment: `${network.name}: internal` })\n",
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "veth-mtu",
    what: "the container end of a veth does not get the network's MTU",
    file: "drivers/bridge/driver.ts",
    from: "    if (mtu) peer.mtu = mtu\n",
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "probe-lost-reachable",
    what: "the simulator's probe says reachable when the echo request is dropped on the way",
    file: "backends/sim/probe.ts",
    from: "  if (answering instanceof Failure) return failed(answering, walk.trace)\n",
    to: "  if (answering instanceof Failure) return ANSWERED\n",
    sets: ["sim"],
  },
  {
    id: "dns-any-network",
    what: "name.network answered from any of the asker's networks, not only the named one",
    file: "backends/dns-records.ts",
    from: "        if (onlyNetwork !== undefined && network !== onlyNetwork) continue\n",
    to: "",
    sets: ["sim", "linux"],
  },
  {
    id: "route-not-moved",
    what: "disconnecting the network that carried the default route does not give the sandbox another",
    file: "controller/Controller.ts",
    from: "    const routeGone = sandbox.gateway !== undefined && leaving.includes(sandbox.gateway.network)\n",
    to: "    const routeGone = false\n",
    sets: ["sim", "linux"],
  },
  // NAT and load balancing (issue 9): published ports, docker-proxy, conntrack, dnatBalance
  {
    id: "dnat-dropped",
    what: "a published port gets no DNAT rule (the nat DOCKER chain only returns)",
    file: "drivers/bridge/firewall.ts",
    from: "    dnat.push({\n",
    to: "    void ({\n",
    sets: ["sim", "nat"],
  },
  {
    id: "hairpin-masquerade-dropped",
    what: "no hairpin masquerade for a container reaching its own published port",
    file: "drivers/bridge/firewall.ts",
    from: `    hairpin.push({ match: { src: container, dst: container, proto: port.proto, dport: port.containerPort }, verdict: { kind: "masquerade" } })\n`,
    to: "",
    sets: ["sim", "nat"],
  },
  {
    id: "reply-not-unnatted",
    what: "the simulator's conntrack does not undo DNAT on answers (a reply keeps the container's address as its source)",
    file: "backends/sim/walk.ts",
    from: "    packet.src = entry.origDst\n    packet.sport = entry.origDport\n",
    to: "",
    sets: ["sim", "nat"],
  },
  {
    id: "balance-one-backend",
    what: "the simulator's dnatBalance always picks its first backend",
    file: "backends/sim/firewall.ts",
    from: "rule.balance[rule.counter++ % rule.balance.length]",
    to: "rule.balance[0]",
    sets: ["sim", "nat"],
  },
  {
    id: "proxy-not-started",
    what: "no docker-proxy is started for a published port (connections from the host itself and hairpins go unanswered)",
    file: "controller/sockets.ts",
    from: "    for (const spec of is) if (!was.some((other) => sameProxy(spec, other))) starting.push(proxy(spec))\n",
    to: "",
    sets: ["sim", "nat"],
  },
  {
    id: "proxy-stopped-early",
    what: "a change on the host stops every running docker-proxy, not only those of ports that went (a port freed too early)",
    file: "controller/sockets.ts",
    from: "    for (const spec of was) if (!is.some((other) => sameProxy(spec, other))) stopping.push(unproxy(spec))\n",
    to: "    for (const spec of was) stopping.push(unproxy(spec))\n",
    sets: ["sim", "nat"],
  },
]
