/** A location inside a scenario document: map keys and list indexes, outermost first. */
export type KeyPath = ReadonlyArray<string | number>

const plainKey = /^[A-Za-z_][A-Za-z0-9_-]*$/

/**
 * `["containers", 1, "networks", 0, "ip"]` → `containers[1].networks[0].ip`. Keys that are not
 * plain words (Docker option keys are dotted) are quoted, so the path stays unambiguous.
 */
export const formatKeyPath = (path: KeyPath): string =>
  path.reduce<string>((text, segment) => {
    if (typeof segment === "number") return `${text}[${segment}]`
    if (!plainKey.test(segment)) return `${text}[${JSON.stringify(segment)}]`
    return text === "" ? segment : `${text}.${segment}`
  }, "")
