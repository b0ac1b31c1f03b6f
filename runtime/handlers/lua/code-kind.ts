/**
 * @module handlers/lua/code-kind — the shared definition of `function.lua` and `process.lua`: both
 * run their calls on the Lua worker threads and offer a Callable; they differ only in who calls.
 * Start loads the source into one worker, so a source that does not compile or run fails there.
 * The engine, the modules and the workers load on the first start or check of a Lua entry, so a
 * registry without Lua never pays for them in start-up time or memory.
 */
import { PROBLEM_CODES, TaskrtError, errorMessage, type Problem } from "../../errors.ts";
import { parseDuration } from "../../duration.ts";
import { defineKind, type KindDefinition } from "../../kinds/kind.ts";
import type { Entry, Registry } from "../../registry/entry.ts";
import { createEntryCallContext } from "../call-context.ts";
import type { Callable, CallableComponent } from "../handler.ts";
import type { LuaEngine } from "./engine.ts";
import { readLuaSource } from "./source.ts";
import { parseByteSize } from "../../byte-size.ts";

/** The schema's default memory_limit, for entries built without schema defaults applied. */
const DEFAULT_MEMORY_LIMIT = "256MB";

let luaRuntime: Promise<[typeof import("./engine.ts"), typeof import("./modules/index.ts"), typeof import("./workers/pool.ts")]> | undefined;

/** The engine, the modules and the callable wrapper, imported once, on first use. */
function loadLuaRuntime(): ReturnType<typeof importLuaRuntime> {
  luaRuntime ??= importLuaRuntime();
  return luaRuntime;
}

function importLuaRuntime() {
  const loading = Promise.all([import("./engine.ts"), import("./modules/index.ts"), import("./workers/pool.ts")]);
  // A failed import is tried again by the next start rather than remembered.
  loading.catch(() => (luaRuntime = undefined));
  return loading;
}

/** Loads an entry's source into a new Lua state (the prelude, then the file, run once). */
export async function createEntryEngine(entry: Entry, root: string): Promise<LuaEngine> {
  const [source, [{ LuaEngine }, { LUA_MODULES }]] = await Promise.all([readLuaSource(entry, root), loadLuaRuntime()]);
  return LuaEngine.create({
    entryId: entry.id,
    code: source.code,
    fileName: source.fileName,
    modules: new Set(Array.isArray(entry.data.modules) ? (entry.data.modules as string[]) : []),
    library: LUA_MODULES,
    maxRunMs: parseDuration(entry.data.max_run_time as string | number),
    memoryLimit: memoryLimitOf(entry),
  });
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
    create(entry, context) {
      const base = createEntryCallContext(entry, context);
      let stopEntry: (() => Promise<void>) | undefined;
      let loaded: Callable | undefined;
      const component: CallableComponent & { start(): Promise<void>; stop(): Promise<void> } = {
        async start() {
          if (loaded) return;
          const [[, , { luaWorkerPool, releaseLuaWorkerPool }], source] = await Promise.all([loadLuaRuntime(), readLuaSource(entry, context.registry.root)]);
          const pool = luaWorkerPool();
          const poolEntry = pool.register(
            {
              entryId: entry.id,
              code: source.code,
              fileName: source.fileName,
              modules: Array.isArray(entry.data.modules) ? (entry.data.modules as string[]) : [],
              method: String(entry.data.method),
              maxRunMs: parseDuration(entry.data.max_run_time as string | number),
              memoryLimit: memoryLimitOf(entry),
            },
            base,
          );
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

/** The source exists, compiles, runs, and exports `method`. */
async function checkLuaSource(entry: Entry, registry: Registry): Promise<Problem[]> {
  let engine: LuaEngine | undefined;
  try {
    engine = await createEntryEngine(entry, registry.root);
    engine.method(String(entry.data.method));
    return [];
  } catch (error) {
    const code = error instanceof TaskrtError ? error.code : "";
    const onMethod = code === "E_METHOD_MISSING";
    return [
      {
        code: onMethod ? PROBLEM_CODES.METHOD_MISSING : code === "E_SOURCE_MISSING" ? PROBLEM_CODES.SOURCE_MISSING : PROBLEM_CODES.SOURCE_INVALID,
        severity: "error",
        entryId: entry.id,
        field: onMethod ? "method" : "source",
        location: entry.locate([onMethod ? "method" : "source"]),
        message: errorMessage(error).replace(`${entry.id}: `, ""),
        hint: error instanceof TaskrtError ? error.hint : undefined,
      },
    ];
  } finally {
    engine?.close();
  }
}
