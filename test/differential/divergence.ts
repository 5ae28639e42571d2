/**
 * What both sim-vs-linux differential tests share: the replay settings fast-check takes from the
 * environment, and the report of a divergence (what differed, then the commands that led there).
 */

/** CNMLAB_SEED and CNMLAB_PATH replay a run fast-check printed */
export const replay: { readonly seed?: number; readonly path?: string } = {
  ...(process.env.CNMLAB_SEED === undefined ? {} : { seed: Number(process.env.CNMLAB_SEED) }),
  ...(process.env.CNMLAB_PATH === undefined ? {} : { path: process.env.CNMLAB_PATH }),
}

/** a divergence report longer than this is cut: the first lines say what went wrong */
const MAX_LINES = 60

export class Divergence extends Error {
  override readonly name = "Divergence"

  /** `header` says where and after what; `lines` what differed; `ran` the commands of the sequence */
  constructor(header: string, lines: ReadonlyArray<string>, ran: ReadonlyArray<string>) {
    const shown = lines.length > MAX_LINES ? [...lines.slice(0, MAX_LINES), `… and ${lines.length - MAX_LINES} more`] : lines
    super(
      [
        `${header}:`,
        ...shown.map((line) => `  ${line}`),
        "commands run in this sequence:",
        ...ran.map((command, i) => `  ${i + 1}. ${command}`),
      ].join("\n"),
    )
  }
}
