/**
 * The scenario format, version 1 (../shared/spec/scenario-v1.md), as effect Schemas, in two shapes:
 *
 * - `ScenarioFile`: what a file may hold, key by key and type by type. Decoding it with
 *   `onExcessProperty: "error"` is what makes a misspelt key an error. Value formats (CIDRs, names)
 *   and cross-references are checked by rules.ts, because whether they apply depends on the
 *   surrounding step (a step with `expectError` may be wrong on purpose).
 * - `Scenario`: the normalized form the runner consumes, with every default filled in and the
 *   short/long network forms merged into one.
 */
import { Schema } from "effect"
import { errorCodes } from "../model/errors.ts"
import type { ErrorCode } from "../model/errors.ts"
import {
  ConnectEntry,
  ConnectExpectation,
  OutsideEntry,
  ScaleServiceEntry,
  ServiceEntry,
  ServiceSpec,
  containerServiceFields,
} from "./schema-services.ts"

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** the codes a step may expect: the contract's table (KernelError is a backend fault, never expected) */
export const expectableErrorCodes = errorCodes.filter(
  (code): code is Exclude<ErrorCode, "KernelError"> => code !== "KernelError",
)
export type ExpectableErrorCode = (typeof expectableErrorCodes)[number]

const ExpectErrorCode = Schema.Literals(expectableErrorCodes).annotate({
  message: `expectError must be one of the contract's error codes: ${expectableErrorCodes.join(", ")}`,
})

/** Docker's driver options are a string map: `false` unquoted is a boolean, and Docker would refuse it */
const DriverOptions = Schema.Record(Schema.String, Schema.String)

const Aliases = Schema.Array(Schema.String)

// ---------------------------------------------------------------------------------------------
// The file as written
// ---------------------------------------------------------------------------------------------

export const HostEntry = Schema.Struct({
  name: Schema.String,
  /** its eth0 on the underlay, "192.168.99.1/24" or a plain address */
  address: Schema.optionalKey(Schema.String),
})

/** the physical network between the hosts */
export const UnderlayEntry = Schema.Struct({ subnet: Schema.optionalKey(Schema.String) })

/** a host's own settings for a local network on several hosts: each host has its own IPAM */
export const NetworkHostLongForm = Schema.Struct({
  host: Schema.String,
  ipRange: Schema.optionalKey(Schema.String),
  gateway: Schema.optionalKey(Schema.String),
})

/** `- host1` (short form) or `- { host: host2, ipRange: …, gateway: … }` (long form) */
export const NetworkHostEntry = Schema.Union([Schema.String, NetworkHostLongForm]).annotate({
  identifier: "a host name or { host, ipRange, gateway }",
})
export type NetworkHostEntry = typeof NetworkHostEntry.Type

export const NetworkEntry = Schema.Struct({
  name: Schema.String,
  driver: Schema.optionalKey(Schema.String),
  subnet: Schema.optionalKey(Schema.String),
  gateway: Schema.optionalKey(Schema.String),
  ipRange: Schema.optionalKey(Schema.String),
  internal: Schema.optionalKey(Schema.Boolean),
  options: Schema.optionalKey(DriverOptions),
  /** local scope: the hosts it is created on, default all of them */
  hosts: Schema.optionalKey(Schema.Array(NetworkHostEntry)),
})
export type NetworkEntry = typeof NetworkEntry.Type

export const AttachmentLongForm = Schema.Struct({
  network: Schema.String,
  ip: Schema.optionalKey(Schema.String),
  aliases: Schema.optionalKey(Aliases),
})

/** `- net-a` (short form) or `- { network: net-a, ip: …, aliases: […] }` (long form) */
export const AttachmentEntry = Schema.Union([Schema.String, AttachmentLongForm]).annotate({
  identifier: "a network name or { network, ip, aliases }",
})
export type AttachmentEntry = typeof AttachmentEntry.Type

export const ContainerEntry = Schema.Struct({
  name: Schema.String,
  host: Schema.optionalKey(Schema.String),
  networks: Schema.optionalKey(Schema.Array(AttachmentEntry)),
  ...containerServiceFields,
})
export type ContainerEntry = typeof ContainerEntry.Type

/** what every reach check has, whatever it is checked against */
const reachFields = { from: Schema.String, reachable: Schema.Boolean }

/** exactly one of `to` (a container) and `toHost` (a host's underlay address): checked by rules.ts */
export const ReachEntry = Schema.Struct({
  ...reachFields,
  to: Schema.optionalKey(Schema.String),
  toHost: Schema.optionalKey(Schema.String),
  network: Schema.optionalKey(Schema.String),
})
export type ReachEntry = typeof ReachEntry.Type

export const ResolveEntry = Schema.Struct({
  from: Schema.String,
  name: Schema.String,
  addresses: Schema.optionalKey(Schema.Array(Schema.String)),
})

/*
 * An empty `expect:`, `reach:` or `resolve:` (YAML null) means nothing to check, as if the key were
 * left out. The Docker recorder (test/fixtures/docker/recorder/gen.py) writes an in-step `expect:`
 * with nothing under it when Docker gave no pair to ping and no name was asked, and people write it
 * too; refusing such a file would reject answers taken from a real engine.
 */
export const ExpectBlock = Schema.Struct({
  reach: Schema.optionalKey(Schema.NullOr(Schema.Array(ReachEntry))),
  resolve: Schema.optionalKey(Schema.NullOr(Schema.Array(ResolveEntry))),
  connect: Schema.optionalKey(Schema.NullOr(Schema.Array(ConnectEntry))),
})
export type ExpectBlock = typeof ExpectBlock.Type

const OptionalExpectBlock = Schema.optionalKey(Schema.NullOr(ExpectBlock))

/** the operation keys of a step; a step holds exactly one of them (checked by rules.ts) */
export const stepOperations = [
  "connect",
  "disconnect",
  "createNetwork",
  "removeNetwork",
  "createContainer",
  "removeContainer",
  "createService",
  "removeService",
  "scaleService",
  "expect",
] as const
export type StepOperation = (typeof stepOperations)[number]

/**
 * All operation keys optional in one struct rather than a union of seven: a union would answer a
 * misspelt key with seven "missing key" complaints, one per member it failed to match.
 */
export const StepEntry = Schema.Struct({
  connect: Schema.optionalKey(
    Schema.Struct({
      container: Schema.String,
      network: Schema.String,
      ip: Schema.optionalKey(Schema.String),
      aliases: Schema.optionalKey(Aliases),
    }),
  ),
  disconnect: Schema.optionalKey(Schema.Struct({ container: Schema.String, network: Schema.String })),
  createNetwork: Schema.optionalKey(NetworkEntry),
  /** `host`: only that host's copy of a local-scope network */
  removeNetwork: Schema.optionalKey(Schema.Struct({ name: Schema.String, host: Schema.optionalKey(Schema.String) })),
  createContainer: Schema.optionalKey(ContainerEntry),
  removeContainer: Schema.optionalKey(Schema.Struct({ name: Schema.String })),
  createService: Schema.optionalKey(ServiceEntry),
  removeService: Schema.optionalKey(Schema.Struct({ name: Schema.String })),
  scaleService: Schema.optionalKey(ScaleServiceEntry),
  expect: OptionalExpectBlock,
  expectError: Schema.optionalKey(ExpectErrorCode),
})
export type StepEntry = typeof StepEntry.Type

export const ScenarioFile = Schema.Struct({
  version: Schema.Literal(1).annotate({ message: "must be the number 1, the only version of the format" }),
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  swarm: Schema.optionalKey(Schema.Boolean),
  underlay: Schema.optionalKey(UnderlayEntry),
  hosts: Schema.optionalKey(Schema.Array(HostEntry)),
  networks: Schema.optionalKey(Schema.Array(NetworkEntry)),
  outside: Schema.optionalKey(OutsideEntry),
  containers: Schema.optionalKey(Schema.Array(ContainerEntry)),
  /** swarm: true only */
  services: Schema.optionalKey(Schema.Array(ServiceEntry)),
  steps: Schema.optionalKey(Schema.Array(StepEntry)),
  expect: OptionalExpectBlock,
})
export type ScenarioFile = typeof ScenarioFile.Type

// ---------------------------------------------------------------------------------------------
// The normalized scenario (what the runner consumes)
// ---------------------------------------------------------------------------------------------

/** assignable to model/lab-types.ts HostRequest */
export const HostSpec = Schema.Struct({ name: Schema.String, address: Schema.optionalKey(Schema.String) })
export type HostSpec = typeof HostSpec.Type

/** assignable to model/lab-types.ts HostNetworkSettings */
export const NetworkHostSpec = NetworkHostLongForm
export type NetworkHostSpec = typeof NetworkHostSpec.Type

/** assignable to model/lab-types.ts LabNetworkRequest; driver defaults to bridge, options to {} */
export const NetworkSpec = Schema.Struct({
  name: Schema.String,
  driver: Schema.String,
  subnet: Schema.optionalKey(Schema.String),
  gateway: Schema.optionalKey(Schema.String),
  ipRange: Schema.optionalKey(Schema.String),
  internal: Schema.Boolean,
  options: DriverOptions,
  /** absent: every host (a swarm network is on every host anyway) */
  hosts: Schema.optionalKey(Schema.Array(NetworkHostSpec)),
})
export type NetworkSpec = typeof NetworkSpec.Type

/** assignable to model/types.ts AttachRequest */
export const Attachment = Schema.Struct({
  network: Schema.String,
  ip: Schema.optionalKey(Schema.String),
  aliases: Aliases,
})
export type Attachment = typeof Attachment.Type

/**
 * `networks` is never empty: no networks in the file means Docker's default `bridge`. `listen`
 * and `ports` only when the file gives them, so a file without them normalizes as it always did.
 */
export const ContainerSpec = Schema.Struct({
  name: Schema.String,
  host: Schema.String,
  networks: Schema.Array(Attachment),
  listen: Schema.optionalKey(Schema.Array(Schema.String)),
  ports: Schema.optionalKey(Schema.Array(Schema.String)),
})
export type ContainerSpec = typeof ContainerSpec.Type

/** to a container: every address it has (on `network` only, when given) */
export const ContainerReachExpectation = Schema.Struct({
  ...reachFields,
  to: Schema.String,
  network: Schema.optionalKey(Schema.String),
})
export type ContainerReachExpectation = typeof ContainerReachExpectation.Type

/** to a host: its underlay address */
export const HostReachExpectation = Schema.Struct({ ...reachFields, toHost: Schema.String })
export type HostReachExpectation = typeof HostReachExpectation.Type

export const ReachExpectation = Schema.Union([ContainerReachExpectation, HostReachExpectation])
export type ReachExpectation = typeof ReachExpectation.Type

/** `addresses` absent: only report the answer; `[]`: the name must not resolve */
export const ResolveExpectation = ResolveEntry
export type ResolveExpectation = typeof ResolveExpectation.Type

/** `connect` only when some block of the file has connect rows */
export const Expectations = Schema.Struct({
  reach: Schema.Array(ReachExpectation),
  resolve: Schema.Array(ResolveExpectation),
  connect: Schema.optionalKey(Schema.Array(ConnectExpectation)),
})
export type Expectations = typeof Expectations.Type

const expectError = Schema.optionalKey(Schema.Literals(expectableErrorCodes))

export const ConnectStep = Schema.Struct({
  op: Schema.Literal("connect"),
  container: Schema.String,
  network: Schema.String,
  ip: Schema.optionalKey(Schema.String),
  aliases: Aliases,
  expectError,
})
export const DisconnectStep = Schema.Struct({
  op: Schema.Literal("disconnect"),
  container: Schema.String,
  network: Schema.String,
  expectError,
})
export const CreateNetworkStep = Schema.Struct({
  op: Schema.Literal("createNetwork"),
  network: NetworkSpec,
  expectError,
})
export const RemoveNetworkStep = Schema.Struct({
  op: Schema.Literal("removeNetwork"),
  name: Schema.String,
  host: Schema.optionalKey(Schema.String),
  expectError,
})
export const CreateContainerStep = Schema.Struct({
  op: Schema.Literal("createContainer"),
  container: ContainerSpec,
  expectError,
})
export const RemoveContainerStep = Schema.Struct({
  op: Schema.Literal("removeContainer"),
  name: Schema.String,
  expectError,
})
export const CreateServiceStep = Schema.Struct({
  op: Schema.Literal("createService"),
  service: ServiceSpec,
  expectError,
})
export const RemoveServiceStep = Schema.Struct({
  op: Schema.Literal("removeService"),
  name: Schema.String,
  expectError,
})
/** `placement` absent: round robin over the hosts, as a new service's */
export const ScaleServiceStep = Schema.Struct({
  op: Schema.Literal("scaleService"),
  name: Schema.String,
  replicas: Schema.Number,
  placement: Schema.Array(Schema.String),
  expectError,
})
/** checks the state at this point of the run; it cannot expect an error */
export const ExpectStep = Schema.Struct({
  op: Schema.Literal("expect"),
  expect: Expectations,
})

export const Step = Schema.Union([
  ConnectStep,
  DisconnectStep,
  CreateNetworkStep,
  RemoveNetworkStep,
  CreateContainerStep,
  RemoveContainerStep,
  CreateServiceStep,
  RemoveServiceStep,
  ScaleServiceStep,
  ExpectStep,
])
export type Step = typeof Step.Type

export const Scenario = Schema.Struct({
  version: Schema.Literal(1),
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  /** the hosts form a Docker swarm */
  swarm: Schema.Boolean,
  /** the underlay's subnet; absent: the model's default */
  underlay: Schema.optionalKey(Schema.String),
  /** never empty; the file's default is one host named host1 */
  hosts: Schema.Array(HostSpec),
  /**
   * the file declares hosts (or a swarm or an underlay): the report then speaks of hosts, with
   * `scope` and `host` on its rows and `reachHosts`; a single-host file's report stays as it was
   */
  severalHosts: Schema.Boolean,
  /** the user networks, in creation order; the predefined bridge/host/none are not listed */
  networks: Schema.Array(NetworkSpec),
  /** the outside machine's address with its prefix, when the file declares one */
  outside: Schema.optionalKey(Schema.String),
  containers: Schema.Array(ContainerSpec),
  /** only when the file lists services */
  services: Schema.optionalKey(Schema.Array(ServiceSpec)),
  steps: Schema.Array(Step),
  /** checked on the final state */
  expect: Expectations,
})
export type Scenario = typeof Scenario.Type
