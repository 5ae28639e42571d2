/** Left-aligned columns separated by two spaces, each line indented: the tables of the text report. */
export const renderTable = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  indent = "  ",
): Array<string> => {
  const widths = headers.map((header, column) =>
    Math.max(displayWidth(header), ...rows.map((row) => displayWidth(row[column] ?? ""))),
  )
  const line = (cells: ReadonlyArray<string>): string =>
    indent +
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : pad(cell, widths[column] ?? 0)))
      .join("  ")
      .trimEnd()
  return [line(headers), ...rows.map(line)]
}

/** code points, not UTF-16 units, so ✓ and → count as one column */
const displayWidth = (text: string): number => [...text].length

const pad = (text: string, width: number): string => text + " ".repeat(Math.max(0, width - displayWidth(text)))
