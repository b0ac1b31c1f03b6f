/**
 * @module bin/commands/run-exec — `taskrt run PATH -x ns:entry`: starts the registry, runs one
 * process entry to completion with this terminal as its stdin and stdout (the `io` module), then
 * stops and exits with the process's code, as `wippy run -x` does. Only the process writes to
 * stdout; log lines (warnings and worse unless --log-level says otherwise) go to stderr, or
 * nowhere when the terminal.host sets `hide_logs`.
 */
import { TaskrtError, errorMessage, formatProblem } from "../../runtime/errors.ts";
import type { CallResult, CallableComponent } from "../../runtime/handlers/handler.ts";
import { createLogger, parseLogLevel } from "../../runtime/logger.ts";
import { createStreamTerminal } from "../../runtime/modules/stream-terminal.ts";
import type { Registry } from "../../runtime/registry/entry.ts";
import { startRuntime, type Runtime } from "../../runtime/runtime.ts";
import { existsSync } from "node:fs";
import { flagValue, flagValues, UsageError, type ParsedArgs } from "../args.ts";
import type { CliIO } from "../output.ts";
import { relativePath } from "../output.ts";
import { ShutdownSignals } from "../shutdown-signals.ts";
import { projectKinds } from "./command.ts";
import { commandEntry } from "./named-commands.ts";

/** How long the process of `run -x` has, after CANCEL (Ctrl-C, SIGTERM), to return before it is ended. */
const EXEC_STOP_TIMEOUT_MS = 3000;

/** Wippy's exit code for a finished process: nothing/true → 0, false or an error → 1, a number → itself. */
export function exitCodeOf(result: CallResult): number {
  if (result.error) return 1;
  const { value } = result;
  if (typeof value === "number" && Number.isInteger(value)) return Math.min(255, Math.max(0, value));
  if (value === false) return 1;
  return 0;
}

/** The terminal.host the process runs on: `--host`, else the only one; undefined when the registry has none. */
export function terminalHostOf(registry: Registry, requested: string | undefined): string | undefined {
  const hosts = registry.entries.filter((entry) => entry.kind === "terminal.host").map((entry) => entry.id);
  if (requested !== undefined) {
    const entry = registry.byId.get(requested);
    if (!entry) throw new UsageError(`--host ${requested}: no such entry${hosts.length ? ` (terminal hosts: ${hosts.join(", ")})` : ""}`);
    if (entry.kind !== "terminal.host") throw new UsageError(`--host ${requested} is a ${entry.kind} entry, not a terminal.host`);
    return requested;
  }
  if (hosts.length > 1) throw new UsageError(`the registry has ${hosts.length} terminal hosts (${hosts.join(", ")}): choose one with --host`);
  return hosts[0];
}

function checkProcessEntry(registry: Registry, id: string): void {
  const entry = registry.byId.get(id);
  if (!entry) {
    throw new TaskrtError("E_EXEC_NOT_FOUND", `run -x ${id}: no such entry`, { hint: id.includes(":") ? "check the namespace and name (taskrt inspect lists the entries)" : "give the full id, namespace:name" });
  }
  const runnable = (entry.kind.startsWith("process.") && entry.kind !== "process.host" && entry.kind !== "process.service") || entry.kind.startsWith("function.");
  if (!runnable) {
    throw new TaskrtError("E_EXEC_NOT_PROCESS", `run -x ${id}: it is a ${entry.kind} entry; -x runs a process (process.lua, process.ts) or a function`, { entryId: id });
  }
}

/**
 * What `run … -x` was given, as Wippy's CLI reads it: `-x host/entry` names the terminal host too;
 * the registry PATH may be left out (the working directory, as `wippy run -x` runs from the
 * project), and positionals after it, with everything after `--`, are the process's arguments.
 */
export function readExecArgs(args: ParsedArgs, exec: string, exists: (path: string) => boolean = existsSync): ExecRequest & { processId: string } {
  const slash = exec.indexOf("/");
  const processId = slash < 0 ? exec : exec.slice(slash + 1);
  const host = slash < 0 ? flagValue(args, "host") : exec.slice(0, slash);
  if (processId === "" || host === "") throw new UsageError(`-x takes ns:entry or host/ns:entry, got '${exec}'`);
  const [first, ...others] = args.positional;
  const pathGiven = first !== undefined && exists(first);
  return { target: pathGiven ? first : ".", processId, host, processArgs: [...(pathGiven ? others : args.positional), ...(args.rest ?? [])] };
}

/** What to run: a process by id (`-x`), or the process registered as a named command (`meta.command.name`). */
export interface ExecRequest {
  target: string;
  processId?: string;
  command?: string;
  host?: string;
  processArgs: string[];
}

export async function runExec(args: ParsedArgs, io: CliIO, request: ExecRequest): Promise<number> {
  const { target, host: requestedHost, processArgs } = request;
  let processId = request.processId ?? "";
  const kinds = await projectKinds(args, target);
  let logsHidden = false;
  const logger = createLogger({
    level: parseLogLevel(flagValue(args, "log-level")) ?? "warn",
    format: process.stderr.isTTY ? "text" : "json",
    sink: { write: (line) => void (logsHidden || process.stderr.write(line)) },
  });
  const signals = new ShutdownSignals(io);
  let runtime: Runtime;
  try {
    runtime = await startRuntime({ path: target, overrides: flagValues(args, "override"), strict: args.flags.has("strict"), kinds, logger, signal: signals.startup });
  } catch (error) {
    signals.dispose();
    if (error instanceof TaskrtError && error.code === "E_INTERRUPTED") return 130;
    throw error;
  }
  for (const warning of runtime.warnings) io.stderr(formatProblem(warning, relativePath) + "\n");
  const terminal = createStreamTerminal({ input: process.stdin, output: process.stdout, errorOutput: process.stderr, args: processArgs });
  const abort = new AbortController();
  try {
    if (request.command !== undefined) processId = commandEntry(runtime.registry, request.command);
    checkProcessEntry(runtime.registry, processId);
    const host = terminalHostOf(runtime.registry, requestedHost);
    logsHidden = host !== undefined && runtime.registry.byId.get(host)!.data.hide_logs === true;
    let signalled = false;
    const interrupted = signals.stopOnSignal({
      stop: async () => {
        signalled = true;
        abort.abort(new TaskrtError("E_CANCELED", `${processId} was cancelled: the runtime is stopping`));
        await runtime.stop();
      },
    });
    // The arguments go to its method too: a process's main, or a function run directly (`wippy run -x app:ask "…"`).
    // A process.lua runs as a process on the terminal host (a pid, an inbox, events), as Wippy runs it.
    const asProcess = host !== undefined && runtime.registry.byId.get(processId)!.kind === "process.lua";
    const scope = { terminal, signal: abort.signal, ...(asProcess ? { process: { host, stopTimeoutMs: EXEC_STOP_TIMEOUT_MS } } : {}) };
    const result = await runtime.component<CallableComponent>(processId).callable().call(processArgs, scope);
    // Cancelled by SIGINT/SIGTERM: the exit code says so once the runtime has stopped (130, or 1 if stopping failed).
    if (signalled) return (await interrupted) === 0 ? 130 : 1;
    if (result.error) io.stderr(`${processId} failed: ${errorMessage(result.error)}\n`);
    else if (typeof result.value === "string") await terminal.write(result.value.endsWith("\n") ? result.value : `${result.value}\n`);
    return exitCodeOf(result);
  } finally {
    terminal.close();
    abort.abort();
    await runtime.stop();
    signals.dispose();
  }
}
