import type { Report } from "../../scenarios/report.ts"
/** Reading the text report in tests: one titled section's lines, and a table line's cells */
export const sectionLines = (text: string, title: string): Array<string> => {
  const block = text.split("\n\n").find((part) => part.startsWith(title))
  if (block === undefined) throw new Error(`no section ${title} in:\n${text}`)
  return block.split("\n").slice(1)
}

export const cells = (line: string): Array<string> => line.trim().split(/ {2,}/)

/** a report with nothing in it, for tests that fill in one section */
export const emptyReport: Report = {
  version: 1,
  scenario: "t",
  backend: "sim",
  ok: true,
  networks: [],
  endpoints: [],
  reach: [],
  resolve: [],
  steps: [],
  expectations: [],
  timings: { setupMs: 1, checkMs: 2, teardownMs: 3 },
}
