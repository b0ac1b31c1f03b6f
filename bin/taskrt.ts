/**
 * @module bin/taskrt — the command line: `taskrt run`, `taskrt validate`, help and version.
 * Status lines go to stderr so stdout carries only the runtime's log lines.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { RegistryError, TaskrtError, formatProblem, type Problem } from "../runtime/errors.ts";
import { createLogger, parseLogLevel } from "../runtime/logger.ts";
import { checkRegistry, startRuntime, type Runtime } from "../runtime/runtime.ts";
import { UsageError, flagValue, flagValues, parseArgs, renderHelp, type CommandDefinition, type FlagDefinition } from "./args.ts";

const VERSION: string = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;

const OVERRIDE: FlagDefinition = { name: "override", alias: "o", value: "ns:entry:field=value", repeatable: true, description: "change one entry field for this launch (repeatable)" };
const COMMON: FlagDefinition[] = [
  { name: "help", alias: "h", description: "show this help" },
  { name: "version", alias: "v", description: "print the version" },
];
const COMMANDS: CommandDefinition[] = [
  {
    name: "run",
    usage: "run PATH [-o ns:entry:field=value]…",
    description: "validate, then start every auto-start entry",
    flags: [OVERRIDE, { name: "log-level", value: "debug|info|warn|error", description: "lowest log level printed (default info)" }],
  },
  {
    name: "validate",
    usage: "validate PATH [--format text|json]",
    description: "check a registry; exit 1 on any error",
    flags: [
      OVERRIDE,
      { name: "format", value: "text|json", description: "problems for people (default) or as JSON" },
      { name: "verbose", description: "say so when there is nothing to report" },
    ],
  },
];

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIO: CliIO = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };

export async function main(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  const [command, ...rest] = argv;
  const definition = COMMANDS.find((candidate) => candidate.name === command);
  try {
    if (!command || command === "--help" || command === "-h" || command === "help") {
      io.stdout(renderHelp("taskrt", VERSION, COMMANDS, COMMON));
      return 0;
    }
    if (command === "--version" || command === "-v") {
      io.stdout(`${VERSION}\n`);
      return 0;
    }
    if (!definition) throw new UsageError(`unknown command '${command}'`);
    const args = parseArgs(rest, [...definition.flags, ...COMMON]);
    if (args.flags.has("help")) {
      io.stdout(renderHelp("taskrt", VERSION, [definition], COMMON));
      return 0;
    }
    if (args.positional.length !== 1) throw new UsageError(`${command} takes one PATH (an _index.yaml, a directory, or a project with wippy.lock)`);
    return command === "run" ? await run(args.positional[0], flagValues(args, "override"), flagValue(args, "log-level"), io) : await validate(args.positional[0], flagValues(args, "override"), flagValue(args, "format"), args.flags.has("verbose"), io);
  } catch (error) {
    return reportFailure(error, io);
  }
}

async function validate(target: string, overrides: string[], format: string | undefined, verbose: boolean, io: CliIO): Promise<number> {
  if (format !== undefined && format !== "text" && format !== "json") throw new UsageError(`--format must be text or json, got '${format}'`);
  const { registry, problems } = await checkRegistry({ path: target, overrides });
  const errors = problems.filter((problem) => problem.severity === "error").length;
  if (format === "json") {
    io.stdout(JSON.stringify({ ok: errors === 0, entries: registry.entries.length, problems }, null, 2) + "\n");
  } else {
    for (const problem of problems) io.stdout(formatProblem(problem, relative) + "\n");
    if (problems.length || verbose) io.stdout(summary(registry.entries.length, problems) + "\n");
  }
  return errors ? 1 : 0;
}

function summary(entries: number, problems: Problem[]): string {
  return `${entries} entr${entries === 1 ? "y" : "ies"}: ${problemCounts(problems)}`;
}

function problemCounts(problems: Problem[]): string {
  const errors = problems.filter((problem) => problem.severity === "error").length;
  const warnings = problems.length - errors;
  return `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`;
}

async function run(target: string, overrides: string[], logLevel: string | undefined, io: CliIO): Promise<number> {
  if (logLevel !== undefined && !parseLogLevel(logLevel)) throw new UsageError(`--log-level must be debug, info, warn or error, got '${logLevel}'`);
  const began = performance.now();
  const logger = createLogger({ level: parseLogLevel(logLevel) });
  io.stderr(`taskrt ${VERSION}: starting ${target}\n`);
  const runtime = await startRuntime({ path: target, overrides, logger });
  for (const warning of runtime.warnings) io.stderr(formatProblem(warning, relative) + "\n");
  const started = runtime.started();
  const width = Math.max(0, ...started.map((entry) => entry.id.length));
  for (const entry of started) io.stderr(`  ${entry.id.padEnd(width)}  ${entry.kind.padEnd(20)} ${entry.description ?? ""}`.trimEnd() + "\n");
  io.stderr(`ready in ${Math.round(performance.now() - began)}ms (${started.length} services). Ctrl-C stops gracefully.\n`);
  return waitForSignal(runtime, io);
}

function waitForSignal(runtime: Runtime, io: CliIO): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        io.stderr(`received ${signal} again: exiting now, without waiting\n`);
        process.exit(130);
      }
      stopping = true;
      io.stderr(`received ${signal}: stopping — no new requests or messages; in-flight work gets its stop_timeout; ${signal} again forces exit\n`);
      runtime.stop().then(
        () => {
          io.stderr("stopped cleanly\n");
          cleanup();
          resolve(0);
        },
        (error: unknown) => {
          io.stderr(`stopped with errors: ${error instanceof Error ? error.message : String(error)}\n`);
          cleanup();
          resolve(1);
        },
      );
    };
    const cleanup = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

function reportFailure(error: unknown, io: CliIO): number {
  if (error instanceof UsageError) {
    io.stderr(`taskrt: ${error.message}\nRun 'taskrt --help' for usage.\n`);
    return 2;
  }
  if (error instanceof RegistryError) {
    for (const problem of error.problems) io.stderr(formatProblem(problem, relative) + "\n");
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

function relative(file: string): string {
  const relativePath = path.relative(process.cwd(), file);
  return relativePath.startsWith("..") ? file : relativePath;
}
