/** Where a command writes: results on stdout, diagnostics and progress on stderr. */
export interface Io {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

/** each call is one line or block; the newline is added here so callers never forget it */
export const processIo: Io = {
  stdout: (text) => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  stderr: (text) => void process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
}
