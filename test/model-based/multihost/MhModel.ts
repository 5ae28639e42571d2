import { Effect, type Result } from "effect"
import type fc from "fast-check"
import { expect } from "vitest"
import type { Lab } from "../../../controller/Lab.ts"
import type { CnmError } from "../../../model/errors.ts"
import * as model from "../../../model/index.ts"
import type { MhCommandKind, MhCoverage } from "./coverage.ts"

/**
 * Model-based tests over several hosts: the oracle is the lab model (model/lab*.ts), advanced by
 * its own operations; the system under test is a Lab (controller, drivers, global store) on a
 * backend. Unlike one host's oracle (../LabModel.ts), this one holds a LabState.
 */
export interface MhModel {
  lab: model.LabState
  /** checks made so far in this sequence (the asker takes turns among the containers by it) */
  checks?: number
}

export interface MhReal {
  readonly lab: Lab
  /** set for an asynchronous backend (linux): the operation is handed over instead of run */
  readonly handOver?: (operation: MhOperation) => void
  readonly coverage?: MhCoverage
  /** after every command; `changed`: the oracle's state moved */
  readonly check?: (m: MhModel, r: MhReal, changed: boolean) => void
}

/** what a command asks of the oracle and of the lab, once it has resolved its picks */
export interface MhOperation {
  readonly kind: MhCommandKind
  readonly onModel: (lab: model.LabState) => model.LabOutcome<unknown>
  readonly onLab: (lab: Lab) => Effect.Effect<unknown, CnmError>
}

export type MhCommand = fc.Command<MhModel, MhReal>

/** run one operation on the oracle and on the lab: the same success or the same code, then the check */
export const runOnBoth = (m: MhModel, r: MhReal, operation: MhOperation): void => {
  if (r.handOver) return r.handOver(operation)
  const before = m.lab
  const expected = operation.onModel(m.lab)
  const actual = Effect.runSync(Effect.result(operation.onLab(r.lab)))
  r.coverage?.command(operation.kind, actual._tag === "Failure" ? actual.failure.code : undefined)
  judgeLabOutcome(m, expected, actual)
  r.check?.(m, r, m.lab !== before)
}

/** the oracle and the lab agree on success or on the error code; the oracle moves on (a refusal's traces too) */
export const judgeLabOutcome = (m: MhModel, expected: model.LabOutcome<unknown>, actual: Result.Result<unknown, CnmError>): void => {
  if (expected.ok) {
    if (actual._tag === "Failure") throw new Error(`model allowed it, lab refused: ${actual.failure.code}: ${actual.failure.message}`)
    m.lab = expected.lab
  } else {
    const code = actual._tag === "Failure" ? actual.failure.code : "success"
    if (code !== expected.error.code) expect(code, "the lab's answer against the model's refusal").toBe(expected.error.code)
    if (expected.lab !== undefined) m.lab = expected.lab
  }
}
