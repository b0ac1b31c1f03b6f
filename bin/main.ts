/**
 * @module bin/main — the command line's dispatcher: finds the command, parses its declared flags,
 * prints help and version, and turns thrown errors into one clear line and an exit code.
 */
import { RegistryError, TaskrtError, formatProblem } from "../runtime/errors.ts";
import { UsageError, parseArgs, renderHelp, type FlagDefinition } from "./args.ts";
import type { Command } from "./commands/command.ts";
import { defaultIO, problemCounts, relativePath, type CliIO } from "./output.ts";
import { VERSION } from "./package-info.ts";

export type { CliIO } from "./output.ts";

const COMMON: FlagDefinition[] = [
  { name: "help", alias: "h", description: "show this help" },
  { name: "version", alias: "v", description: "print the version" },
];

/**
 * The commands, imported when needed: `run` alone for `taskrt run` (the server's start-up does not
 * load graph rendering, `init`'s templates and the rest), all of them otherwise (help lists them).
 */
async function loadCommands(name: string | undefined): Promise<Command[]> {
  if (name === "run") return [(await import("./commands/run.ts")).runCommand];
  const [run, validate, graph, inspect, queue, kinds, schema, init] = await Promise.all([
    import("./commands/run.ts"),
    import("./commands/validate.ts"),
    import("./commands/graph.ts"),
    import("./commands/inspect.ts"),
    import("./commands/queue.ts"),
    import("./commands/kinds.ts"),
    import("./commands/schema.ts"),
    import("./commands/init.ts"),
  ]);
  return [run.runCommand, validate.validateCommand, graph.graphCommand, inspect.inspectCommand, queue.queueCommand, kinds.kindsCommand, schema.schemaCommand, init.initCommand];
}

export async function main(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  const [name, ...rest] = argv;
  try {
    const COMMANDS = await loadCommands(name);
    if (!name || name === "--help" || name === "-h" || name === "help") {
      io.stdout(renderHelp("taskrt", VERSION, COMMANDS, COMMON));
      return 0;
    }
    if (name === "--version" || name === "-v") {
      io.stdout(`${VERSION}\n`);
      return 0;
    }
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (!command) throw new UsageError(`unknown command '${name}'`);
    const args = parseArgs(rest, [...command.flags, ...COMMON]);
    if (args.flags.has("help")) {
      io.stdout(renderHelp("taskrt", VERSION, [command], COMMON));
      return 0;
    }
    // After a command too (`taskrt run app/_index.yaml --version`): it prints, it never starts anything.
    if (args.flags.has("version")) {
      io.stdout(`${VERSION}\n`);
      return 0;
    }
    return await command.run(args, io);
  } catch (error) {
    return reportFailure(error, io);
  }
}

function reportFailure(error: unknown, io: CliIO): number {
  if (error instanceof UsageError) {
    io.stderr(`taskrt: ${error.message}\nRun 'taskrt --help' for usage.\n`);
    return 2;
  }
  if (error instanceof RegistryError) {
    for (const problem of error.problems) io.stderr(formatProblem(problem, relativePath) + "\n");
    io.stderr(`taskrt: not starting: ${problemCounts(error.problems)}\n`);
    return 1;
  }
  if (error instanceof TaskrtError) {
    io.stderr(`taskrt: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ""}\n`);
    return 1;
  }
  io.stderr(`taskrt: unexpected error (a bug — please report it):\n${error instanceof Error ? error.stack : String(error)}\n`);
  return 70;
}
