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

/** Go's strconv.Atoi on a 64-bit host: optional sign, decimal digits, within int64 */
export const parseGoInt = (text: string): bigint | undefined => {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined
  const value = BigInt(text)
  return value >= -(2n ** 63n) && value < 2n ** 63n ? value : undefined
}

/** what the kernel accepts as the MTU of a veth (ETH_MIN_MTU … ETH_MAX_MTU); 0 means the default */
const minimumMtu = 68n
const maximumMtu = 65535n

/** the bridge driver's boolean options; other drivers do not read them, so any value passes there */
const bridgeBooleanOptions = [optionKeys.enableIcc, optionKeys.enableIpMasquerade] as const

/** drivers that read the MTU option (macvlan and ipvlan ignore it) */
const driversReadingMtu: ReadonlySet<DriverName> = new Set(["bridge", "overlay"])

/**
 * The first problem with the options of a new network, or undefined when Docker would accept
 * them. Docker 20.10 only parses the values here (strconv.ParseBool, strconv.Atoi), with its
 * message; an MTU that parses but that no interface can take (10, 70000) is accepted, and every
 * attach to the network fails later (see mtuProblem).
 */
export const optionProblem = (driver: DriverName, options: Readonly<Record<string, string>>): string | undefined => {
  if (driver === "bridge") {
    for (const key of bridgeBooleanOptions) {
      const value = options[key]
      if (value !== undefined && parseGoBool(value) === undefined) {
        return `failed to parse ${key} value: ${value} (strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax)`
      }
    }
  }
  const mtuText = options[optionKeys.mtu]
  if (mtuText !== undefined && driversReadingMtu.has(driver) && parseGoInt(mtuText) === undefined) {
    const reason = `strconv.Atoi: parsing ${JSON.stringify(mtuText)}: invalid syntax`
    return `failed to parse ${optionKeys.mtu} value: ${mtuText} (${reason})`
  }
  return undefined
}

/**
 * Why an endpoint cannot join a bridge network with this MTU option, if it cannot: the network
 * was created (the value parsed), but the kernel refuses the MTU on the container's veth, and
 * Docker 20.10 answers every attach with "failed to set MTU on host interface …: invalid argument".
 */
export const mtuProblem = (driver: DriverName, options: Readonly<Record<string, string>>): string | undefined => {
  const mtuText = options[optionKeys.mtu]
  if (driver !== "bridge" || mtuText === undefined) return undefined
  const mtu = parseGoInt(mtuText)
  if (mtu === undefined || mtu === 0n || (mtu >= minimumMtu && mtu <= maximumMtu)) return undefined
  return `failed to set MTU ${mtuText} on host interface: invalid argument`
}

/** a bridge network's boolean option that is on unless it says false */
const onUnlessFalse = (options: Readonly<Record<string, string>>, key: string): boolean => {
  const value = options[key]
  return value === undefined || parseGoBool(value) !== false
}

/** inter-container communication on a bridge network: on unless the option says false */
export const iccEnabled = (options: Readonly<Record<string, string>>): boolean => onUnlessFalse(options, optionKeys.enableIcc)

/** a bridge network's traffic leaves the host with the host's address: on unless the option says false */
export const masqueradeEnabled = (options: Readonly<Record<string, string>>): boolean =>
  onUnlessFalse(options, optionKeys.enableIpMasquerade)
