import type { ProbeHop } from "../../backends/kernel-types.ts"

/**
 * Bridges learn (backends/sim/l2.ts): a frame for a MAC a bridge has seen leaves by the one port
 * the MAC is behind, instead of being flooded out of all of them. In the simulator's trace of a
 * probe, once the sender knows the next hop's MAC ("arp … is-at …", just answered or cached), the
 * frame it sends reaches its receiver ("receive …") crossing each bridge once: the bridge saw the
 * receiver's MAC in its ARP answer (or in an earlier frame of this machine state), and the
 * sender's in its ARP question. More crossings on the way mean a bridge flooded a frame whose
 * destination it knew. The lab's containers share at most one bridge, so one crossing is all a
 * frame may take. Returns the flooded stretches, readably ([] when there are none).
 */
export const floodedUnicasts = (trace: ReadonlyArray<ProbeHop>): string[] => {
  const flooded: string[] = []
  let crossings: ProbeHop[] | undefined
  for (const hop of trace) {
    if (hop.event.startsWith("arp ") && hop.event.includes(" is-at ")) crossings = []
    else if (hop.event.startsWith("bridge ")) crossings?.push(hop)
    else if (hop.event.startsWith("receive ") && crossings !== undefined) {
      if (crossings.length > 1) flooded.push(`${hop.event}: crossed ${crossings.map((c) => `${c.dev} (${c.event})`).join(", ")}`)
      crossings = undefined
    }
  }
  return flooded
}
