import fc from "fast-check"
import * as model from "../../../../model/index.ts"
import { type Pick, pickOf } from "../../targets.ts"
import { type MhCommand, type MhModel, type MhReal, runOnBoth } from "../MhModel.ts"
import { anyService, ghostHost, hostNames, pickFrom, weighted, servicesOf } from "../picks.ts"

/** how a scale changes the placement: more replicas, fewer, none, one task moved to another host, a host the lab does not have */
export const scaleKinds = ["up", "down", "zero", "move", "ghost"] as const
export type ScaleKind = (typeof scaleKinds)[number]

export interface MhScaleSpec {
  readonly service: Pick
  readonly kind: ScaleKind
  /** which replica moves, which hosts the new ones go to */
  readonly k: number
  readonly more: number
}

export const mhScaleSpec = (fit: number): fc.Arbitrary<MhScaleSpec> =>
  fc.record({
    service: pickOf(fit),
    kind: weighted<ScaleKind>([3, "up"], [2, "down"], [1, "zero"], [3, "move"], [1, "ghost"]),
    k: fc.nat({ max: 11 }),
    more: fc.integer({ min: 1, max: 2 }),
  })

const currentPlacement = (lab: model.LabState, service: string): string[] => {
  const record = model.labServices(lab).find((candidate) => candidate.name === service)
  return (record?.replicas ?? []).map((replica) => model.hostOf(lab, replica) ?? ghostHost)
}

/** the placement a scale asks for, from the service's placement now */
export const scaledPlacement = (lab: model.LabState, service: string, spec: MhScaleSpec): string[] => {
  const hosts = hostNames(lab)
  const now = currentPlacement(lab, service)
  const host = (i: number) => hosts[(spec.k + i) % hosts.length] as string
  switch (spec.kind) {
    case "up":
      return [...now, ...Array.from({ length: spec.more }, (_, i) => host(i))]
    case "down":
      return now.slice(0, Math.max(0, now.length - spec.more))
    case "zero":
      return []
    case "move": {
      if (now.length === 0) return [host(0)]
      const index = spec.k % now.length
      const from = hosts.indexOf(now[index] as string)
      return now.map((h, i) => (i === index ? (hosts[(from + 1 + (spec.k % Math.max(1, hosts.length - 1))) % hosts.length] as string) : h))
    }
    case "ghost":
      return [...now, ghostHost]
  }
}

/** `docker service scale` (and `update --constraint`): the replicas the placement names, a task moved keeps its name */
export class ScaleServiceCommand implements MhCommand {
  private resolved = "?"

  constructor(readonly spec: MhScaleSpec) {}

  check = () => true

  run(m: MhModel, r: MhReal): void {
    const name = pickFrom(this.spec.service, servicesOf(m.lab), anyService(m.lab))
    const before = currentPlacement(m.lab, name)
    const placement = scaledPlacement(m.lab, name, this.spec)
    this.resolved = `${name}, ${JSON.stringify(placement)} (${this.spec.kind}, from ${JSON.stringify(before)})`
    runOnBoth(m, r, {
      kind: "scaleService",
      onModel: (lab) => {
        const outcome = model.scaleLabService(lab, name, placement)
        if (outcome.ok) r.coverage?.scaled(this.spec.kind, before, placement)
        return outcome
      },
      onLab: (lab) => lab.scaleService(name, placement),
    })
  }

  toString = () => `scaleService(${this.resolved})`
}
