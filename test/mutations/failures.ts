/** the value a diff line adds, an object's lines joined into one ("{ actual: { … } }") */
const addedValue = (section: ReadonlyArray<string>, at: number): string => {
  const first = section[at] as string
  if (!/[{[]$/.test(first.trim())) return first
  const indent = /^\+(\s*)/.exec(first)?.[1]?.length ?? 0
  const parts = [first.replace(/^\+\s*/, "")]
  for (let i = at + 1; i < section.length; i++) {
    const line = section[i] as string
    if (!line.startsWith("+")) break
    parts.push(line.replace(/^\+\s*/, ""))
    if ((/^\+(\s*)/.exec(line)?.[1]?.length ?? 0) <= indent) break
  }
  return `+ ${parts.join(" ").replace(/,(\s*[}\]])/g, "$1")}`
}

/**
 * What each failed test printed, from vitest's console report: the " FAIL  file > … > name" header,
 * then the error; the first line an assertion's diff adds is what differed ("left behind link br-…").
 */
export const failures = (output: string): Array<{ file: string; test: string; first: string; replay?: string }> => {
  const lines = output.replace(/\x1b\[[0-9;]*m/g, "").split("\n")
  const found: Array<{ file: string; test: string; first: string; replay?: string }> = []
  for (let i = 0; i < lines.length; i++) {
    const header = /^ FAIL {2}(\S+) > (.*)$/.exec(lines[i] as string)
    if (header === null) continue
    let end = i + 1
    while (end < lines.length && !/^ FAIL {2}/.test(lines[end] as string) && !/⎯\[\d+\/\d+\]⎯/.test(lines[end] as string)) end++
    const section = lines.slice(i + 1, end)
    const error = [...section].reverse().find((line) => /^(Caused by: )?\w*Error\b/.test(line.trim())) ?? section.find((line) => line.trim() !== "") ?? ""
    const at = section.findIndex((line) => /^\+\s{2,}\S/.test(line))
    const added = at < 0 ? undefined : addedValue(section, at)
    const replay = section.find((line) => /^\{ seed: /.test(line.trim()))
    found.push({
      file: header[1] as string,
      test: (header[2] as string).replace(/ > /g, " › "),
      first: added === undefined ? error.trim() : `${error.trim().replace(/: expected .*$/, "")}: ${added.replace(/^\+\s+/, "").replace(/^"|",?$/g, "")}`,
      ...(replay === undefined ? {} : { replay: replay.trim() }),
    })
  }
  return found
}

