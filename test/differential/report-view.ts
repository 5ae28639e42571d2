import type { Report } from "../../scenarios/report.ts"

/**
 * What two runs of one scenario must share, whatever the backend: networks, endpoints, the reach
 * matrix and the hosts' underlay addresses (without the probe's reason or trace, which only the simulator can spell out hop by
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
  reachHosts: report.reachHosts?.map(({ from, host, address, reachable }) => ({ from, host, address, reachable })),
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
