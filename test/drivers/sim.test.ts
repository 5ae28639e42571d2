import { afterAll, afterEach, beforeEach, describe } from "vitest"
import { allCapabilities, layer, layerWith } from "../../backends/sim/layer.ts"
import type { Capabilities } from "../../backends/kernel-types.ts"
import { type Harness, type HarnessHandle, openHarness } from "../conformance/harness.ts"
import { driverCases, type Tally } from "./cases.ts"
import { portCases } from "./port-cases.ts"

const suite = (name: string, makeLayer: () => typeof layer, caps: Capabilities): void => {
  describe(`${name}: overlay, macvlan and ipvlan drivers across hosts`, () => {
    const tally: Tally = { reachable: 0, unreachable: 0 }
    let handle: HarnessHandle | undefined
    beforeEach(async () => {
      handle = await openHarness(makeLayer())
    })
    afterEach(async () => {
      await handle?.dispose()
      handle = undefined
    })
    afterAll(() => {
      console.log(`drivers on ${name}: ${tally.reachable} reachable and ${tally.unreachable} unreachable pairs measured`)
    })
    driverCases(() => handle?.harness as Harness, caps, tally)
  })
}

suite("sim", () => layer, allCapabilities)
// as this machine's kernel is: the cases it cannot run are skipped by name
suite("sim without ipvlan, dummy and vlan", () => layerWith({ capabilities: { ipvlan: false, dummy: false, vlan: false, esp: false } }), {
  ...allCapabilities,
  ipvlan: false,
  dummy: false,
  vlan: false,
  esp: false,
})

describe("sim: the bridge driver's published ports", () => {
  const tally = { connections: 0 }
  let handle: HarnessHandle | undefined
  beforeEach(async () => {
    handle = await openHarness(layer)
  })
  afterEach(async () => {
    await handle?.dispose()
    handle = undefined
  })
  afterAll(() => console.log(`published ports on sim: ${tally.connections} connections walked`))
  portCases(() => handle?.harness as Harness, tally)
})
