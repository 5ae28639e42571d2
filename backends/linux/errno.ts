import { constants } from "node:os"

/** errno number -> name ("EEXIST"); where Linux gives one number two names, the usual one wins */
const names = new Map<number, string>()
const preferred = new Set(["EOPNOTSUPP", "EAGAIN", "EDEADLK"])
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value) || preferred.has(name)) names.set(value, name)
}

export const errnoName = (errno: number): string => names.get(errno) ?? `E${errno}`
