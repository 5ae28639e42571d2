/**
 * The contract's section "Ports, the outside world, services" (../shared/spec/scenario-v1.md) as
 * effect Schemas: `outside`, a container's `listen` and `ports`, `services`, the service steps and
 * `connect` expectations, each as the file writes it and in the normalized form the runner takes.
 * The `-p` and `listen` syntax itself is model/port-spec.ts's; rules.ts applies it.
 */
import { Schema } from "effect"
import { endpointModes } from "../model/service-types.ts"

/** a machine beyond the hosts, the Internet's stand-in */
export const OutsideEntry = Schema.Struct({ address: Schema.String })

/** `80/tcp`, `53/udp`, `80` */
export const ListenList = Schema.Array(Schema.String)
/** `docker run -p` values */
export const PortList = Schema.Array(Schema.String)

/** the keys a container gains (in `containers` and in `createContainer`) */
export const containerServiceFields = {
  listen: Schema.optionalKey(ListenList),
  ports: Schema.optionalKey(PortList),
}

const Replicas = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
  message: "replicas must be a whole number, 0 or more",
})

export const ServiceEntry = Schema.Struct({
  name: Schema.String,
  networks: Schema.optionalKey(Schema.Array(Schema.String)),
  replicas: Schema.optionalKey(Replicas),
  /** the host of each replica, in order */
  placement: Schema.optionalKey(Schema.Array(Schema.String)),
  endpointMode: Schema.optionalKey(Schema.Literals(endpointModes)),
  ...containerServiceFields,
})
export type ServiceEntry = typeof ServiceEntry.Type

export const ScaleServiceEntry = Schema.Struct({
  name: Schema.String,
  replicas: Replicas,
  placement: Schema.optionalKey(Schema.Array(Schema.String)),
})

export const connectProtocols = ["tcp", "udp"] as const

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({ message: "count must be a whole number, 1 or more" })

export const connectOutcomes = ["answer", "refused", "closed", "unreachable", "timeout"] as const
export type ConnectOutcome = (typeof connectOutcomes)[number]

/** one connection check: `to` is a container, a service, an address, `outside` or `host:port` */
export const ConnectEntry = Schema.Struct({
  from: Schema.String,
  to: Schema.String,
  port: Schema.optionalKey(Schema.Int),
  proto: Schema.optionalKey(Schema.Literals(connectProtocols)),
  /** to a container: its address on this network (default: one it shares with `from`, else its first) */
  network: Schema.optionalKey(Schema.String),
  /** null: nobody answers */
  answeredBy: Schema.optionalKey(Schema.NullOr(Schema.String)),
  count: Schema.optionalKey(Count),
  /** who must have answered at least once over `count` connections */
  spread: Schema.optionalKey(Schema.Array(Schema.String)),
  /** the source address the server saw */
  seenFrom: Schema.optionalKey(Schema.String),
  /** the report's outcome (an extension of the contract's keys: answeredBy null does not say how nobody answered) */
  outcome: Schema.optionalKey(Schema.Literals(connectOutcomes)),
})
export type ConnectEntry = typeof ConnectEntry.Type

// ---------------------------------------------------------------------------------------------
// Normalized
// ---------------------------------------------------------------------------------------------

/** replicas and placement agree (rules.ts), networks and listen/ports are lists */
export const ServiceSpec = Schema.Struct({
  name: Schema.String,
  networks: Schema.Array(Schema.String),
  replicas: Schema.Number,
  /** the host of each replica: as written, or round robin over the hosts in order */
  placement: Schema.Array(Schema.String),
  endpointMode: Schema.Literals(endpointModes),
  listen: ListenList,
  ports: PortList,
})
export type ServiceSpec = typeof ServiceSpec.Type

/** `to` split as it was written; the runner finds what the name is when it checks */
export const ConnectTarget = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("name"), name: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("address"), address: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("outside") }),
  Schema.Struct({ kind: Schema.Literal("hostPort"), host: Schema.String }),
])
export type ConnectTarget = typeof ConnectTarget.Type

export const ConnectExpectation = Schema.Struct({
  from: Schema.String,
  /** as written */
  to: Schema.String,
  target: ConnectTarget,
  port: Schema.Number,
  proto: Schema.Literals(connectProtocols),
  network: Schema.optionalKey(Schema.String),
  answeredBy: Schema.optionalKey(Schema.NullOr(Schema.String)),
  count: Schema.optionalKey(Schema.Number),
  spread: Schema.optionalKey(Schema.Array(Schema.String)),
  seenFrom: Schema.optionalKey(Schema.String),
  outcome: Schema.optionalKey(Schema.Literals(connectOutcomes)),
})
export type ConnectExpectation = typeof ConnectExpectation.Type
