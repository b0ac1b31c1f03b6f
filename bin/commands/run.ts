/**
 * @module bin/commands/run — `taskrt run PATH`: starts the registry, lists what runs, and stops
 * gracefully on SIGINT/SIGTERM (a second signal exits at once); with `--watch`, reloads it when its
 * files change. Status lines go to stderr so stdout carries only the runtime's log lines.
 */
import { formatProblem } from "../../runtime/errors.ts";
import { createLogger, parseLogLevel, type LogLevel } from "../../runtime/logger.ts";
import { startRuntime } from "../../runtime/runtime.ts";
import { watchRuntime } from "../../runtime/watch/watch-session.ts";
import { flagValue, flagValues } from "../args.ts";
import { relativePath, type CliIO } from "../output.ts";
import { VERSION } from "../package-info.ts";
import { OVERRIDE_FLAG, registryPath, type Command } from "./command.ts";

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export const runCommand: Command = {
  name: "run",
  usage: "run PATH [-o ns:entry:field=value]…",
  description: "validate, then start every auto-start entry",
  flags: [
    OVERRIDE_FLAG,
    { name: "log-level", choices: LOG_LEVELS, description: "lowest log level printed (default info)" },
    { name: "watch", description: "reload when a registry or handler file changes; a broken edit is refused and the running version keeps serving" },
  ],
  async run(args, io) {
    const { target } = registryPath(args, "run");
    const began = performance.now();
    const logger = createLogger({ level: parseLogLevel(flagValue(args, "log-level")) });
    io.stderr(`taskrt ${VERSION}: starting ${target}\n`);
    const overrides = flagValues(args, "override");
    const runtime = await startRuntime({ path: target, overrides, logger });
    for (const warning of runtime.warnings) io.stderr(formatProblem(warning, relativePath) + "\n");
    const started = runtime.started();
    const width = Math.max(0, ...started.map((entry) => entry.id.length));
    for (const entry of started) io.stderr(`  ${entry.id.padEnd(width)}  ${entry.kind.padEnd(20)} ${entry.description ?? ""}`.trimEnd() + "\n");
    for (const dashboard of runtime.registry.entries.filter((entry) => entry.kind === "taskrt.dashboard")) {
      io.stderr(`  ${runtime.component<{ describe(): string }>(dashboard.id).describe()}\n`);
    }
    io.stderr(`ready in ${Math.round(performance.now() - began)}ms (${started.length} services). Ctrl-C stops gracefully.\n`);
    if (!args.flags.has("watch")) return waitForSignal(runtime, io);
    const session = watchRuntime(runtime, { path: target, overrides, logger, report: (line) => io.stderr(line + "\n"), relativePath });
    return waitForSignal(session, io);
  },
};

/** `running` is the runtime, or the watch session that owns whichever runtime is current. */
function waitForSignal(running: { stop(): Promise<void> }, io: CliIO): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        io.stderr(`received ${signal} again: exiting now, without waiting\n`);
        process.exit(130);
      }
      stopping = true;
      io.stderr(`received ${signal}: stopping — no new requests or messages; in-flight work gets its stop_timeout; ${signal} again forces exit\n`);
      running.stop().then(
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
