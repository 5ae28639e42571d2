/**
 * The Docker 20.10 swarm fixtures (test/fixtures/docker-swarm/, docs/docker-20.10.md §9) replayed
 * on the simulator, and on the linux backend when root: every step must end as it did on Docker,
 * the file's expectations (Docker's answers) must hold, and the final networks (per host for local
 * ones, once for swarm ones), endpoints with their host, the reach matrix and every container
 * against every host's underlay address must be what Docker showed. The expected values come from
 * each fixture's raw observations (<name>.docker.json), never from the model.
 *
 * Where Docker's answer is not the contract's, the difference is written down below with its
 * reason, and the test holds cnmlab to the contract's answer instead: nothing is skipped silently.
 * Fixtures that need what a backend lacks are skipped by name with the reason, and printed.
 */
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { DockerEndpointObservation } from "./docker-observations.ts"
import { describe, expect, it, type TestContext } from "vitest"
import { loadScenarioFile, renderScenarioInvalid } from "../scenarios/load.ts"
import type { Scenario } from "../scenarios/schema.ts"
import type { Report } from "../scenarios/report.ts"
import { runScenario } from "../scenarios/runner.ts"
import { linuxAvailability, linuxCapabilities } from "../backends/linux/index.ts"

const fixtureDirectory = fileURLToPath(new URL("./fixtures/docker-swarm/", import.meta.url))

/** the parts of a swarm recorder observation file (docker-swarm/recorder/record.py) these tests read */
interface SwarmObservations {
  readonly steps: ReadonlyArray<{ readonly index: number; readonly op: string; readonly ok: boolean; readonly error?: { readonly code: string | null } }>
  readonly final: {
    readonly networks: ReadonlyArray<{
      readonly host: string
      readonly name: string
      readonly driver: string
      readonly scope: "local" | "swarm"
      readonly internal: boolean
      readonly subnet: string | null
      readonly gateway: string | null
      readonly bridgeInterfaceAddress: string | null
    }>
    readonly containers: ReadonlyArray<{
      readonly host: string
      readonly name: string
      readonly endpoints: ReadonlyArray<DockerEndpointObservation>
    }>
    readonly reach: ReadonlyArray<{ readonly from: string; readonly to: string; readonly network: string; readonly address: string; readonly reachable: boolean }>
    readonly reachHosts: ReadonlyArray<{ readonly from: string; readonly host: string; readonly address: string; readonly reachable: boolean }>
  }
}

type StepOutcome = { readonly index: number; readonly op: string; readonly ok: boolean; readonly code: string | null }

/**
 * Where the contract decides otherwise than Docker 20.10 did: cnmlab's answer for those steps, and
 * what differs in the final state as a consequence. Each one is checked, not skipped: the test
 * holds cnmlab to exactly these answers in place of Docker's.
 */
interface ContractDecision {
  readonly reason: string
  /** cnmlab's outcome for these steps, in place of Docker's */
  readonly steps: ReadonlyArray<StepOutcome>
  /** expectations of the file that the decision makes wrong: step (undefined: the final expect), kind and what the file expected */
  readonly expectationsNotHeld: ReadonlyArray<{
    readonly step: number | undefined
    readonly kind: string
    readonly expected: Readonly<Record<string, unknown>>
  }>
  /** Docker's final swarm network rows replaced by cnmlab's (name → row, or null: cnmlab has no such network) */
  readonly networks: Readonly<Record<string, NetworkRow | null>>
  /** Docker's address → cnmlab's, in endpoints (and their MACs, made from the address) and reach cells */
  readonly addresses: Readonly<Record<string, string>>
  /** cnmlab's answer for the reach cells between containers on different hosts on this network */
  readonly acrossHosts?: { readonly network: string; readonly reachable: boolean }
}

const refusedAtCreate = (index: number, code: string): StepOutcome => ({ index, op: "createNetwork", ok: false, code })
const attachToNothing = (index: number): StepOutcome => ({ index, op: "createContainer", ok: false, code: "NetworkNotFound" })

const contractDecisions: Readonly<Record<string, ContractDecision>> = {
  "overlay-allocation-failures": {
    reason:
      "Docker's swarm accepts an overlay network it cannot allocate (overlapping subnet, taken VNI, bad MTU) and fails each attach after 20 s " +
      "(docs/docker-20.10.md §9.6); the contract refuses it at create (SubnetOverlap, InvalidOption for the VNI and the MTU) and a failed step " +
      "changes nothing, so the attaches that follow find no such network, the file's expectError InvalidOption on the bad-MTU attach becomes " +
      "NetworkNotFound, and the bad-MTU network uses up no pool: `next` takes 10.0.2.0/24 where Docker's took 10.0.3.0/24",
    steps: [
      refusedAtCreate(0, "SubnetOverlap"),
      attachToNothing(1),
      refusedAtCreate(2, "InvalidOption"),
      attachToNothing(3),
      refusedAtCreate(4, "InvalidOption"),
      attachToNothing(5),
    ],
    expectationsNotHeld: [{ step: 5, kind: "error", expected: { code: "InvalidOption" } }],
    networks: {
      overlap: null,
      samevni: null,
      badmtu: null,
      next: { name: "next", host: null, scope: "swarm", driver: "overlay", internal: false, subnet: "10.0.2.0/24", gateway: "10.0.2.1" },
    },
    addresses: { "10.0.3.2": "10.0.2.2" },
  },
}

/**
 * Whether this machine's kernel takes ESP states. The encrypted fixture was recorded on a kernel
 * that does not: where this one does not either, the linux backend must answer as Docker did
 * (the overlay driver leaves the states out as Docker does, and the receiving host drops the VXLAN
 * that comes in clear); where it does, linux carries ESP as the simulator does.
 */
const linuxEsp = linuxAvailability().ok ? (await linuxCapabilities()).esp : false

const encryptedCarried: ContractDecision = {
  reason:
    "the recording kernel refused ESP states, so Docker's encrypted overlay carried nothing between hosts; this backend carries ESP on the " +
    "underlay, so the encrypted network works across hosts as the plain one beside it does",
  steps: [],
  expectationsNotHeld: [
    ["e1", "e2"],
    ["e3", "e2"],
    ["e2", "e1"],
    ["e2", "e3"],
  ].map(([from, to]) => ({ step: undefined, kind: "reach", expected: { from, to, network: "sec", reachable: false } })),
  networks: {},
  addresses: {},
  acrossHosts: { network: "sec", reachable: true },
}

/** where a backend has what the recording kernel lacked, by backend: checked like the contract's decisions */
const capabilityDecisions: Readonly<Record<"sim" | "linux", Readonly<Record<string, ContractDecision>>>> = {
  sim: { "overlay-encrypted": encryptedCarried },
  linux: linuxEsp ? { "overlay-encrypted": encryptedCarried } : {},
}

/** fixtures a backend cannot run, by name, with the reason (printed, never silent) */
const skippedOn: Readonly<Record<"sim" | "linux", Readonly<Record<string, string>>>> = {
  sim: {
    "kernel-lacks-ipvlan-dummy-vlan":
      "Docker's answers here are the recording kernel's missing ipvlan, dummy and 802.1Q links; the simulator has all three, so they are not its answers",
  },
  linux: {
    "kernel-lacks-ipvlan-dummy-vlan": "capability: this kernel lacks ipvlan, dummy links and 802.1Q VLAN links",
  },
}

/**
 * Differences from Docker that are cnmlab's to fix (the model or the controller, not this test):
 * run with `it.fails`, so each one is printed by name and the test turns red the day it is fixed
 * and the entry can go.
 */
const passthruStaleMac =
  "Docker gives a passthru child its address-derived MAC after creating it, and the kernel puts that MAC on the parent (eth0); " +
  "when the child goes the kernel restores eth0's own MAC, but the other hosts keep the child's MAC for eth0's address in their " +
  "neighbour caches (measured: still REACHABLE and unanswered 4 s later; Linux revalidates only after reachable_time, 15-45 s), " +
  "so Docker's host2 stays unreachable right after its child is removed. cnmlab's passthru child keeps eth0's MAC (the kernel's " +
  "inherit), so host2 answers at once: to follow Docker, the driver must set the child's MAC after creation, the simulator carry " +
  "it to the parent and keep neighbour caches across changes, and the model call such probes time-dependent"

const knownDifferences: Readonly<Record<"sim" | "linux", Readonly<Record<string, string>>>> = {
  sim: { "macvlan-passthru": passthruStaleMac },
  linux: { "macvlan-passthru": passthruStaleMac },
}

const loadFixture = (name: string): Scenario => {
  const loaded = loadScenarioFile(`${fixtureDirectory}${name}.yaml`)
  if (!loaded.ok) throw new Error(renderScenarioInvalid(loaded.error))
  return loaded.scenario
}

/**
 * A driver this cnmlab does not register yet (drivers/registry.ts): the run stops at setup, or a
 * step Docker ran is refused with DriverNotFound. Such a fixture is pending, said by name.
 */
const missingDriver = (failure: unknown, report: Report | undefined, observed: SwarmObservations): string | undefined => {
  const pattern = /DriverNotFound: driver "([^"]+)" is not available/
  if (failure !== undefined) return pattern.exec(String(failure))?.[1]
  const refused = report?.steps.find(
    (step) => step.error?.code === "DriverNotFound" && observed.steps.find((docker) => docker.index === step.index)?.error?.code !== "DriverNotFound",
  )
  return refused === undefined ? undefined : (/driver "([^"]+)"/.exec(refused.error?.message ?? "")?.[1] ?? "?")
}

const fixtureNames = readdirSync(fixtureDirectory)
  .filter((file) => file.endsWith(".yaml"))
  .map((file) => file.slice(0, -".yaml".length))
  .sort()

const withoutPrefix = (cidr: string): string => cidr.split("/")[0] as string

const sorted = <A>(items: ReadonlyArray<A>, key: (item: A) => string): Array<A> =>
  [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))

const dockerSteps = (observed: SwarmObservations, decision: ContractDecision | undefined): Array<StepOutcome> =>
  observed.steps.map((step) => {
    const decided = decision?.steps.find((outcome) => outcome.index === step.index)
    return decided ?? { index: step.index, op: step.op, ok: step.ok, code: step.error?.code ?? null }
  })

const reportSteps = (report: Report): Array<StepOutcome> =>
  report.steps.map((step) => ({ index: step.index, op: step.op, ok: step.ok, code: step.error?.code ?? null }))

interface NetworkRow {
  readonly name: string
  readonly host: string | null
  readonly scope: string
  readonly driver: string
  readonly internal: boolean
  readonly subnet: string | null
  readonly gateway: string | null
}

const networkKey = (row: NetworkRow): string => `${row.name}\u0000${row.host ?? ""}`

/** a swarm network once (every host that lists it lists the same), a local one per host; the gateway as the bridge holds it */
const dockerNetworks = (observed: SwarmObservations, decision: ContractDecision | undefined): Array<NetworkRow> => {
  const rows = new Map<string, NetworkRow>()
  for (const network of observed.final.networks) {
    const bridgeAddress = network.bridgeInterfaceAddress === null ? null : withoutPrefix(network.bridgeInterfaceAddress)
    const row: NetworkRow = {
      name: network.name,
      host: network.scope === "swarm" ? null : network.host,
      scope: network.scope,
      driver: network.driver,
      internal: network.internal,
      subnet: network.subnet,
      gateway: network.gateway ?? bridgeAddress,
    }
    rows.set(networkKey(row), row)
  }
  for (const [name, replacement] of Object.entries(decision?.networks ?? {})) {
    rows.delete(`${name}\u0000`)
    if (replacement !== null) rows.set(networkKey(replacement), replacement)
  }
  return sorted([...rows.values()], networkKey)
}

const reportNetworks = (report: Report): Array<NetworkRow> =>
  sorted(
    report.networks.map((network) => ({
      name: network.name,
      host: network.host ?? null,
      scope: network.scope ?? "(none)",
      driver: network.driver,
      internal: network.internal,
      subnet: network.subnet ?? null,
      gateway: network.gateway ?? null,
    })),
    networkKey,
  )

const endpointKey = (endpoint: { container: string; network: string }): string => `${endpoint.container}\u0000${endpoint.network}`

/** a plain or CIDR address as cnmlab holds it where a contract decision renumbers it */
const renumbered = (address: string, decision: ContractDecision | undefined): string => {
  const [plain, prefix] = address.split("/") as [string, string | undefined]
  const replacement = decision?.addresses[plain]
  return replacement === undefined ? address : prefix === undefined ? replacement : `${replacement}/${prefix}`
}

/** Docker 20.10's MAC for an address it hands out: 02:42 and the address's four bytes */
const dockerMac = (address: string): string =>
  ["02", "42", ...withoutPrefix(address).split(".").map((byte) => Number(byte).toString(16).padStart(2, "0"))].join(":")

const dockerEndpoints = (observed: SwarmObservations, decision: ContractDecision | undefined) =>
  sorted(
    observed.final.containers.flatMap((container) =>
      container.endpoints
        .filter((endpoint) => endpoint.address !== null)
        .map((endpoint) => ({
          container: container.name,
          host: container.host,
          network: endpoint.network,
          address: renumbered(endpoint.address as string, decision),
          mac: renumbered(endpoint.address as string, decision) === endpoint.address ? endpoint.mac : dockerMac(renumbered(endpoint.address as string, decision)),
          interface: endpoint.interface,
        })),
    ),
    endpointKey,
  )

const reportEndpoints = (report: Report) =>
  sorted(
    report.endpoints.map((endpoint) => ({
      container: endpoint.container,
      host: endpoint.host ?? null,
      network: endpoint.network,
      address: endpoint.address,
      mac: endpoint.mac ?? null,
      interface: endpoint.interface,
    })),
    endpointKey,
  )

const reachCells = (cells: ReadonlyArray<{ from: string; to: string; address: string; reachable: boolean }>): Array<string> =>
  cells.map((cell) => `${cell.from} → ${cell.to} ${cell.address}: ${cell.reachable ? "yes" : "no"}`).sort()

const hostReachCells = (cells: ReadonlyArray<{ from: string; host: string; address: string; reachable: boolean }>) =>
  cells.map((cell) => `${cell.from} → host ${cell.host} ${cell.address}: ${cell.reachable ? "yes" : "no"}`).sort()

/** Docker's reach cells as cnmlab must answer them: renumbered, and across hosts where a decision says so */
const expectedReach = (observed: SwarmObservations, decision: ContractDecision | undefined) => {
  const hostOf = new Map(observed.final.containers.map((container) => [container.name, container.host]))
  const across = decision?.acrossHosts
  return observed.final.reach.map((cell) => ({
    ...cell,
    address: renumbered(cell.address, decision),
    reachable:
      across !== undefined && cell.network === across.network && hostOf.get(cell.from) !== hostOf.get(cell.to) ? across.reachable : cell.reachable,
  }))
}

const isExcused = (decision: ContractDecision | undefined, expectation: Report["expectations"][number]): boolean =>
  decision?.expectationsNotHeld.some(
    (known) =>
      known.step === expectation.step && known.kind === expectation.kind && JSON.stringify(known.expected) === JSON.stringify(expectation.expected),
  ) ?? false

const replay = (backend: "sim" | "linux", name: string) => async (context: TestContext) => {
  const scenario = loadFixture(name)
  const observed = JSON.parse(readFileSync(`${fixtureDirectory}${name}.docker.json`, "utf8")) as SwarmObservations
  const decision = contractDecisions[name] ?? capabilityDecisions[backend][name]

  let report: Report | undefined
  let failure: unknown
  try {
    report = await runScenario(scenario, { backend })
  } catch (error) {
    failure = error
  }
  const driver = missingDriver(failure, report, observed)
  if (driver !== undefined) {
    const note = `pending: driver "${driver}" is not registered in drivers/registry.ts yet`
    console.info(`${name} on ${backend}: ${note}`)
    return context.skip(note)
  }
  if (report === undefined) throw failure

  expect(report.expectations.filter((expectation) => !expectation.ok && !isExcused(decision, expectation)), "expectations that did not hold").toEqual([])
  // an excused expectation must really be one the decision makes wrong
  const excused = report.expectations.filter((expectation) => isExcused(decision, expectation))
  expect(excused.map((expectation) => expectation.ok)).toEqual((decision?.expectationsNotHeld ?? []).map(() => false))
  expect(reportSteps(report)).toEqual(dockerSteps(observed, decision))
  expect(reportNetworks(report)).toEqual(dockerNetworks(observed, decision))
  expect(reportEndpoints(report)).toEqual(dockerEndpoints(observed, decision))
  expect(reachCells(report.reach)).toEqual(reachCells(expectedReach(observed, decision)))
  expect(hostReachCells(report.reachHosts ?? [])).toEqual(hostReachCells(observed.final.reachHosts))
}

const isRoot = process.getuid?.() === 0

describe("Docker 20.10 swarm fixtures", () => {
  it("finds the recorded fixtures", () => {
    expect(fixtureNames.length).toBeGreaterThanOrEqual(17)
  })

  // every decision names a fixture that exists, so none outlives the fixture it was written for
  const decisions = [
    ...Object.entries(contractDecisions).map(([name, decision]) => [name, "the contract decides otherwise than Docker", decision] as const),
    ...(["sim", "linux"] as const).flatMap((backend) =>
      Object.entries(capabilityDecisions[backend]).map(([name, decision]) => [name, `${backend} has what Docker's kernel lacked`, decision] as const),
    ),
  ]
  for (const [name, what, decision] of decisions) {
    it(`${name}: ${what} (${decision.reason})`, () => {
      expect(fixtureNames).toContain(name)
    })
  }

  for (const backend of ["sim", "linux"] as const) {
    const unavailable = backend === "linux" && !isRoot ? "the linux backend needs root" : undefined
    describe(`on ${backend}`, () => {
      for (const name of fixtureNames) {
        const skipReason = unavailable ?? skippedOn[backend][name]
        if (skipReason !== undefined) {
          it.skip(`${name} (skipped: ${skipReason})`, () => {})
          continue
        }
        const timeout = backend === "linux" ? 180_000 : 60_000
        const known = knownDifferences[backend][name]
        if (known !== undefined) it.fails(`${name} (known difference, cnmlab's to fix: ${known})`, replay(backend, name), timeout)
        else it(name, replay(backend, name), timeout)
      }
    })
  }
})
