/**
 * @module handlers/lua/code-kind — the shared definition of `function.lua` and `process.lua`: both
 * run their calls on the Lua worker threads and offer a Callable; they differ only in who calls.
 * Start loads the source into one worker, so a source that does not compile or run fails there.
 * The engine, the modules and the workers load on the first start or check of a Lua entry, so a
 * registry without Lua never pays for them in start-up time or memory.
 */
import { PROBLEM_CODES, TaskrtError, errorMessage, type Problem } from "../../errors.ts";
import { parseDuration } from "../../duration.ts";
import { defineKind, type KindDefinition } from "../../contracts/kind-definition.ts";
import type { Entry, Registry } from "../../registry/entry.ts";
import { createEntryCallContext, type EntryCallContext } from "../call-context.ts";
import { createLogger } from "../../logger.ts";
import type { EntrySpec } from "./workers/protocol.ts";
import type { Callable, CallableComponent, CallResult, CallScope } from "../handler.ts";
import { readLuaSource } from "./source.ts";
import { parseByteSize } from "../../byte-size.ts";

/** How long the workers a check started wait for the entries' start before they are stopped. */
const POOL_RELEASE_AFTER_CHECK_MS = 2000;

/**
 * How long a process.lua entry's processes get, once it stops, between CANCEL and being ended:
 * under the supervisor's deadline for stopping an entry that is no service.
 */
const PROCESS_STOP_GRACE_MS = 3000;

/** The schema's default memory_limit, for entries built without schema defaults applied. */
const DEFAULT_MEMORY_LIMIT = "256MB";

let luaRuntime: Promise<typeof import("./workers/pool.ts")> | undefined;

/** The worker pool (with the modules it serves), imported once, on first use. */
function loadLuaRuntime(): ReturnType<typeof importLuaRuntime> {
  luaRuntime ??= importLuaRuntime();
  return luaRuntime;
}

function importLuaRuntime() {
  const loading = import("./workers/pool.ts");
  // A failed import is tried again by the next start rather than remembered.
  loading.catch(() => (luaRuntime = undefined));
  return loading;
}

function entrySpec(entry: Entry, source: { code: string; fileName?: string }): Omit<EntrySpec, "key"> {
  return {
    entryId: entry.id,
    code: source.code,
    fileName: source.fileName,
    modules: Array.isArray(entry.data.modules) ? (entry.data.modules as string[]) : [],
    method: String(entry.data.method),
    maxRunMs: parseDuration(entry.data.max_run_time as string | number),
    memoryLimit: memoryLimitOf(entry),
  };
}

function memoryLimitOf(entry: Entry): number {
  return parseByteSize((entry.data.memory_limit as string | number | undefined) ?? DEFAULT_MEMORY_LIMIT);
}

export function defineLuaCodeKind(kind: string, summary: string): KindDefinition {
  return defineKind({
    kind,
    summary,
    references: [],
    service: false,
    check: checkLuaSource,
    checkUnvalidated: checkLuaSyntax,
    create(entry, context) {
      const base = createEntryCallContext(entry, context);
      let stopEntry: (() => Promise<void>) | undefined;
      let loaded: Callable | undefined;
      const component: CallableComponent & { start(): Promise<void>; stop(): Promise<void> } = {
        async start() {
          if (loaded) return;
          const [{ luaWorkerPool, releaseLuaWorkerPool }, source] = await Promise.all([loadLuaRuntime(), readLuaSource(entry, context.registry.root)]);
          const pool = luaWorkerPool();
          const poolEntry = pool.register(entrySpec(entry, source), base);
          stopEntry = async () => {
            pool.unregister(poolEntry);
            await releaseLuaWorkerPool();
          };
          try {
            await pool.load(poolEntry);
          } catch (error) {
            await stopEntry();
            stopEntry = undefined;
            throw error;
          }
          if (kind === "process.lua") {
            // A terminal.host runs processes too (the one of `run -x`, and those it spawns there).
            const hosts = context.registry.entries.filter((candidate) => candidate.kind === "process.host" || candidate.kind === "terminal.host").map((host) => host.id);
            pool.declareProcess(poolEntry, hosts);
            const stopCalls = stopEntry;
            stopEntry = async () => {
              await pool.stopProcesses(poolEntry, PROCESS_STOP_GRACE_MS);
              await stopCalls();
            };
            loaded = { entryId: entry.id, call: (args, scope) => (scope?.process ? runAsProcess(pool, poolEntry, args, scope, base) : pool.call(poolEntry, args, scope)) };
            return;
          }
          loaded = { entryId: entry.id, call: (args, scope) => pool.call(poolEntry, args, scope) };
        },
        async stop() {
          loaded = undefined;
          const stopping = stopEntry;
          stopEntry = undefined;
          await stopping?.();
        },
        callable() {
          if (!loaded) throw new TaskrtError("E_NOT_STARTED", `${entry.id} was called before its code was loaded`, { entryId: entry.id });
          return loaded;
        },
      };
      return component;
    },
  });
}

type LuaPool = ReturnType<Awaited<ReturnType<typeof loadLuaRuntime>>["luaWorkerPool"]>;

/**
 * A process.service's call: the entry runs as a process on the service's host, with a pid, an
 * inbox and events. Its signal sends CANCEL; a process still running stop_timeout later is ended.
 */
function runAsProcess(pool: LuaPool, entry: Parameters<LuaPool["startProcess"]>[0], args: readonly unknown[], scope: CallScope, base: EntryCallContext): Promise<CallResult> {
  const { host, stopTimeoutMs } = scope.process!;
  // A process on a terminal (`run -x`): its module calls run in the entry's context, which holds the
  // terminal, and the run's signal (so a readline ends on Ctrl-C), while it runs.
  const terminal = scope.terminal;
  const held = base as { terminal?: unknown; signal?: AbortSignal };
  if (terminal) {
    Object.assign(held, { terminal, signal: scope.signal });
    // Cancelled (Ctrl-C, SIGTERM): the terminal is the process's no longer.
    scope.signal?.addEventListener("abort", () => delete held.terminal, { once: true });
  }
  const { pid, done: running } = pool.startProcess(entry, host, args);
  const done = terminal ? running.finally(() => (delete held.terminal, delete held.signal)) : running;
  const signal = scope.signal;
  if (!signal) return done;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    pool.processes.cancel(pid, "the service is stopping");
    timer = setTimeout(() => pool.processes.terminate(pid, `still running ${stopTimeoutMs}ms after CANCEL (lifecycle.stop_timeout)`), stopTimeoutMs);
    timer.unref();
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return done.finally(() => {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  });
}

/**
 * The source exists, compiles, runs, and exports `method`. It runs in a Lua worker, as calls do,
 * so no user code runs on the main thread; with no services and no modules declared, a module
 * call made while the file loads returns an error, as it would outside a call.
 */
async function checkLuaSource(entry: Entry, registry: Registry): Promise<Problem[]> {
  // Loading would only fail again at the require of an import: the source is parsed instead.
  if (importsProblems(entry).length > 0) return checkLuaSyntax(entry, registry);
  try {
    const [{ luaWorkerPool, releaseLuaWorkerPool }, source] = await Promise.all([loadLuaRuntime(), readLuaSource(entry, registry.root)]);
    const pool = luaWorkerPool();
    const checking = pool.register(entrySpec(entry, source), {
      entryId: entry.id,
      modules: new Set(),
      services: undefined as unknown as EntryCallContext["services"],
      logger: createLogger({ level: "error", sink: { write: () => {} } }, entry.id),
    });
    try {
      await pool.load(checking);
    } finally {
      pool.unregister(checking);
      // `run` starts the entries next and keeps the pool; after a bare `validate` it must end, or
      // its threads would keep the process alive.
      setTimeout(() => void releaseLuaWorkerPool(), POOL_RELEASE_AFTER_CHECK_MS).unref();
    }
    return [];
  } catch (error) {
    return [sourceProblem(entry, error)];
  }
}

/**
 * Wippy's `imports` make other entries (library.lua) available to `require`; taskrt has no
 * library.lua, so the require would fail when it runs: refused up front, naming each import.
 */
function importsProblems(entry: Entry): Problem[] {
  const imports = entry.data.imports;
  if (typeof imports !== "object" || imports === null || Array.isArray(imports) || Object.keys(imports).length === 0) return [];
  const named = Object.entries(imports as Record<string, unknown>).map(([alias, target]) => `require("${alias}") of ${String(target)}`);
  return [
    {
      code: PROBLEM_CODES.UNSUPPORTED_MODULE,
      severity: "error",
      entryId: entry.id,
      field: "imports",
      location: entry.locate(["imports"]),
      message: `imports cannot be honoured by taskrt: it does not load library.lua entries, so ${named.join(", ")} would fail`,
      hint: "move the library's functions into this file, or make them a function entry and call that",
    },
  ];
}

/**
 * For an entry whose fields failed their schema (or whose imports are refused): its source exists
 * and parses (typed Lua included), found without running it, so a mistyped field does not hide
 * the file's syntax errors.
 */
async function checkLuaSyntax(entry: Entry, registry: Registry): Promise<Problem[]> {
  const refused = importsProblems(entry);
  if (typeof entry.data.source !== "string" || entry.data.source === "") return refused;
  try {
    const source = await readLuaSource(entry, registry.root);
    // Loaded only when a registry has Lua entries: a TypeScript-only start does not parse the parser.
    const { eraseTypes, LuaSyntaxError } = await import("./typed/erase.ts");
    try {
      eraseTypes(source.code);
    } catch (error) {
      if (!(error instanceof LuaSyntaxError)) throw error;
      throw new TaskrtError("E_SOURCE_INVALID", `${entry.id}: ${source.fileName ?? entry.id}:${error.message}`, { entryId: entry.id, cause: error });
    }
    return refused;
  } catch (error) {
    return [...refused, sourceProblem(entry, error)];
  }
}

/** A failed check of the source, at the field it concerns. */
function sourceProblem(entry: Entry, error: unknown): Problem {
  const code = error instanceof TaskrtError ? error.code : "";
  const onMethod = code === "E_METHOD_MISSING";
  return {
    code: onMethod
      ? PROBLEM_CODES.METHOD_MISSING
      : code === "E_SOURCE_MISSING"
        ? PROBLEM_CODES.SOURCE_MISSING
        : code === "E_UNSUPPORTED_MODULE"
          ? PROBLEM_CODES.UNSUPPORTED_MODULE
          : PROBLEM_CODES.SOURCE_INVALID,
    severity: "error",
    entryId: entry.id,
    field: onMethod ? "method" : "source",
    location: entry.locate([onMethod ? "method" : "source"]),
    message: errorMessage(error).replace(`${entry.id}: `, ""),
    hint: error instanceof TaskrtError ? error.hint : undefined,
  };
}
