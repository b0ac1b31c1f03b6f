/**
 * @module handlers/lua/code-kind — the shared definition of `function.lua` and `process.lua`: both
 * load their source into a Lua state at start and offer a Callable; they differ only in who calls.
 * The Lua engine (wasmoon's WebAssembly build) and the Lua modules load on the first start or
 * check of a Lua entry, so a registry without Lua never pays for them in start-up time or memory.
 */
import { PROBLEM_CODES, TaskrtError, errorMessage, type Problem } from "../../errors.ts";
import { parseDuration } from "../../duration.ts";
import { defineKind, type KindDefinition } from "../../contracts/kind-definition.ts";
import type { Entry, Registry } from "../../registry/entry.ts";
import { createEntryCallContext } from "../call-context.ts";
import type { Callable, CallableComponent } from "../handler.ts";
import type { LuaEngine } from "./engine.ts";
import { readLuaSource } from "./source.ts";

let luaRuntime: Promise<[typeof import("./engine.ts"), typeof import("./modules/index.ts"), typeof import("./callable.ts")]> | undefined;

/** The engine, the modules and the callable wrapper, imported once, on first use. */
function loadLuaRuntime(): ReturnType<typeof importLuaRuntime> {
  luaRuntime ??= importLuaRuntime();
  return luaRuntime;
}

function importLuaRuntime() {
  const loading = Promise.all([import("./engine.ts"), import("./modules/index.ts"), import("./callable.ts")]);
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
  });
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
      let engine: LuaEngine | undefined;
      let loaded: Callable | undefined;
      const component: CallableComponent & { start(): Promise<void>; stop(): Promise<void> } = {
        async start() {
          if (loaded) return;
          const [, , { createLuaCallable }] = await loadLuaRuntime();
          engine = await createEntryEngine(entry, context.registry.root);
          try {
            loaded = createLuaCallable(base, engine, engine.method(String(entry.data.method)));
          } catch (error) {
            engine.close();
            engine = undefined;
            throw error;
          }
        },
        async stop() {
          engine?.close();
          engine = undefined;
          loaded = undefined;
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
