import type { Layer } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { Kernel } from "../../backends/Kernel.ts"
import type { Capabilities } from "../../backends/kernel-types.ts"
import { dnsCases } from "./cases/dns.ts"
import { firewallCases } from "./cases/firewall.ts"
import { linkCases } from "./cases/links.ts"
import { overlayCases } from "./cases/overlays.ts"
import { reachabilityCases } from "./cases/reachability.ts"
import { refusalCases } from "./cases/refusals.ts"
import { routeCases } from "./cases/routes.ts"
import { serviceCases } from "./cases/services.ts"
import { xfrmCases } from "./cases/xfrm.ts"
import { type Harness, type HarnessHandle, openHarness } from "./harness.ts"

/**
 * The conformance suite: one set of expectations about the Kernel interface, every one of them
 * what real Linux does (measured in throwaway namespaces), run against any backend. Each case gets
 * a fresh layer build and its own namespaces (cnm-cf-<random>-…), deleted by kernel.close() after it.
 *
 * Capabilities must be known when the cases are declared (a case a backend cannot run is skipped
 * by name, with the reason in its title), so the caller states them; the first case checks that
 * the kernel agrees with what was stated.
 */

export interface ConformanceOptions {
  /** skip the whole suite, saying why (for instance "needs root") */
  readonly skip?: string
  /** what the backend supports; default: everything */
  readonly capabilities?: Capabilities
}

const everything: Capabilities = {
  veth: true,
  bridge: true,
  vxlan: true,
  macvlan: true,
  ipvlan: true,
  dummy: true,
  vlan: true,
  firewall: true,
  esp: true,
  ipvs: false,
}

export const conformanceSuite = (
  name: string,
  makeLayer: () => Layer.Layer<Kernel>,
  opts: ConformanceOptions = {},
): void => {
  const caps = opts.capabilities ?? everything
  const title = opts.skip === undefined ? `${name}: kernel conformance` : `${name}: kernel conformance (skipped: ${opts.skip})`
  describe.skipIf(opts.skip !== undefined)(title, () => {
    let handle: HarnessHandle | undefined
    const harness = (): Harness => {
      if (handle === undefined) throw new Error("the harness is opened in beforeEach")
      return handle.harness
    }
    beforeEach(async () => {
      handle = await openHarness(makeLayer())
    })
    afterEach(async () => {
      const closing = handle
      handle = undefined
      await closing?.dispose()
    })

    it("reports the capabilities the suite was told", () => {
      expect(harness().kernel.capabilities).toEqual(caps)
    })

    describe("namespaces and links", () => linkCases(harness, caps))
    describe("refusals", () => refusalCases(harness, caps))
    describe("addresses and routes", () => routeCases(harness))
    describe("reachability", () => reachabilityCases(harness))
    describe("firewall", () => firewallCases(harness, caps))
    describe("overlays", () => overlayCases(harness, caps))
    describe("dns", () => dnsCases(harness))
    describe("sockets, NAT and load balancing", () => serviceCases(harness, caps))
    describe("ipsec (xfrm)", () => xfrmCases(harness, caps))
  })
}
