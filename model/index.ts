/** The formal CNM model: state and operations, invariants, predictions, and the IPv4 helpers. */
export * from "./types.ts"
export * from "./errors.ts"
export * from "./state.ts"
export * from "./invariants.ts"
export * from "./predict.ts"
export * from "./cidr.ts"
export { defaultPools, macForAddress } from "./ipam.ts"
export { parseGoBool, iccEnabled, optionKeys } from "./options.ts"
