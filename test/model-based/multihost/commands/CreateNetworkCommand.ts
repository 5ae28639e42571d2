import fc from "fast-check"
import * as model from "../../../../model/index.ts"
import { type Pick, pickOf } from "../../targets.ts"
import type { NetworkKind } from "../coverage.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { freeNetworkNames, ghostHost, hostNames, networkNames, pickFrom, weighted } from "../picks.ts"

/** what a backend's kernel can build: the generators leave out what it cannot (the differential on linux) */
export interface KernelKinds {
  readonly ipvlan: boolean
  /** a macvlan or ipvlan network without a parent gets a dummy link */
  readonly dummy: boolean
  /** an `eth0.N` parent is an 802.1Q link */
  readonly vlan: boolean
  /** an encrypted overlay's ESP states can be installed */
  readonly esp: boolean
}

export const everyKind: KernelKinds = { ipvlan: true, dummy: true, vlan: true, esp: true }

export type Driver = "bridge" | "overlay" | "macvlan" | "ipvlan"
export type Parent = "eth0" | "vlan" | "none" | "missing"

export interface MhNetworkSpec {
  readonly name: Pick
  readonly driver: Driver
  readonly internal: boolean
  /** overlay: the MTU option, "bad" one Docker refuses; bridge: 1400 or none */
  readonly mtu: "1400" | "bad" | undefined
  /** a user subnet from a small set of blocks (two alike overlap), else IPAM's pools */
  readonly subnet: Pick | undefined
  readonly parent: Parent
  /** macvlan or ipvlan mode: an index into the driver's modes; "bad" one Docker refuses */
  readonly mode: number | "bad"
  /** macvlan/ipvlan on a shared segment: disjoint per-host ip-ranges (without, two hosts hand out one address: a race) */
  readonly ipRanges: boolean
  /** overlay: `--opt encrypted` (IPsec ESP between the hosts) */
  readonly encrypted: boolean
  /** local scope: every host (undefined), one of them, or a host the lab does not have */
  readonly hosts: { readonly one: Pick } | "ghost" | undefined
}

/** `refusals`: also what Docker refuses (a missing parent, a bad mode or MTU, a host that is not there) */
export const mhNetworkSpec = (fit: number, refusals: boolean, kinds: KernelKinds): fc.Arbitrary<MhNetworkSpec> => {
  const rare = (weight: number) => (refusals ? weight : 0)
  return fc.record({
    name: pickOf(fit),
    driver: weighted<Driver>([4, "bridge"], [5, "overlay"], [3, "macvlan"], [kinds.ipvlan ? 2 : 0, "ipvlan"]),
    internal: weighted([3, false], [1, true]),
    mtu: weighted<MhNetworkSpec["mtu"]>([4, undefined], [1, "1400"], [rare(1), "bad"]),
    subnet: fc.option(pickOf(fit), { freq: 2, nil: undefined }),
    parent: weighted<Parent>([6, "eth0"], [kinds.vlan ? 2 : 0, "vlan"], [kinds.dummy ? 2 : 0, "none"], [rare(4), "missing"]),
    mode: fc.oneof({ weight: 12, arbitrary: fc.nat({ max: 11 }) }, ...(refusals ? [{ weight: 2, arbitrary: fc.constant("bad" as const) }] : [])),
    ipRanges: weighted([6, true], [1, false]),
    encrypted: weighted([4, false], [kinds.esp ? 1 : 0, true]),
    hosts: fc.oneof(
      { weight: 6, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: pickOf(fit).map((one) => ({ one })) },
      ...(refusals ? [{ weight: 1, arbitrary: fc.constant("ghost" as const) }] : []),
    ),
  })
}

/** the underlay's subnet, a gateway nobody holds, and a /27 of its upper half per host */
const UNDERLAY = { subnet: "192.168.99.0/24", gateway: "192.168.99.254", range: (i: number) => `192.168.99.${128 + 32 * i}/27` }
const vlanIds = [10, 20] as const
const vlanSegment = (id: number) => ({ subnet: `10.${100 + id}.0.0/24`, gateway: `10.${100 + id}.0.254`, range: (i: number) => `10.${100 + id}.0.${128 + 32 * i}/27` })

/** the kind of network a resolved request is, for the distribution */
export const kindOf = (request: model.LabNetworkRequest): NetworkKind => {
  const options = request.options ?? {}
  if (request.driver === "overlay") {
    if (options.encrypted !== undefined) return "overlay-encrypted"
    return request.internal === true ? "overlay-internal" : options["com.docker.network.driver.mtu"] !== undefined ? "overlay-mtu" : "overlay"
  }
  if (request.driver === "ipvlan") return options.ipvlan_mode === "l3" ? "ipvlan-l3" : "ipvlan-l2"
  if (request.driver === "macvlan") return options.parent === undefined ? "macvlan-dummy" : options.parent.includes(".") ? "macvlan-vlan" : "macvlan-eth0"
  return "bridge"
}

/** the request a spec stands for in this lab */
export const resolveNetwork = (lab: model.LabState, spec: MhNetworkSpec): model.LabNetworkRequest => {
  const taken = networkNames(lab)
  const name = pickFrom(spec.name, freeNetworkNames(lab), [...taken, "bridge", "ingress", ""])
  const hosts = hostNames(lab)
  const targets = spec.hosts === undefined ? hosts : spec.hosts === "ghost" ? [ghostHost] : [pickFrom(spec.hosts.one, hosts, hosts)]
  const on = spec.hosts === undefined ? {} : { hosts: targets }
  const internal = spec.internal ? { internal: true } : {}
  switch (spec.driver) {
    case "bridge": {
      const subnet = spec.subnet === undefined ? {} : { subnet: `10.${spec.subnet.k % 4}.0.0/24` }
      const options: Record<string, string> = spec.mtu === "1400" ? { "com.docker.network.driver.mtu": "1400" } : {}
      return { name, ...subnet, ...internal, options, ...on }
    }
    case "overlay": {
      // one pick in four a /29 (five addresses: the load balancers, a VIP and a task or two fill it: PoolExhausted)
      const subnet = spec.subnet === undefined ? {} : { subnet: spec.subnet.k % 4 === 3 ? "10.23.0.0/29" : `10.${20 + (spec.subnet.k % 3)}.0.0/24` }
      const mtu: Record<string, string> = spec.mtu === undefined ? {} : { "com.docker.network.driver.mtu": spec.mtu === "bad" ? "abc" : spec.mtu }
      return { name, driver: "overlay", ...subnet, ...internal, options: spec.encrypted ? { ...mtu, encrypted: "" } : mtu }
    }
    case "macvlan":
    case "ipvlan": {
      const modes = spec.driver === "macvlan" ? model.macvlanModes : model.ipvlanModes
      const mode = spec.mode === "bad" ? (spec.driver === "macvlan" ? "foo" : "l3s") : (modes[spec.mode % modes.length] as string)
      const options: Record<string, string> = { [`${spec.driver}_mode`]: mode }
      let segment: typeof UNDERLAY | undefined
      if (spec.parent === "eth0") {
        options.parent = "eth0"
        segment = UNDERLAY
      } else if (spec.parent === "vlan") {
        const id = vlanIds[(spec.subnet?.k ?? 0) % vlanIds.length] as number
        options.parent = `eth0.${id}`
        segment = vlanSegment(id)
      } else if (spec.parent === "missing") options.parent = "eth9"
      // an ipvlan l3 network routes its own subnet: IPAM's pools; a dummy parent is a segment of the host's own.
      // A non-internal one adds `default dev ethN` at join: beside another default route that is DefaultRouteExists
      if (mode === "l3") return { name, driver: spec.driver, ...internal, options, ...on }
      if (segment === undefined) return { name, driver: spec.driver, ...internal, options, ...on }
      const perHost = spec.ipRanges ? { hosts: targets.map((host) => (host === ghostHost ? host : { host, ipRange: segment.range(hosts.indexOf(host)) })) } : on
      return { name, driver: spec.driver, subnet: segment.subnet, gateway: segment.gateway, ...internal, options, ...perHost }
    }
  }
}

export class CreateNetworkCommand implements MhCommand {
  private request: model.LabNetworkRequest | undefined

  constructor(readonly spec: MhNetworkSpec) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const request = (this.request = resolveNetwork(m.lab, this.spec))
    runOnBoth(m, r, {
      kind: "createNetwork",
      onModel: (lab) => {
        const outcome = model.createLabNetwork(lab, request)
        if (outcome.ok) r.coverage?.made(kindOf(request))
        return outcome
      },
      onLab: (lab) => lab.createNetwork(request),
    })
  }

  toString = () => `createNetwork(${this.request === undefined ? "?" : JSON.stringify(this.request)})`
}
