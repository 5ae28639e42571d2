import { parseGoBool } from "../model/options.ts"

/** a boolean option, or its default when absent; a bad value reads as the default (the model refuses it before drivers see it) */
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
