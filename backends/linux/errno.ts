import { constants } from "node:os"

/** errno number -> name ("EEXIST"); where Linux gives one number two names, the usual one wins */
const names = new Map<number, string>()
const preferred = new Set(["EOPNOTSUPP", "EAGAIN", "EDEADLK"])
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value) || preferred.has(name)) names.set(value, name)
}

// Linux errnos Node has no name for, that the kernel gives cnmlab: a bridge holds at most 1,023 ports
names.set(54, "EXFULL")

export const errnoName = (errno: number): string => names.get(errno) ?? `E${errno}`
