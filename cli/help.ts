/** The help texts: what each command does, how to call it, and what its exit code means. */
import type { CommandName } from "./args.ts"

const exitCodes = `Exit codes:
  0    every expectation held
  1    an expectation failed, or a step failed unexpectedly
  2    the scenario file or the command line is invalid (FILE:LINE: KEYPATH: message)
  3    the backend is not available here (linux: not root, or CAP_NET_ADMIN missing)
  130  interrupted with Ctrl-C (what was built is torn down first)`

const general = `cnmlab — a testbed for Docker's Container Network Model (CNM)

Builds the hosts, networks and containers a scenario file describes, runs its steps, measures who
reaches whom and what names resolve to, checks the expectations, and tears everything down.

Usage:
  cnmlab run FILE [--backend sim|linux] [--json] [--trace]
  cnmlab clean
  cnmlab doctor
  cnmlab help [COMMAND]
  cnmlab --help | --version

Commands:
  run      run a scenario file (YAML or JSON, format version 1) and report
  clean    remove the network namespaces (cnm-*) that killed or crashed linux runs left behind
  doctor   check whether this machine can run the linux backend
  help     show this text, or a command's own help (cnmlab help run)

Examples:
  cnmlab run scenarios/seed-figure-11-3.yaml
  sudo cnmlab run scenarios/icc-disabled.yaml --backend linux
  cnmlab run my.yaml --json > report.json

${exitCodes}

The scenario format and the report are specified in shared/spec/scenario-v1.md.
`

const topics: Record<CommandName, string> = {
  run: `cnmlab run FILE [--backend sim|linux] [--json] [--trace]

Loads FILE (YAML, or JSON), builds its hosts, networks and containers, runs its steps in order,
measures the reachability matrix and the resolver answers, checks every expectation, and tears
everything down. A file error is reported before anything is built.

Options:
  --backend sim|linux  where to build: sim (default) is an in-memory Linux network stack;
                       linux uses real network namespaces named cnm-* (needs root or CAP_NET_ADMIN)
  --json               print the report as one JSON object on stdout (the contract's format)
  --trace              record the hop-by-hop walk of every probe and show it
  -h, --help           show this text

Progress goes to stderr; stdout holds only the report. Ctrl-C stops the run, tears down what was
built and exits with 130.

Examples:
  cnmlab run scenarios/dns-aliases.yaml
  cnmlab run scenarios/expected-errors.yaml --json | jq .steps
  sudo cnmlab run scenarios/internal-network.yaml --backend linux --trace

${exitCodes}
`,
  clean: `cnmlab clean

Removes the network namespaces (cnm-*) that cnmlab runs left behind when they were killed or
crashed before tearing down, and prints each one. Only those recorded in cnmlab's ledger
(/run/cnmlab/ledger) by a process that no longer runs: namespaces of runs still going, and any
namespace cnmlab did not record (even one named cnm-*), are never touched. A run that ends
normally, or by Ctrl-C, removes its own namespaces. Needs root.

Example:
  sudo cnmlab clean

Exit codes:
  0    cleaned (or nothing to clean)
  1    some namespaces could not be removed (each is named on stderr, with the reason)
  3    not allowed here (not root)
`,
  doctor: `cnmlab doctor

Checks, one by one, what the linux backend needs on this machine (privileges, kernel features,
the native netlink module) and says which check failed and why.

Example:
  cnmlab doctor

A failed feature check (a link kind this kernel lacks) is listed, but only the scenarios that need
the feature are affected.

Exit codes:
  0    --backend linux can run here (maybe without some features: see the failed checks)
  3    the linux backend is not available here (privileges, or the native helper is not built)
`,
  help: `cnmlab help [COMMAND]

Shows the general help, or the help of one command (run, clean, doctor).

Example:
  cnmlab help run
`,
}

export const helpText = (topic?: CommandName): string => (topic === undefined ? general : topics[topic])
