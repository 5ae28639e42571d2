import type { ConnectResult } from "../../backends/kernel-types.ts"
import * as model from "../../model/index.ts"
import { servedPorts, unpublishedHostPort } from "./serving.ts"

/** the outside machine's server: what containers and the host connect to beyond the host */
export const outsideServer = { port: 80, proto: "tcp" } as const

/**
 * The connections one check makes, all of them from or to the asker's world, so that over a
 * sequence every kind of path comes up (the asker takes turns, as for probes):
 * - the asker to two addresses of other containers, on one of the served ports (both turning with
 *   the check's number): direct, icc=false, isolation, internal networks;
 * - the asker to each host port published on the host (and one nobody publishes), at the host's
 *   address and at its own gateway: docker-proxy's hairpin, a UDP answer from the wrong address;
 * - the asker to a served port at the host's address: a host-network container's server;
 * - the asker to the outside machine: masquerade, or no way out;
 * - the host to each published port at 127.0.0.1 (docker-proxy) and at its own address (DNAT in
 *   OUTPUT), and to one container address;
 * - the outside machine to each published port at the host's address (DNAT in PREROUTING);
 * - one of these to a port nobody publishes.
 */
export const connectionQuestions = (lab: model.LabState, asker: string, turn: number, outside: string): Array<model.ConnectQuestion> => {
  const state = lab.hostStates[0] as model.CnmState
  const host = lab.hosts[0] as { name: string; address: string }
  const questions: Array<model.ConnectQuestion> = []
  const to = (address: string) => ({ kind: "address", address }) as const
  const served = (k: number) => servedPorts[k % servedPorts.length] as (typeof servedPorts)[number]
  const others = model.endpoints(state).filter((e) => e.container !== asker && e.address !== undefined)
  // two of them per check, turning: probes already measure reach to every one
  for (let i = 0; i < Math.min(2, others.length); i++) {
    const endpoint = others[(turn + i) % others.length] as model.Endpoint
    const { port, proto } = served(turn + i)
    questions.push({ from: asker, to: to(model.stripPrefix(endpoint.address as string)), port, proto })
  }
  const published = new Map<string, { port: number; proto: "tcp" | "udp" }>()
  for (const container of model.containers(state)) {
    for (const binding of model.portBindingsOf(lab, container.name)) {
      if (binding.proto !== "sctp") published.set(`${binding.hostPort}/${binding.proto}`, { port: binding.hostPort, proto: binding.proto })
    }
  }
  const gateway = model.endpointsOf(state, asker).flatMap((e) => {
    const address = model.network(state, e.network)?.gateway
    return address === undefined ? [] : [address]
  })[0]
  const toHost = ({ port, proto }: { port: number; proto: "tcp" | "udp" }): Array<model.ConnectQuestion> => [
    { from: asker, to: to(host.address), port, proto },
    ...(gateway === undefined ? [] : [{ from: asker, to: to(gateway), port, proto }]),
    { from: host.name, to: to("127.0.0.1"), port, proto },
    { from: host.name, to: to(host.address), port, proto },
    { from: model.outsideParty, to: { kind: "hostPort", host: host.name }, port, proto },
  ]
  for (const hostPort of published.values()) questions.push(...toHost(hostPort))
  // a port nobody publishes, from one of the same places, turning
  const unpublished = toHost({ port: unpublishedHostPort, proto: "tcp" })
  questions.push(unpublished[turn % unpublished.length] as model.ConnectQuestion)
  // a served port at the host's address: a server of a container on the host's network, or nothing
  questions.push({ from: asker, to: to(host.address), ...served(turn) })
  questions.push({ from: asker, to: to(model.stripPrefix(outside)), ...outsideServer })
  const target = others[turn % Math.max(1, others.length)]
  if (target !== undefined) questions.push({ from: host.name, to: to(model.stripPrefix(target.address as string)), ...served(turn) })
  return questions
}

/** a measured connection against the model's prediction: a line when they disagree, undefined when they agree */
export const connectionDisagreement = (question: model.ConnectQuestion, predicted: model.ConnectPrediction, measured: ConnectResult): string | undefined => {
  if (predicted.outcome === undefined) return undefined
  if (
    measured.outcome === predicted.outcome &&
    (measured.outcome !== "answer" ||
      (measured.answeredBy !== undefined && predicted.answeredBy.includes(measured.answeredBy) && (predicted.seenFrom === undefined || measured.seenFrom === predicted.seenFrom)))
  ) {
    return undefined
  }
  const target = question.to.kind === "address" ? question.to.address : question.to.kind === "hostPort" ? `host ${question.to.host}` : question.to.kind
  const what = `${question.from} → ${target}:${question.port}/${question.proto} (${predicted.path})`
  const said = `measured ${measured.outcome}${measured.answeredBy === undefined ? "" : ` by ${measured.answeredBy}`}${measured.seenFrom === undefined ? "" : ` seen from ${measured.seenFrom}`}${measured.detail === undefined ? "" : ` (${measured.detail})`}`
  const modelSaid = `model ${predicted.outcome}${predicted.answeredBy.length === 0 ? "" : ` by ${predicted.answeredBy.join("|")}`}${predicted.seenFrom === undefined ? "" : ` seen from ${predicted.seenFrom}`}`
  return `${what}: ${said}, ${modelSaid}`
}
