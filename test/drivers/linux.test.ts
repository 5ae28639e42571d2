import { Layer } from "effect"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect } from "vitest"
import { layer, linuxAvailability, linuxCapabilities } from "../../backends/linux/index.ts"
import { type Harness, type HarnessHandle, openHarness } from "../conformance/harness.ts"
import { rootSnapshot } from "../linux/root-snapshot.ts"
import { driverCases, type Tally } from "./cases.ts"
import { portCases } from "./port-cases.ts"

// The drivers' steps on the real kernel, in namespaces of this run only (cnm-cf-<random>-…); the
// cases the kernel cannot run (ipvlan, dummy, 802.1Q here) are skipped by name. Needs root.
const availability = linuxAvailability()
const capabilities = availability.ok ? await linuxCapabilities() : undefined
const title = availability.ok
  ? "linux: overlay, macvlan and ipvlan drivers across hosts"
  : `linux: overlay, macvlan and ipvlan drivers across hosts (skipped: needs root: ${availability.reason})`

describe.skipIf(capabilities === undefined)(title, () => {
  const tally: Tally = { reachable: 0, unreachable: 0 }
  let handle: HarnessHandle | undefined
  let rootBefore = ""
  beforeAll(() => {
    rootBefore = rootSnapshot()
  })
  beforeEach(async () => {
    handle = await openHarness(Layer.orDie(layer))
  })
  afterEach(async () => {
    await handle?.dispose()
    handle = undefined
  })
  afterAll(() => {
    console.log(`drivers on linux: ${tally.reachable} reachable and ${tally.unreachable} unreachable pairs measured with real echoes`)
    // every case worked inside namespaces of its own: the machine's namespace is as it was
    expect(JSON.parse(rootSnapshot())).toEqual(JSON.parse(rootBefore))
  })
  if (capabilities !== undefined) driverCases(() => handle?.harness as Harness, capabilities, tally)
})

describe.skipIf(capabilities === undefined)(
  capabilities === undefined ? `linux: the bridge driver's published ports (skipped: needs root)` : "linux: the bridge driver's published ports",
  () => {
    const tally = { connections: 0 }
    let handle: HarnessHandle | undefined
    beforeEach(async () => {
      handle = await openHarness(Layer.orDie(layer))
    })
    afterEach(async () => {
      await handle?.dispose()
      handle = undefined
    })
    afterAll(() => console.log(`published ports on linux: ${tally.connections} real connections`))
    portCases(() => handle?.harness as Harness, tally)
  },
)
