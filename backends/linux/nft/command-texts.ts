type Json = Record<string, unknown>

const made = new WeakMap<ReadonlyArray<Json>, ReadonlyArray<string>>()

/**
 * Each command of a rendered table as JSON text, made once per list of commands: a table's
 * commands are compared with the ones committed before (append.ts, rule-edits.ts), and the list
 * remembered as committed is the one the next change is compared with, so its texts are reused.
 */
export const commandTexts = (commands: ReadonlyArray<Json>): ReadonlyArray<string> => {
  let texts = made.get(commands)
  if (texts === undefined) made.set(commands, (texts = commands.map((command) => JSON.stringify(command))))
  return texts
}
