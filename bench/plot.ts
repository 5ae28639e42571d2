/**
 * A horizontal bar chart as SVG, with no dependencies: one bar a measurement, its baseline beside
 * it in grey, the value written at the bar's end.
 */
export interface Bar {
  readonly label: string
  readonly value: number
  readonly baseline?: boolean
}

export const barChart = (title: string, unit: string, bars: ReadonlyArray<Bar>): string => {
  const width = 760
  const labelWidth = 260
  const barHeight = 22
  const gap = 8
  const top = 40
  const max = Math.max(...bars.map((b) => b.value), 1)
  const plotWidth = width - labelWidth - 110
  const rows = bars.map((bar, i) => {
    const y = top + i * (barHeight + gap)
    const w = Math.max(1, (bar.value / max) * plotWidth)
    const fill = bar.baseline ? "#9aa0a6" : "#1a73e8"
    return [
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${fill}"/>`,
      `<text x="${labelWidth + w + 6}" y="${y + 15}">${format(bar.value)} ${escape(unit)}</text>`,
    ].join("")
  })
  const height = top + bars.length * (barHeight + gap) + 10
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="24" font-size="15" font-weight="bold">${escape(title)}</text>`,
    ...rows,
    `</svg>`,
  ].join("\n")
}

const format = (value: number): string =>
  value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(value >= 10 ? 1 : 2)

const escape = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
