/**
 * The command line → one Command, or one message saying what is wrong with it. No I/O here, so
 * every rejection can be tested without spawning a process.
 */

export const backends = ["sim", "linux"] as const
export type BackendName = (typeof backends)[number]

export const commandNames = ["run", "clean", "doctor", "help"] as const
export type CommandName = (typeof commandNames)[number]

export type Command =
  | {
      readonly name: "run"
      readonly file: string
      readonly backend: BackendName
      readonly json: boolean
      readonly trace: boolean
    }
  | { readonly name: "clean" }
  | { readonly name: "doctor" }
  | { readonly name: "help"; readonly topic?: CommandName }
  | { readonly name: "version" }

export type ParsedCommandLine =
  | { readonly ok: true; readonly command: Command }
  /** `usage`: nothing was asked at all, so the general help is the useful answer */
  | { readonly ok: false; readonly message: string; readonly usage?: boolean }

interface FlagSpec {
  readonly takesValue: boolean
}

/** the flags each command accepts; --help is accepted everywhere */
const flagsOf: Record<CommandName, Readonly<Record<string, FlagSpec>>> = {
  run: { "--backend": { takesValue: true }, "--json": { takesValue: false }, "--trace": { takesValue: false } },
  clean: {},
  doctor: {},
  help: {},
}

const positionalCount: Record<CommandName, { readonly min: number; readonly max: number }> = {
  run: { min: 1, max: 1 },
  clean: { min: 0, max: 0 },
  doctor: { min: 0, max: 0 },
  help: { min: 0, max: 1 },
}

const isCommandName = (word: string): word is CommandName => (commandNames as ReadonlyArray<string>).includes(word)

const helpFlags = new Set(["--help", "-h"])
const versionFlags = new Set(["--version", "-V"])

export const parseCommandLine = (argv: ReadonlyArray<string>): ParsedCommandLine => {
  const [first, ...rest] = argv
  if (first === undefined) return { ok: false, message: "no command given", usage: true }
  if (helpFlags.has(first)) return rest.length === 0 ? ok({ name: "help" }) : parseHelp(rest)
  if (versionFlags.has(first)) return ok({ name: "version" })
  if (first.startsWith("-")) return invalid(`unknown flag ${first}`, "cnmlab --help")
  if (!isCommandName(first)) return invalid(`unknown command "${first}"`, "cnmlab --help")
  if (first === "help") return parseHelp(rest)
  return parseCommand(first, rest)
}

const parseHelp = (words: ReadonlyArray<string>): ParsedCommandLine => {
  const [topic, ...extra] = words.filter((word) => !helpFlags.has(word))
  if (topic === undefined) return ok({ name: "help" })
  if (!isCommandName(topic)) return invalid(`unknown command "${topic}"`, "cnmlab --help")
  if (extra.length > 0) return invalid(`unexpected argument "${extra[0]}" after help ${topic}`, "cnmlab --help")
  return ok({ name: "help", topic })
}

const parseCommand = (name: Exclude<CommandName, "help">, words: ReadonlyArray<string>): ParsedCommandLine => {
  const seeHelp = `cnmlab help ${name}`
  const flags = new Map<string, string | true>()
  const positionals: Array<string> = []
  for (let index = 0; index < words.length; index++) {
    const word = words[index] ?? ""
    if (word === "--") {
      positionals.push(...words.slice(index + 1))
      break
    }
    if (helpFlags.has(word)) return ok({ name: "help", topic: name })
    if (!word.startsWith("-") || word === "-") {
      positionals.push(word)
      continue
    }
    const equals = word.indexOf("=")
    const flag = equals < 0 ? word : word.slice(0, equals)
    const spec = flagsOf[name][flag]
    if (spec === undefined) return invalid(`unknown flag ${flag} for "${name}"`, seeHelp)
    if (!spec.takesValue) {
      if (equals >= 0) return invalid(`${flag} takes no value`, seeHelp)
      flags.set(flag, true)
      continue
    }
    const value = equals >= 0 ? word.slice(equals + 1) : words[++index]
    if (value === undefined || value === "") return invalid(`${flag} needs a value`, seeHelp)
    flags.set(flag, value)
  }

  const { min, max } = positionalCount[name]
  if (positionals.length > max) return invalid(`unexpected argument "${positionals[max]}" for "${name}"`, seeHelp)
  if (positionals.length < min) return invalid(`"${name}" needs a scenario FILE`, seeHelp)

  if (name !== "run") return ok({ name })
  const backend = flags.get("--backend") ?? "sim"
  if (backend === true || !(backends as ReadonlyArray<string>).includes(backend)) {
    return invalid(`--backend must be one of ${backends.join(", ")}, got "${String(backend)}"`, seeHelp)
  }
  return ok({
    name,
    file: positionals[0] ?? "",
    backend: backend as BackendName,
    json: flags.has("--json"),
    trace: flags.has("--trace"),
  })
}

const ok = (command: Command): ParsedCommandLine => ({ ok: true, command })

const invalid = (problem: string, helpCommand: string): ParsedCommandLine => ({
  ok: false,
  message: `${problem} (see ${helpCommand})`,
})
