/** What the Docker recorders (recorder/record.py under test/fixtures/docker and docker-swarm) write for one endpoint of a container */
export interface DockerEndpointObservation {
  readonly network: string
  /** CIDR form; null when Docker gave none (host, none) */
  readonly address: string | null
  readonly mac: string | null
  readonly interface: string | null
}
