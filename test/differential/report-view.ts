import type { Report } from "../../scenarios/report.ts"

/**
 * What two runs of one scenario must share, whatever the backend: networks, endpoints, the reach
 * matrix (without the probe's reason or trace, which only the simulator can spell out hop by
 * hop), the resolve answers, each step's outcome, and each expectation's verdict. Left out: the
 * backend's name and the timings. A KernelError's message quotes the kernel (its errno text on
 * linux), so only its code is compared; every other refusal is the model's, word for word.
 */
export const reportView = (report: Report) => ({
  scenario: report.scenario,
  ok: report.ok,
  networks: report.networks,
  endpoints: report.endpoints,
  reach: report.reach.map(({ from, to, network, address, reachable }) => ({ from, to, network, address, reachable })),
  resolve: report.resolve,
  steps: report.steps.map((step) => ({
    index: step.index,
    op: step.op,
    ok: step.ok,
    ...(step.error ? { error: step.error.code === "KernelError" ? { code: step.error.code } : step.error } : {}),
  })),
  expectations: report.expectations.map((e) => ({ kind: e.kind, step: e.step, expected: e.expected, ok: e.ok })),
})

export type ReportView = ReturnType<typeof reportView>

/**
 * True when the linux run saw less than the simulator and nothing else differs: unreachable where
 * the simulator reached, an empty answer where it resolved. Only such a run is worth repeating
 * before it counts (see ../model-based/confirm.ts): the real kernel cannot make up an answer.
 */
export const onlyMissingOnLinux = (sim: ReportView, linux: ReportView): boolean => {
  const withoutMeasurements = (view: ReportView) => ({ ...view, ok: undefined, reach: undefined, resolve: undefined, expectations: undefined })
  if (JSON.stringify(withoutMeasurements(sim)) !== JSON.stringify(withoutMeasurements(linux))) return false
  if (sim.reach.length !== linux.reach.length || sim.resolve.length !== linux.resolve.length) return false
  const reachLess = sim.reach.every((s, i) => {
    const l = linux.reach[i]
    return l !== undefined && l.address === s.address && l.from === s.from && (l.reachable === s.reachable || (s.reachable && !l.reachable))
  })
  const resolveLess = sim.resolve.every((s, i) => {
    const l = linux.resolve[i]
    return l !== undefined && (JSON.stringify(l) === JSON.stringify(s) || l.addresses.length === 0)
  })
  return reachLess && resolveLess
}
