/**
 * @module bin/commands/run — `taskrt run PATH`: starts the registry, lists what runs, and stops
 * gracefully on SIGINT/SIGTERM, from the first moment of start-up (a second signal exits at once,
 * see shutdown-signals.ts); with `--watch`, reloads it when its
 * files change. Status lines go to stderr so stdout carries only the runtime's log lines.
 */
import { TaskrtError, formatProblem } from "../../runtime/errors.ts";
import { createLogger, parseLogLevel, type LogLevel } from "../../runtime/logger.ts";
import { startRuntime, type Runtime } from "../../runtime/runtime.ts";
import { buildCacheStats } from "../../runtime/registry/build-cache.ts";
import { esbuildLoaded, stopEsbuild } from "../../runtime/registry/esbuild.ts";
import { requestValidatorCacheStats } from "../../runtime/http/request-validator-cache.ts";
import { flagValue, flagValues } from "../args.ts";
import { relativePath } from "../output.ts";
import { ShutdownSignals } from "../shutdown-signals.ts";
import { listCommands, readCommandArgs } from "./named-commands.ts";
import { VERSION } from "../package-info.ts";
import { KINDS_FLAG, OVERRIDE_FLAG, STRICT_FLAG, projectKinds, registryPath, type Command } from "./command.ts";

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export const runCommand: Command = {
  name: "run",
  usage: "run [PATH] [-o ns:entry:field=value]…",
  description: "validate, then start every auto-start entry",
  flags: [
    OVERRIDE_FLAG,
    STRICT_FLAG,
    KINDS_FLAG,
    { name: "log-level", choices: LOG_LEVELS, description: "lowest log level printed (default info)" },
    { name: "watch", description: "reload when a registry or handler file changes; a broken edit is refused and the running version keeps serving" },
    { name: "exec", alias: "x", value: "ns:entry", description: "run this process with the terminal as its stdin/stdout, then exit with its code (arguments after -- go to io.args())" },
    { name: "host", value: "id", description: "the terminal.host for --exec (needed only when the registry has several)" },
  ],
  async run(args, io) {
    const exec = flagValue(args, "exec");
    // Imported only when used: a server's start-up loads neither (nor `--watch`'s modules below).
    if (exec !== undefined) {
      const { readExecArgs, runExec } = await import("./run-exec.ts");
      return runExec(args, io, readExecArgs(args, exec));
    }
    const named = readCommandArgs(args);
    if (named?.command === "list") return listCommands(args, io, named.target);
    if (named) return (await import("./run-exec.ts")).runExec(args, io, named);
    // As `wippy run` from the project folder: no PATH is the working directory.
    const { target } = args.positional.length === 0 ? { target: "." } : registryPath(args, "run");
    const began = performance.now();
    // Before the signal handlers: importing the kind modules starts nothing a Ctrl-C would need to stop.
    const kinds = await projectKinds(args, target);
    const logger = createLogger({ level: parseLogLevel(flagValue(args, "log-level")) });
    // Before anything starts: a Ctrl-C while a service is still starting stops what has started.
    const signals = new ShutdownSignals(io);
    io.stderr(`taskrt ${VERSION}: starting ${target}\n`);
    const overrides = flagValues(args, "override");
    const strict = args.flags.has("strict");
    let runtime: Runtime;
    try {
      runtime = await startRuntime({ path: target, overrides, strict, kinds, logger, signal: signals.startup });
    } catch (error) {
      signals.dispose();
      if (error instanceof TaskrtError && error.code === "E_INTERRUPTED") {
        io.stderr("stopped cleanly\n");
        return 0;
      }
      throw error;
    }
    for (const warning of runtime.warnings) io.stderr(formatProblem(warning, relativePath) + "\n");
    const started = runtime.started();
    const failed = runtime.failed();
    const width = Math.max(0, ...[...started, ...failed].map((entry) => entry.id.length));
    for (const entry of started) io.stderr(`  ${entry.id.padEnd(width)}  ${entry.kind.padEnd(20)} ${entry.description ?? ""}`.trimEnd() + "\n");
    for (const entry of failed) io.stderr(`  ${entry.id.padEnd(width)}  ${entry.kind.padEnd(20)} failed: ${entry.cause}\n`);
    for (const dashboard of runtime.registry.entries.filter((entry) => entry.kind === "taskrt.dashboard")) {
      io.stderr(`  ${runtime.component<{ describe(): string }>(dashboard.id).describe()}\n`);
    }
    io.stderr(`ready in ${Math.round(performance.now() - began)}ms (${started.length} services). Ctrl-C stops gracefully.\n`);
    logger.debug("handler build cache", {
      hits: buildCacheStats.hits,
      misses: buildCacheStats.misses,
      esbuild: esbuildLoaded() ? "loaded" : "not loaded",
      schemaHits: requestValidatorCacheStats.hits,
      schemaMisses: requestValidatorCacheStats.misses,
    });
    if (!args.flags.has("watch")) {
      // The handlers are loaded: esbuild's service process has nothing left to do.
      await stopEsbuild();
      return signals.stopOnSignal(runtime);
    }
    const { watchRuntime } = await import("../../runtime/watch/watch-session.ts");
    const session = watchRuntime(runtime, { path: target, overrides, strict, kinds, logger, report: (line) => io.stderr(line + "\n"), relativePath });
    return signals.stopOnSignal(session);
  },
};
