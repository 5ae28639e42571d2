import type { Lab } from "../controller/Lab.ts"
import { timed, run } from "./timing.ts"

/** one network create through a lab: wall-clock ms, and the process's CPU ms (all threads), which a busy machine cannot inflate */
export const timeNetworkCreate = async (lab: Lab, name: string, subnet: string): Promise<{ readonly ms: number; readonly cpuMs: number }> => {
  const cpuBefore = process.cpuUsage()
  const ms = await timed(() => run(lab.createNetwork({ name, subnet })))
  const cpu = process.cpuUsage(cpuBefore)
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 }
}
