/**
 * Driver options (`-o key=value`) as Docker 20.10 reads them: booleans with Go's
 * strconv.ParseBool, the MTU with strconv.Atoi. Unknown keys are accepted, as Docker does.
 */
import type { DriverName } from "./types.ts"

export const optionKeys = {
  enableIcc: "com.docker.network.bridge.enable_icc",
  enableIpMasquerade: "com.docker.network.bridge.enable_ip_masquerade",
  mtu: "com.docker.network.driver.mtu",
  bridgeName: "com.docker.network.bridge.name",
} as const

const goTrue = new Set(["1", "t", "T", "TRUE", "true", "True"])
const goFalse = new Set(["0", "f", "F", "FALSE", "false", "False"])

/** Go's strconv.ParseBool; undefined where Go returns an error */
export const parseGoBool = (text: string): boolean | undefined =>
  goTrue.has(text) ? true : goFalse.has(text) ? false : undefined

/** Go's strconv.Atoi for the values an MTU can take: optional sign, decimal digits */
const parseGoInt = (text: string): number | undefined => (/^[+-]?[0-9]+$/.test(text) ? Number(text) : undefined)

const minimumMtu = 68
const maximumMtu = 65535

/** the bridge driver's boolean options; other drivers do not read them, so any value passes there */
const bridgeBooleanOptions = [optionKeys.enableIcc, optionKeys.enableIpMasquerade] as const

/** the first problem with the options of a new network, or undefined when Docker would accept them */
export const optionProblem = (driver: DriverName, options: Readonly<Record<string, string>>): string | undefined => {
  if (driver === "bridge") {
    for (const key of bridgeBooleanOptions) {
      const value = options[key]
      if (value !== undefined && parseGoBool(value) === undefined) {
        return `failed to parse ${key} value: invalid syntax (${JSON.stringify(value)})`
      }
    }
  }
  const mtuText = options[optionKeys.mtu]
  if (mtuText !== undefined) {
    const mtu = parseGoInt(mtuText)
    if (mtu === undefined || (mtu !== 0 && (mtu < minimumMtu || mtu > maximumMtu))) {
      return `invalid MTU ${JSON.stringify(mtuText)}: an integer between ${minimumMtu} and ${maximumMtu} (0 for the default)`
    }
  }
  return undefined
}

/** inter-container communication on a bridge network: on unless the option says false */
export const iccEnabled = (options: Readonly<Record<string, string>>): boolean => {
  const value = options[optionKeys.enableIcc]
  return value === undefined || parseGoBool(value) !== false
}
