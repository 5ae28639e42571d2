/** Go's strconv.ParseBool, which Docker uses for boolean driver options */
export const parseGoBool = (value: string): boolean | undefined => {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false
  return undefined
}

/** a boolean option, or its default when absent; a bad value reads as the default (checkOptions refuses it earlier) */
export const boolOption = (options: Readonly<Record<string, string>>, key: string, fallback: boolean): boolean => {
  const raw = options[key]
  return raw === undefined ? fallback : (parseGoBool(raw) ?? fallback)
}

export const MTU_OPTION = "com.docker.network.driver.mtu"

/** the MTU a driver should set, or undefined for the kernel default */
export const mtuOption = (options: Readonly<Record<string, string>>): number | undefined => {
  const raw = options[MTU_OPTION]
  if (raw === undefined) return undefined
  const mtu = Number(raw)
  return Number.isInteger(mtu) && mtu > 0 ? mtu : undefined
}

export const checkMtu = (options: Readonly<Record<string, string>>): string | undefined => {
  const raw = options[MTU_OPTION]
  if (raw === undefined) return undefined
  const mtu = Number(raw)
  return /^\d+$/.test(raw) && (mtu === 0 || (mtu >= 68 && mtu <= 65535))
    ? undefined
    : `invalid value "${raw}" for ${MTU_OPTION}: an integer MTU from 68 to 65535 (0 = default)`
}
