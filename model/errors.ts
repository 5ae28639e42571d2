/**
 * The stable error codes of the scenario contract (../shared/spec/scenario-v1.md). Every path —
 * model, controller, scenario step, CLI — reports a refusal with one of these.
 */
export const errorCodes = [
  "InvalidName",
  "NetworkNameConflict",
  "NetworkNotFound",
  "ContainerNotFound",
  "ContainerNameConflict",
  "DriverNotFound",
  "InvalidSubnet",
  "SubnetOverlap",
  "InvalidGateway",
  "AddressOutOfRange",
  "AddressInUse",
  "StaticAddressNeedsSubnet",
  "PoolExhausted",
  "EndpointExists",
  "NotConnected",
  "ActiveEndpoints",
  "PredefinedNetwork",
  "HostNetworkExclusive",
  "NoneNetworkExclusive",
  "InvalidOption",
  "SwarmRequired",
  "ParentInUse",
  "ParentNotFound",
  "PortInUse",
  "InvalidPort",
  /** a second default route in one sandbox: an ipvlan l3 network's `default dev` beside a gateway or another l3 (the kernel's EEXIST, Docker's failed join) */
  "DefaultRouteExists",
  /** not in the contract's table: the kernel refused what the model allowed (a backend fault) */
  "KernelError",
] as const

export type ErrorCode = (typeof errorCodes)[number]

/**
 * The codes only a lab gives (model/lab-ops.ts): they need the swarm, or the links of a host,
 * which one host's CnmState does not know.
 */
export const labErrorCodes: ReadonlyArray<ErrorCode> = ["SwarmRequired", "ParentInUse", "ParentNotFound", "DefaultRouteExists"]

/**
 * The codes of published ports (model/ports.ts): a container's `ports`, which the host operations
 * of the CNM model do not take; reached by the port model's own tests.
 */
export const portErrorCodes: ReadonlyArray<ErrorCode> = ["PortInUse", "InvalidPort"]

export interface CnmError {
  readonly code: ErrorCode
  readonly message: string
}

export const cnmError = (code: ErrorCode, message: string): CnmError => ({ code, message })
