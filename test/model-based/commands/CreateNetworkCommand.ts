import * as model from "../../../model/index.ts"
import { type LabCommand, type LabModel, type LabReal, networkNames, runBoth } from "../LabModel.ts"

export class CreateNetworkCommand implements LabCommand {
  constructor(
    readonly nameIndex: number,
    /** undefined: a pool from IPAM; otherwise 10.<k>.0.0/24 (equal k on two networks overlap) */
    readonly subnetK: number | undefined,
    readonly iccOff: boolean,
    readonly internal: boolean,
  ) {}

  check = () => true

  run(m: LabModel, r: LabReal): void {
    const request = this.request()
    runBoth(m, r, (s) => model.createNetwork(s, request), (lab) => lab.createNetwork(request))
  }

  private request(): model.NetworkRequest {
    return {
      name: networkNames[this.nameIndex % networkNames.length] as string,
      ...(this.subnetK === undefined ? {} : { subnet: `10.${this.subnetK}.0.0/24` }),
      internal: this.internal,
      options: this.iccOff ? { "com.docker.network.bridge.enable_icc": "false" } : {},
    }
  }

  toString = () => `createNetwork(${JSON.stringify(this.request())})`
}
