/** nearest-rank percentile (p in 0..100) of a non-empty sample */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) throw new Error("percentile of an empty sample")
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}

export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** milliseconds as they go into a results file: enough digits for sub-millisecond costs */
export const ms = (value: number): number => Math.round(value * 1000) / 1000
