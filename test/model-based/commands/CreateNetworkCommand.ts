import fc from "fast-check"
import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, runBoth } from "../LabModel.ts"
import { choose, freeNetworkNames, type Pick, pickOf, refusedNetworkNames } from "../targets.ts"

/**
 * A subnet: from IPAM's default pools, a user one (10.<block>.0.0/<prefix>: the small ones run out
 * of addresses, the same block on two networks overlaps), or one that does not parse.
 */
export type SubnetPick =
  | { readonly kind: "auto" }
  | { readonly kind: "user"; readonly block: Pick; readonly prefix: 24 | 29 | 30 }
  | { readonly kind: "invalid"; readonly k: number }

/** a user gateway: a valid one high in the subnet, the broadcast address, one outside, one that does not parse */
export type GatewayPick = "high" | "broadcast" | "outside" | "garbage"

export interface NetworkSpec {
  readonly name: Pick
  readonly subnet: SubnetPick
  readonly gateway: GatewayPick | undefined
  readonly driver: "bridge" | "nosuch" | "null" | "host"
  readonly internal: boolean
  readonly icc: boolean
  readonly masquerade: boolean
  /** with a user subnet of /24 or /29: dynamic addresses from its upper half only (--ip-range) */
  readonly ipRange: boolean
  /** com.docker.network.driver.mtu: every link of the network (bridge, both ends of each veth) takes it */
  readonly mtu: number | undefined
  /** enable_icc with a value Go's ParseBool refuses */
  readonly badOption: boolean
}

const BLOCKS = 6
const invalidSubnets = ["10.0.0.0/33", "10.300.0.0/24", "subnet"] as const

const weighted = <T>(...choices: ReadonlyArray<readonly [number, T]>): fc.Arbitrary<T> =>
  fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })))

/** `refusals`: also the choices Docker refuses (bad subnet text, bad gateway, unknown driver, bad option) */
export const networkSpec = (fitWeight: number, refusals: boolean): fc.Arbitrary<NetworkSpec> => {
  const user = fc.record({
    kind: fc.constant("user" as const),
    block: pickOf(fitWeight),
    // small subnets run out of addresses: not in a starting topology, which must get built
    prefix: refusals ? weighted<24 | 29 | 30>([6, 24], [2, 29], [2, 30]) : weighted<24 | 29 | 30>([6, 24], [1, 29]),
  })
  const auto = fc.constant({ kind: "auto" } as const)
  const invalid = fc.nat({ max: 99 }).map((k) => ({ kind: "invalid", k }) as const)
  const rare = (weight: number) => (refusals ? weight : 0)
  const choices = <T>(...list: ReadonlyArray<readonly [number, T]>) => weighted(...list.filter(([weight]) => weight > 0))
  return fc.record({
    name: pickOf(fitWeight),
    subnet: fc.oneof({ weight: 4, arbitrary: auto }, { weight: 5, arbitrary: user }, ...(refusals ? [{ weight: 1, arbitrary: invalid }] : [])),
    gateway: choices<GatewayPick | undefined>([24, undefined], [3, "high"], [rare(1), "broadcast"], [rare(1), "outside"], [rare(1), "garbage"]),
    driver: choices<NetworkSpec["driver"]>([40, "bridge"], [rare(1), "nosuch"], [rare(1), "null"], [rare(1), "host"]),
    internal: weighted([3, false], [1, true]),
    icc: weighted([3, true], [1, false]),
    masquerade: weighted([7, true], [1, false]),
    ipRange: weighted([3, false], [1, true]),
    mtu: weighted<number | undefined>([4, undefined], [1, 1400]),
    badOption: choices([40, false], [rare(1), true]),
  })
}

const blockOf = (k: number, prefix: number): string => `10.${k % BLOCKS}.0.0/${prefix}`

const subnetText = (state: model.CnmState, subnet: SubnetPick): string | undefined => {
  switch (subnet.kind) {
    case "auto":
      return undefined
    case "invalid":
      return invalidSubnets[subnet.k % invalidSubnets.length]
    case "user": {
      const taken = model.networks(state).flatMap((n) => (n.subnet === undefined ? [] : [model.parseCidr(n.subnet) as model.Cidr]))
      const blocks = Array.from({ length: BLOCKS }, (_, k) => k)
      const free = blocks.filter((k) => !taken.some((t) => model.cidrsOverlap(t, model.parseCidr(blockOf(k, 16)) as model.Cidr)))
      return blockOf(choose(subnet.block, free, blocks), subnet.prefix)
    }
  }
}

/** the upper half of a user subnet (10.k.0.128/25 of a /24); none where half would leave no address for a container */
const ipRangeText = (subnet: string | undefined): string | undefined => {
  const cidr = subnet === undefined ? undefined : model.parseCidr(subnet)
  if (cidr === undefined || cidr.prefix > 29) return undefined
  return `${model.formatIPv4(cidr.base + 2 ** (31 - cidr.prefix))}/${cidr.prefix + 1}`
}

const gatewayText = (subnet: string | undefined, gateway: GatewayPick): string => {
  const cidr = subnet === undefined ? undefined : model.parseCidr(subnet)
  if (gateway === "outside" || cidr === undefined) return "192.0.2.1"
  if (gateway === "garbage") return "10.0.0.x"
  const last = cidr.base + 2 ** (32 - cidr.prefix) - 1
  return model.formatIPv4(gateway === "broadcast" ? last : last - 1)
}

export class CreateNetworkCommand implements LabCommand {
  private request: model.NetworkRequest | undefined

  constructor(readonly spec: NetworkSpec) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const spec = this.spec
    const subnet = subnetText(m.state, spec.subnet)
    const options: Record<string, string> = {}
    if (!spec.icc || spec.badOption) options["com.docker.network.bridge.enable_icc"] = spec.badOption ? "maybe" : "false"
    if (!spec.masquerade) options["com.docker.network.bridge.enable_ip_masquerade"] = "false"
    if (spec.mtu !== undefined) options["com.docker.network.driver.mtu"] = String(spec.mtu)
    const ipRange = spec.ipRange && spec.subnet.kind === "user" ? ipRangeText(subnet) : undefined
    const request: model.NetworkRequest = {
      name: choose(spec.name, freeNetworkNames(m.state), refusedNetworkNames(m.state)),
      ...(spec.driver === "bridge" ? {} : { driver: spec.driver }),
      ...(subnet === undefined ? {} : { subnet }),
      ...(spec.gateway === undefined ? {} : { gateway: gatewayText(subnet, spec.gateway) }),
      ...(ipRange === undefined ? {} : { ipRange }),
      internal: spec.internal,
      options,
    }
    this.request = request
    runBoth(m, r, "createNetwork", (l) => model.createLabNetwork(l, request), (lab) => lab.createNetwork(request))
  }

  toString = () => `createNetwork(${this.request === undefined ? "?" : JSON.stringify(this.request)})`
}
