import * as model from "../../../model/index.ts"
import { containerNames, type LabCommand, type LabModel, type LabReal, networkAt, runBoth } from "../LabModel.ts"

export class CreateContainerCommand implements LabCommand {
  private request: model.ContainerRequest | undefined

  constructor(
    readonly nameIndex: number,
    readonly networkPositions: ReadonlyArray<number>,
    /** a static host number for the first network (hits or misses the subnet, or the gateway) */
    readonly staticHost: number | undefined,
  ) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const networks = this.networkPositions.map((position, i) => {
      const network = networkAt(m, position)
      const subnet = model.network(m.state, network)?.subnet
      const ip = i === 0 && this.staticHost !== undefined && subnet ? staticAddress(subnet, this.staticHost) : undefined
      return ip ? { network, ip } : { network }
    })
    const request = { name: containerNames[this.nameIndex % containerNames.length] as string, networks }
    this.request = request
    runBoth(m, r, (s) => model.createContainer(s, request), (lab) => lab.createContainer(request))
  }

  toString = () => `createContainer(${JSON.stringify(this.request ?? { positions: this.networkPositions })})`
}

/** the address `host` inside a subnet's first /24 */
export const staticAddress = (subnet: string, host: number): string => {
  const [a, b, c] = (subnet.split("/")[0] as string).split(".")
  return `${a}.${b}.${c}.${host}`
}
