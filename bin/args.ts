/**
 * @module bin/args — declared flags, parsed once; the same declarations print the help screen.
 */

export interface FlagDefinition {
  name: string;
  alias?: string;
  description: string;
  /** Takes a value (`--format json`); repeatable flags collect every value. */
  value?: string;
  /** The only values accepted; the flag then takes a value, shown as `a|b` unless `value` says otherwise. */
  choices?: readonly string[];
  repeatable?: boolean;
  /** Parsed but left out of the help screen (for tests and tooling, not for people). */
  hidden?: boolean;
}

export interface CommandDefinition {
  name: string;
  usage: string;
  description: string;
  flags: FlagDefinition[];
}

export interface ParsedArgs {
  positional: string[];
  /** Everything after a bare `--`, untouched (the arguments `run -x` hands the process). */
  rest?: string[];
  flags: Map<string, string[] | true>;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], flags: readonly FlagDefinition[]): ParsedArgs {
  const byName = new Map<string, FlagDefinition>();
  for (const flag of flags) {
    byName.set(`--${flag.name}`, flag);
    if (flag.alias) byName.set(`-${flag.alias}`, flag);
  }
  const parsed: ParsedArgs = { positional: [], flags: new Map() };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === "--") {
      parsed.rest = argv.slice(index + 1);
      break;
    }
    if (!argument.startsWith("-") || argument === "-") {
      parsed.positional.push(argument);
      continue;
    }
    const [key, inline] = argument.includes("=") && argument.startsWith("--") ? [argument.slice(0, argument.indexOf("=")), argument.slice(argument.indexOf("=") + 1)] : [argument, undefined];
    const flag = byName.get(key);
    if (!flag) throw new UsageError(`unknown option ${key}`);
    const placeholder = valuePlaceholder(flag);
    if (!placeholder) {
      parsed.flags.set(flag.name, true);
      continue;
    }
    const value = inline ?? argv[++index];
    if (value === undefined) throw new UsageError(`option --${flag.name} needs a value (${placeholder})`);
    if (flag.choices && !flag.choices.includes(value)) throw new UsageError(`--${flag.name} must be ${listChoices(flag.choices)}, got '${value}'`);
    const previous = parsed.flags.get(flag.name);
    parsed.flags.set(flag.name, flag.repeatable && Array.isArray(previous) ? [...previous, value] : [value]);
  }
  return parsed;
}

export function flagValue(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  return Array.isArray(value) ? value[value.length - 1] : undefined;
}

export function flagValues(args: ParsedArgs, name: string): string[] {
  const value = args.flags.get(name);
  return Array.isArray(value) ? value : [];
}

export function renderHelp(program: string, version: string, commands: readonly CommandDefinition[], common: readonly FlagDefinition[]): string {
  const usages = commands.map((command) => `  ${program} ${command.usage}`);
  const shown = (flags: readonly FlagDefinition[]) => flags.filter((flag) => !flag.hidden);
  const allFlags = [...commands.flatMap((command) => shown(command.flags)), ...shown(common)];
  const flagWidth = Math.max(...allFlags.map((flag) => flagNames(flag).length)) + 2;
  const usageWidth = Math.max(...usages.map((usage) => usage.length)) + 2;
  const lines = [`${program} ${version} — run Wippy-style YAML registries on Node`, "", "Usage:"];
  commands.forEach((command, index) => lines.push(usages[index].padEnd(usageWidth) + command.description));
  const renderFlag = (flag: FlagDefinition) => flagNames(flag).padEnd(flagWidth) + flag.description;
  for (const command of commands) {
    if (!shown(command.flags).length) continue;
    lines.push("", `Options for ${command.name}:`, ...shown(command.flags).map(renderFlag));
  }
  lines.push("", "Options:", ...shown(common).map(renderFlag));
  return lines.join("\n") + "\n";
}

function flagNames(flag: FlagDefinition): string {
  const placeholder = valuePlaceholder(flag);
  return `  ${flag.alias ? `-${flag.alias}, ` : "    "}--${flag.name}${placeholder ? ` ${placeholder}` : ""}`;
}

function valuePlaceholder(flag: FlagDefinition): string | undefined {
  return flag.value ?? flag.choices?.join("|");
}

/** `a or b`, `a, b or c`. */
function listChoices(choices: readonly string[]): string {
  return choices.length === 1 ? choices[0] : `${choices.slice(0, -1).join(", ")} or ${choices[choices.length - 1]}`;
}
