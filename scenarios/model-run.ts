/**
 * A scenario played on the model alone: the lab it builds, each step's outcome, and the model's
 * prediction for every connect row. This is the oracle that tests compare Docker's recordings and
 * the backends' measurements with; it never stands in for a measurement in a report.
 */
import type { CnmError } from "../model/errors.ts"
import { type ConnectPrediction, predictConnect } from "../model/connect-predict.ts"
import { createLab } from "../model/lab.ts"
import { connectLab, createLabContainer, disconnectLab, removeLabContainer } from "../model/lab-container-ops.ts"
import { createLabNetwork, removeLabNetwork } from "../model/lab-network-ops.ts"
import type { LabOutcome, LabState } from "../model/lab-types.ts"
import { createLabService, removeLabService, scaleLabService } from "../model/services.ts"
import type { ConnectExpectation } from "./schema-services.ts"
import type { ContainerSpec, Expectations, Scenario, Step } from "./schema.ts"

export interface PredictedConnect {
  /** the step of an in-step check; absent for the final one */
  readonly step?: number
  readonly expected: ConnectExpectation
  readonly predicted: ConnectPrediction
}

export interface ModelRun {
  readonly lab: LabState
  readonly steps: ReadonlyArray<{ readonly index: number; readonly op: Step["op"]; readonly error?: CnmError }>
  readonly connect: ReadonlyArray<PredictedConnect>
}

const containerRequest = (container: ContainerSpec) => ({
  name: container.name,
  host: container.host,
  networks: container.networks,
  ...(container.ports !== undefined && { ports: container.ports }),
  ...(container.listen !== undefined && { listen: container.listen }),
})

const applyStep = (lab: LabState, step: Exclude<Step, { op: "expect" }>): LabOutcome<unknown> => {
  switch (step.op) {
    case "connect":
      return connectLab(lab, step.container, { network: step.network, aliases: step.aliases, ...(step.ip !== undefined && { ip: step.ip }) })
    case "disconnect":
      return disconnectLab(lab, step.container, step.network)
    case "createNetwork":
      return createLabNetwork(lab, step.network)
    case "removeNetwork":
      return removeLabNetwork(lab, step.name, step.host)
    case "createContainer":
      return createLabContainer(lab, containerRequest(step.container))
    case "removeContainer":
      return removeLabContainer(lab, step.name)
    case "createService":
      return createLabService(lab, step.service)
    case "removeService":
      return removeLabService(lab, step.name)
    case "scaleService":
      return scaleLabService(lab, step.name, step.placement)
  }
}

const predictAll = (lab: LabState, outside: string | undefined, expect: Expectations, step?: number): Array<PredictedConnect> =>
  (expect.connect ?? []).map((expected) => ({
    ...(step !== undefined && { step }),
    expected,
    predicted: predictConnect(lab, outside, {
      from: expected.from,
      to: expected.target,
      port: expected.port,
      proto: expected.proto,
      ...(expected.network !== undefined && { network: expected.network }),
    }),
  }))

/** the setup must succeed (as the runner's does); steps may fail, and a failed one changes nothing */
export const runOnModel = (scenario: Scenario): ModelRun => {
  const created = createLab({ hosts: scenario.hosts, swarm: scenario.swarm, ...(scenario.underlay !== undefined && { underlay: scenario.underlay }) })
  if (!created.ok) throw new Error(`the model refused the hosts: ${created.error.message}`)
  let lab = created.value
  const setup = (outcome: LabOutcome<unknown>, what: string) => {
    if (!outcome.ok) throw new Error(`the model refused ${what}: ${outcome.error.code}: ${outcome.error.message}`)
    lab = outcome.lab
  }
  for (const network of scenario.networks) setup(createLabNetwork(lab, network), `network ${network.name}`)
  for (const container of scenario.containers) setup(createLabContainer(lab, containerRequest(container)), `container ${container.name}`)
  for (const service of scenario.services ?? []) setup(createLabService(lab, service), `service ${service.name}`)
  const steps: Array<ModelRun["steps"][number]> = []
  const connect: Array<PredictedConnect> = []
  for (const [index, step] of scenario.steps.entries()) {
    if (step.op === "expect") {
      connect.push(...predictAll(lab, scenario.outside, step.expect, index))
      steps.push({ index, op: step.op })
      continue
    }
    const outcome = applyStep(lab, step)
    if (outcome.ok) lab = outcome.lab
    else if (outcome.lab !== undefined) lab = outcome.lab
    steps.push({ index, op: step.op, ...(!outcome.ok && { error: outcome.error }) })
  }
  connect.push(...predictAll(lab, scenario.outside, scenario.expect))
  return { lab, steps, connect }
}
