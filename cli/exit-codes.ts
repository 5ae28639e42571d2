/** The exit codes of the contract (../shared/spec/scenario-v1.md), plus the shell's code for Ctrl-C. */
export const ExitCode = {
  /** every expectation held */
  ok: 0,
  /** an expectation failed, or a step failed unexpectedly */
  failed: 1,
  /** the file or the command line is invalid */
  invalidInput: 2,
  /** the backend is not available here */
  backendUnavailable: 3,
  /** stopped by SIGINT: 128 + signal number 2, what shells report */
  interrupted: 130,
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]
