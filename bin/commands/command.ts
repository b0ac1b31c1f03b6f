/**
 * @module bin/commands/command — what a CLI command is (its declaration plus the code that runs it),
 * and the steps several commands share: one PATH argument, a registry checked before use.
 */
import type { KindDefinition } from "../../runtime/contracts/kind-definition.ts";
import { formatProblem } from "../../runtime/errors.ts";
import { loadKindModules } from "../../runtime/kind-modules.ts";
import type { Registry } from "../../runtime/registry/entry.ts";
import { checkRegistry } from "../../runtime/runtime.ts";
import { UsageError, flagValues, type CommandDefinition, type FlagDefinition, type ParsedArgs } from "../args.ts";
import { problemCounts, relativePath, type CliIO } from "../output.ts";

export interface Command extends CommandDefinition {
  /** Resolves to the exit code; user errors are thrown (UsageError, TaskrtError) for the dispatcher to print. */
  run(args: ParsedArgs, io: CliIO): Promise<number>;
}

export const OVERRIDE_FLAG: FlagDefinition = {
  name: "override",
  alias: "o",
  value: "ns:entry:field=value",
  repeatable: true,
  description: "change one entry field for this launch (repeatable)",
};

export const STRICT_FLAG: FlagDefinition = {
  name: "strict",
  description: "refuse unknown fields (errors, not warnings): a typo cannot leave a field at its default",
};

export const KINDS_FLAG: FlagDefinition = {
  name: "kinds",
  value: "module",
  repeatable: true,
  description: 'load kinds from a module: a ./path or a package name (repeatable); package.json\'s "taskrt": {"kinds": [...]} too',
};

/** The kinds from outside taskrt a registry uses: its package.json's, then `--kinds`. */
export function projectKinds(args: ParsedArgs, target: string): Promise<KindDefinition[]> {
  return loadKindModules({ registryPath: target, modules: flagValues(args, "kinds") });
}

const PATH_TAKES = "(an _index.yaml, a directory, or a project with wippy.lock)";

/** The positional arguments, refusing more than `optional` beyond the first `required`. */
export function positionals(args: ParsedArgs, command: string, required: number, optional: number, what: string): string[] {
  const count = args.positional.length;
  if (count < required || count > required + optional) throw new UsageError(`${command} takes ${what}`);
  return args.positional;
}

export function registryPath(args: ParsedArgs, command: string, optionalId = false): { target: string; id?: string } {
  const [target, id] = positionals(args, command, 1, optionalId ? 1 : 0, optionalId ? `a PATH ${PATH_TAKES} and optionally an entry id` : `one PATH ${PATH_TAKES}`);
  return { target, id };
}

/**
 * The registry, validated with its defaults filled in; problems go to stderr (warnings too), and
 * with any error it is undefined, after a last line saying what is not being done.
 */
export async function checkedRegistry(target: string, overrides: string[], kinds: readonly KindDefinition[], refusal: string, io: CliIO): Promise<Registry | undefined> {
  const { registry, problems } = await checkRegistry({ path: target, overrides, kinds });
  for (const problem of problems) io.stderr(formatProblem(problem, relativePath) + "\n");
  if (!problems.some((problem) => problem.severity === "error")) return registry;
  io.stderr(`taskrt: ${refusal}: ${problemCounts(problems)}\n`);
  return undefined;
}
