import type { HostContext, PublishedPort, UnderlayLeg } from "../drivers/Driver.ts"
import * as model from "../model/index.ts"
import type { LabState, OverlayInfo, VlanInfo } from "../model/lab-types.ts"
import type { Network } from "../model/types.ts"
import type { SwarmKeys } from "./keys.ts"
import { firewallPublishedOn } from "./service-mesh.ts"

/** the link each host has on the underlay, as on a Docker host */
export const UNDERLAY_DEV = "eth0"
/** the underlay's MTU: Ethernet's, as on the machines Docker's defaults assume */
export const UNDERLAY_MTU = 1500

export const underlayLegOf = (lab: LabState, host: string): UnderlayLeg | undefined => {
  const found = lab.hosts.find((h) => h.name === host)
  return found === undefined ? undefined : { dev: UNDERLAY_DEV, address: found.address, mtu: UNDERLAY_MTU }
}

/**
 * The host as a driver sees it, between the lab states before and after a change: the
 * network list made only when a driver asks (joins and leaves never do, and they are the hot
 * path), and a network's overlay or macvlan/ipvlan data from the state that still has it (a
 * network being deleted is only in `before`). A class, not an object literal with a getter: V8
 * keeps such a literal in dictionary mode, and its accessor outlives young-generation
 * collections together with everything the getter captured, the model state included (measured
 * on the bench: 4 MB promoted per scavenge, 40% of the run in GC; with the class, under 1 MB).
 */
export class LabHostContext implements HostContext {
  private listed: ReadonlyArray<Network> | undefined
  private leg: UnderlayLeg | undefined | null = null
  private ports: ReadonlyArray<PublishedPort> | undefined | null = null

  constructor(
    readonly ns: string,
    readonly host: string,
    private readonly before: LabState,
    private readonly after: LabState,
    private readonly state: model.CnmState,
    readonly esp: boolean,
    readonly swarmKeys: SwarmKeys | undefined,
  ) {}

  get networks(): ReadonlyArray<Network> {
    return (this.listed ??= model.networks(this.state))
  }

  /** the ports published on this host after the change (the routing mesh's too); undefined when none were before or after (the rules stay as they were) */
  get published(): ReadonlyArray<PublishedPort> | undefined {
    if (this.ports === null) {
      const index = this.after.hosts.findIndex((h) => h.name === this.host)
      const after = index < 0 ? [] : firewallPublishedOn(this.after, index)
      this.ports = after.length > 0 || (index >= 0 && firewallPublishedOn(this.before, index).length > 0) ? after : undefined
    }
    return this.ports
  }

  get underlay(): UnderlayLeg | undefined {
    if (this.leg === null) this.leg = underlayLegOf(this.after, this.host)
    return this.leg
  }

  readonly overlayOf = (network: Network): OverlayInfo | undefined =>
    model.overlayInfo(this.after, network.name) ?? model.overlayInfo(this.before, network.name)

  readonly vlanOf = (network: Network): VlanInfo | undefined =>
    model.vlanInfo(this.after, this.host, network.name) ?? model.vlanInfo(this.before, this.host, network.name)
}
