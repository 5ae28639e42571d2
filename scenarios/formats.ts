/**
 * The value formats a scenario file must respect before anything runs. IPv4 parsing is the model's
 * own (model/cidr.ts), so the loader and the runner can never disagree on what an address is.
 */
import { parseCidrWithAddress, parseIPv4 } from "../model/cidr.ts"

export const isIpv4Address = (text: string): boolean => parseIPv4(text) !== undefined

/** host bits may be set ("10.1.0.5/24"): whether Docker accepts that is the model's call, not syntax */
export const isIpv4Cidr = (text: string): boolean => parseCidrWithAddress(text) !== undefined

/** a host's underlay address: with its prefix, or plain (then the underlay's prefix applies) */
export const isIpv4CidrOrAddress = (text: string): boolean => (text.includes("/") ? isIpv4Cidr(text) : isIpv4Address(text))

/** Docker's RestrictedNamePattern: at least two characters, the first one alphanumeric */
export const containerNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

export const isValidContainerName = (name: string): boolean => containerNamePattern.test(name)

/** keys starting with this are extensions: allowed at any level of a file, and ignored */
export const extensionKeyPrefix = "x-"

export const isExtensionKey = (key: string): boolean => key.startsWith(extensionKeyPrefix)
