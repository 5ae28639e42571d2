/** What the Docker recorders (recorder/record.py under test/fixtures/docker and docker-swarm) write for one endpoint of a container */
export interface DockerEndpointObservation {
  readonly network: string
  /** CIDR form; null when Docker gave none (host, none) */
  readonly address: string | null
  readonly mac: string | null
  readonly interface: string | null
}

/**
 * A connect try's outcome as the services recorders write it, in the contract's words: the
 * recorder's `unresolved` (the client's resolver gave no address, so nothing was sent) is no
 * outcome of the contract; a report row without an address says `unreachable` (nothing to try).
 */
export const contractOutcome = (recorded: string): string => (recorded === "unresolved" ? "unreachable" : recorded)
