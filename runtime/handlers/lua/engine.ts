/**
 * @module handlers/lua/engine — one Lua state per entry (per worker thread: see workers/pool.ts):
 * loads the prelude and the entry's source once, then runs each call in its own coroutine,
 * resuming it whenever a module call it waits on settles, so calls interleave on one thread.
 *
 * States: OPEN (calls run) → CLOSING (close() called while calls are in flight: no new calls, the
 * running ones end with an error at their next resume) → CLOSED (the Lua state is freed).
 */
import { readFileSync } from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";
import { TaskrtError } from "../../errors.ts";
import type { CallResult } from "../handler.ts";
import { LuaErrorObjects } from "./error-objects.ts";
import { LuaErrorValue, toLuaError } from "./errors.ts";
import { LuaHandle, pushHandle } from "./handles.ts";
import type { LuaModule } from "./module.ts";
import { raisedError, returnedOutcome, typeName } from "./outcome.ts";
import {
  installHook,
  pushNative,
  runAs,
  runWithBudget,
  whereAt,
  type LuaCall,
  type NativeFunction,
  type NativeHost,
  type NativeValues,
  type RunBudget,
} from "./native.ts";
import { NOT_SPECIAL, pushReference, pushValue, type ValueExtensions } from "./values.ts";
import { LUA_REGISTRYINDEX, LUA_STATUS, LUA_TYPE, loadLuaWasm, type LuaWasm } from "./wasm.ts";
import { newLimitedState, releaseSlot } from "./memory.ts";
import { currentContext, MODULE_NAMES } from "../../modules/context.ts";
import { LuaSyntaxError, prepareLua, type RequiredModule } from "./typed/erase.ts";
import { wippyModuleArea } from "../../wippy-unsupported.ts";
import { PROCESS_NATIVES } from "./process/natives.ts";

const PRELUDE = readFileSync(new URL("./prelude.lua", import.meta.url), "utf8");
const PROCESS_RUNTIME = readFileSync(new URL("./process/runtime.lua", import.meta.url), "utf8");

/** Pushed to Lua as `sql.NULL`; read back from Lua as null. */
export const LUA_NULL: object = Object.freeze({ luaNull: true });

/** As a native's first result: the second is raised as a Lua error (see raisesThroughResults). */
export const LUA_RAISE: object = Object.freeze({ luaRaise: true });

/** Finished coroutines kept for reuse; enough for a consumer's usual concurrency. */
const THREAD_POOL_SIZE = 64;

export interface LuaEngineOptions {
  entryId: string;
  code: string;
  /** For a file: its path relative to the project root (`create_task.lua`), so messages read `create_task.lua:12:`. */
  fileName?: string;
  /** Modules the entry declared; `require` refuses the others. */
  modules: ReadonlySet<string>;
  /** Modules `require` can build, by name. */
  library: ReadonlyMap<string, LuaModule>;
  /** Every module taskrt provides, for messages, when `library` holds only some (a worker's holds those its entries declared). */
  availableModules?: readonly string[];
  /** Longest stretch of Lua code, in milliseconds, that may run without yielding. */
  maxRunMs: number;
  /** Bytes the state may hold; past it an allocation fails with Lua's "not enough memory". */
  memoryLimit?: number;
  /** Where `print` and `warn` go; by default the logger of the call running (nowhere outside calls). */
  print?: (level: PrintLevel, text: string, call: LuaCall | undefined) => void;
  /** Watches each stretch of Lua code run (a worker reports it to the main thread's watchdog). */
  watch?: RunWatch;
  /** What an object pushed to Lua stands for, when it is a stand-in (a worker's copy of a handle); undefined for the rest. */
  translate?: (value: object) => unknown;
}

export type PrintLevel = "info" | "warn";

export interface RunWatch {
  /** A stretch of Lua code for the call tagged `tag` (0 outside calls) begins. */
  begin(tag: number): void;
  end(): void;
  /** True when the main thread asked to stop the call tagged `tag`, which may be running Lua code now. */
  stopRequested(tag: number): boolean;
}

/** Bytes a state may hold when the entry sets no memory_limit (the schema's default). */
export const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024;

/**
 * The source with Wippy's type syntax erased. When the type-aware parser refuses it, the source goes
 * to lua as written, with the parser's located error kept for the case lua refuses it too: a
 * construct the parser misreads never stops plain Lua that lua itself accepts.
 */
function plainLua(code: string): { code: string; requires: RequiredModule[]; typeValues: RequiredModule[]; syntaxError?: LuaSyntaxError } {
  try {
    return prepareLua(code);
  } catch (error) {
    if (error instanceof LuaSyntaxError) return { code, requires: [], typeValues: [], syntaxError: error };
    throw error;
  }
}

/** A function exported by the source, ready to call. */
export interface LuaMethod {
  name: string;
  reference: number;
  /** `create_task.lua:5`: where it is defined, for errors it returns. */
  definedAt: string;
}

interface Pending {
  L: number;
  outcome: Promise<{ values: NativeValues } | { error: unknown }>;
}

interface Thread {
  state: number;
  reference: number;
}

export class CallState implements LuaCall {
  private cleanups: (() => unknown)[] | undefined;
  constructor(
    readonly signal: AbortSignal | undefined,
    readonly tag: number,
  ) {}

  defer(cleanup: () => unknown): void {
    (this.cleanups ??= []).push(cleanup);
  }

  async end(): Promise<void> {
    const cleanups = this.cleanups;
    this.cleanups = undefined;
    if (!cleanups) return;
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

export class LuaEngine implements NativeHost {
  readonly entryId: string;
  readonly extensions: ValueExtensions;
  call: LuaCall | undefined;

  private readonly L: number;
  private readonly memorySlot: number;
  private readonly resultSlot: number;
  private readonly budget: RunBudget;
  private readonly threads: Thread[] = [];
  private readonly methods = new Map<string, LuaMethod>();
  private pending: Pending | undefined;
  private references = { error: 0, null: 0, await: 0, raise: 0, internals: 0, exports: 0 };
  errors: LuaErrorObjects | undefined;
  private inFlight = 0;
  /** The tag of the call whose Lua code runs now (the hook asks the watch about it). */
  private runningTag = 0;
  private state: "OPEN" | "CLOSING" | "CLOSED" = "OPEN";

  /** Creates the state and runs the prelude and the source. Throws TaskrtError E_SOURCE_INVALID. */
  static async create(options: LuaEngineOptions): Promise<LuaEngine> {
    const engine = new LuaEngine(await loadLuaWasm(), options);
    try {
      await engine.load();
    } catch (error) {
      engine.close();
      throw error;
    }
    return engine;
  }

  private constructor(
    readonly wasm: LuaWasm,
    private readonly options: LuaEngineOptions,
  ) {
    this.entryId = options.entryId;
    const api = wasm.api;
    const limit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
    const state = newLimitedState(wasm, limit);
    if (!state) throw new TaskrtError("E_LUA_MEMORY", `${options.entryId}: cannot create a Lua state within ${limit} bytes`, { entryId: options.entryId });
    this.L = state.L;
    this.memorySlot = state.slot;
    api._luaL_openlibs(this.L);
    installHook(wasm, this.L);
    this.resultSlot = api._malloc(4);
    this.budget = {
      deadline: 0,
      signal: undefined,
      tripped: false,
      stop: options.watch ? () => this.options.watch!.stopRequested(this.runningTag) : undefined,
      exceeded: () => `lua handler ${this.entryId} exceeded ${this.options.maxRunMs}ms without yielding`,
      cancelled: () => `lua handler ${this.entryId} was cancelled`,
    };
    this.extensions = {
      pushSpecial: (L, value) => this.pushSpecial(L, value),
      readSpecial: (L, index, type) => this.readSpecial(L, index, type),
    };
  }

  // ---- loading ----------------------------------------------------------------------------

  private async load(): Promise<void> {
    const { wasm, L } = this;
    const api = wasm.api;
    this.references.internals = await this.runChunk(PRELUDE, "=taskrt", (T) => {
      pushValue(wasm, T, { load_module: loadModule, print: printNative, process_source: PROCESS_RUNTIME, process_host: PROCESS_NATIVES }, this.extensions);
      return 1;
    });
    for (const [slot, name] of [
      ["error", "taskrt.error"],
      ["null", "taskrt.null"],
      ["await", "taskrt.await"],
      ["raise", "taskrt.raise"],
    ] as const) {
      api._lua_getfield(L, LUA_REGISTRYINDEX, wasm.cString(name));
      this.references[slot] = api._luaL_ref(L, LUA_REGISTRYINDEX);
    }
    this.errors = new LuaErrorObjects(wasm, this.references.error);
    const { fileName, entryId } = this.options;
    const { code, requires, typeValues, syntaxError } = plainLua(this.options.code);
    this.refuseUnsupportedModules(requires);
    this.refuseTypeValues(typeValues);
    this.references.exports = await this.runChunk(code, fileName ? `@${fileName}` : `=${entryId}`, () => 0, {
      syntaxError,
      compiled: (chunk) => this.keepSource(chunk),
    });
    pushReference(wasm, L, this.references.exports);
    const type = api._lua_type(L, -1);
    api._lua_settop(L, -2);
    if (type !== LUA_TYPE.TABLE) {
      throw new TaskrtError("E_SOURCE_INVALID", `${entryId}: ${this.sourceName()} must return a table of functions, but returned ${typeName(type)}`, {
        entryId,
        hint: "end the file with `return { handler = handler }`",
      });
    }
  }

  /** A Wippy module taskrt lacks, required by name anywhere in the source, fails the load rather than the call that reaches it. */
  private refuseUnsupportedModules(requires: readonly RequiredModule[]): void {
    const { entryId, fileName } = this.options;
    const supported = new Set(this.supportedModules());
    const missing = requires.find(({ name }) => !supported.has(name) && wippyModuleArea(name) !== undefined && !this.isGlobalTable(name));
    if (!missing) return;
    throw new TaskrtError(
      "E_UNSUPPORTED_MODULE",
      `${entryId}: ${fileName ?? entryId}:${missing.line}:${missing.column}: require("${missing.name}"): ${this.unsupportedModule(missing.name)}`,
      { entryId, hint: `taskrt does not implement ${wippyModuleArea(missing.name)}` },
    );
  }

  /** Wippy's types are runtime values (`User(data)` validates); erased here, such a use would call nil. */
  private refuseTypeValues(uses: readonly RequiredModule[]): void {
    const [use] = uses;
    if (!use) return;
    const { entryId, fileName } = this.options;
    const name = use.name.replace("(…)", "");
    const what =
      use.name === "typeof"
        ? "typeof is Wippy's type reflection"
        : `type '${name}' is used as a value (${name}(…) validates, ${name}:is(…) tests, in Wippy)`;
    throw new TaskrtError("E_SOURCE_INVALID", `${entryId}: ${fileName ?? entryId}:${use.line}:${use.column}: ${what}; taskrt erases types before Lua runs, so runtime type values are not supported`, {
      entryId,
      hint: "check the fields by hand, or cast without a check (`data :: User`)",
    });
  }

  /** A module the prelude provides as a global (as Wippy's `process`, `channel`) is there for `require` too. */
  private isGlobalTable(name: string): boolean {
    const { wasm, L } = this;
    const type = wasm.api._lua_getglobal(L, wasm.cString(name));
    wasm.api._lua_settop(L, -2);
    return type === LUA_TYPE.TABLE;
  }

  private unsupportedModule(name: string): string {
    return `Wippy module '${name}' is not supported by taskrt (supported: ${this.supportedModules().join(", ")})`;
  }

  /** Every module taskrt provides, whichever this entry declared. */
  private supportedModules(): string[] {
    return [...new Set([...MODULE_NAMES, ...(this.options.availableModules ?? []), ...this.options.library.keys()])];
  }


  /**
   * Compiles and runs a chunk on a fresh coroutine; returns a reference to its first result. When
   * the chunk does not compile, `syntaxError` (the type-aware parser's, which has a column) is
   * reported rather than lua's; `compiled` sees the compiled chunk before it runs.
   */
  private async runChunk(
    code: string,
    chunkName: string,
    pushArguments: (T: number) => number,
    { syntaxError, compiled }: { syntaxError?: LuaSyntaxError; compiled?: (chunk: number) => void } = {},
  ): Promise<number> {
    const { wasm, L } = this;
    const api = wasm.api;
    const status = wasm.loadChunk(L, code, chunkName);
    if (status !== LUA_STATUS.OK) {
      const message = syntaxError ? `${chunkName.slice(1)}:${syntaxError.message}` : wasm.readString(L, -1);
      api._lua_settop(L, -2);
      throw new TaskrtError("E_SOURCE_INVALID", `${this.entryId}: ${message}`, { entryId: this.entryId });
    }
    const chunk = api._luaL_ref(L, LUA_REGISTRYINDEX);
    compiled?.(chunk);
    try {
      return await this.drive(
        undefined,
        (T) => {
          pushReference(wasm, T, chunk);
          return pushArguments(T);
        },
        (T, count) => {
          if (count === 0) api._lua_pushnil(T);
          else api._lua_settop(T, api._lua_gettop(T) - count + 1);
          return api._luaL_ref(T, LUA_REGISTRYINDEX);
        },
        (failure) => {
          throw new TaskrtError("E_SOURCE_INVALID", `${this.entryId}: running ${this.sourceName()} failed: ${failure.message}`, {
            entryId: this.entryId,
          });
        },
      );
    } finally {
      api._luaL_unref(L, LUA_REGISTRYINDEX, chunk);
    }
  }

  /** Keeps the compiled source (prelude's keep_source), so processes can run instances of it. */
  private keepSource(chunk: number): void {
    const { wasm, L } = this;
    const api = wasm.api;
    pushReference(wasm, L, this.references.internals);
    api._lua_getfield(L, -1, wasm.cString("keep_source"));
    pushReference(wasm, L, chunk);
    const status = api._lua_pcallk(L, 1, 0, 0, 0, 0);
    api._lua_settop(L, status === LUA_STATUS.OK ? -2 : -3);
  }

  /**
   * A fresh instance of the source, as each Wippy process has: the file runs again with globals of
   * its own (reading through to the state's) and its own module-level locals; its `name` is ready
   * to call. Release it once its call has ended. Throws E_SOURCE_INVALID when the file fails.
   */
  instance(name: string): LuaMethod & { release(): void } {
    const base = this.method(name);
    const { wasm, L } = this;
    const api = wasm.api;
    pushReference(wasm, L, this.references.internals);
    api._lua_getfield(L, -1, wasm.cString("instantiate"));
    wasm.pushString(L, name);
    // The file's top level may call natives (print, require) and must not run away.
    const budget = this.budget;
    budget.deadline = performance.now() + this.options.maxRunMs;
    budget.signal = undefined;
    budget.tripped = false;
    const status = runAs(this, () => runWithBudget(budget, () => api._lua_pcallk(L, 1, 1, 0, 0, 0)));
    if (status !== LUA_STATUS.OK) {
      const message = wasm.readString(L, -1);
      api._lua_settop(L, -3);
      throw new TaskrtError("E_SOURCE_INVALID", `${this.entryId}: running a new instance of ${this.sourceName()} failed: ${message}`, { entryId: this.entryId });
    }
    const reference = api._luaL_ref(L, LUA_REGISTRYINDEX);
    api._lua_settop(L, -2);
    return {
      name,
      reference,
      definedAt: base.definedAt,
      release: () => {
        if (this.state !== "CLOSED") api._luaL_unref(L, LUA_REGISTRYINDEX, reference);
      },
    };
  }

  private sourceName(): string {
    return this.options.fileName ?? "the inline source";
  }

  /** Names of the functions the source exports. */
  exportedFunctions(): string[] {
    const { wasm, L } = this;
    const api = wasm.api;
    const names: string[] = [];
    pushReference(wasm, L, this.references.exports);
    api._lua_pushnil(L);
    while (api._lua_next(L, -2) !== 0) {
      if (api._lua_type(L, -2) === LUA_TYPE.STRING && api._lua_type(L, -1) === LUA_TYPE.FUNCTION) names.push(wasm.readString(L, -2));
      api._lua_settop(L, -2);
    }
    api._lua_settop(L, -2);
    return names.sort();
  }

  /** The exported function `name`; throws E_METHOD_MISSING listing what is exported. */
  method(name: string): LuaMethod {
    const cached = this.methods.get(name);
    if (cached) return cached;
    const { wasm, L } = this;
    const api = wasm.api;
    pushReference(wasm, L, this.references.exports);
    wasm.pushString(L, name);
    api._lua_rawget(L, -2);
    if (api._lua_type(L, -1) !== LUA_TYPE.FUNCTION) {
      api._lua_settop(L, -3);
      const exported = this.exportedFunctions();
      throw new TaskrtError("E_METHOD_MISSING", `${this.entryId}: method '${name}' is not exported by ${this.sourceName()}`, {
        entryId: this.entryId,
        hint: exported.length ? `exported functions: ${exported.join(", ")}` : "the source exports no functions: end it with `return { handler = handler }`",
      });
    }
    // The call runs `wrap(fn)`: fn under a scheduler of channels, timers and processes (process/runtime.lua).
    pushReference(wasm, L, this.references.internals);
    api._lua_getfield(L, -1, wasm.cString("wrap"));
    api._lua_pushvalue(L, -3);
    if (api._lua_pcallk(L, 1, 1, 0, 0, 0) !== LUA_STATUS.OK) {
      api._lua_settop(L, -2);
      api._lua_pushvalue(L, -2);
    }
    const reference = api._luaL_ref(L, LUA_REGISTRYINDEX);
    api._lua_settop(L, -2);
    // describe(fn) from the prelude: where the function is defined
    pushReference(wasm, L, this.references.internals);
    api._lua_getfield(L, -1, wasm.cString("describe"));
    api._lua_pushvalue(L, -3);
    const status = api._lua_pcallk(L, 1, 1, 0, 0, 0);
    const definedAt = status === LUA_STATUS.OK ? wasm.readString(L, -1) : this.sourceName();
    api._lua_settop(L, -5);
    const method = { name, reference, definedAt };
    this.methods.set(name, method);
    return method;
  }

  // ---- calling ----------------------------------------------------------------------------

  /**
   * Calls `method` with `args` in a new coroutine. Run it inside `runInContext`: the module
   * functions Lua calls read the call's context, and every resume happens inside this promise chain.
   */
  async callMethod(method: LuaMethod, args: readonly unknown[], signal?: AbortSignal, tag = 0): Promise<CallResult> {
    if (this.state !== "OPEN") return { value: undefined, error: this.closedError() };
    const call = new CallState(signal, tag);
    const { wasm } = this;
    try {
      return await this.drive<CallResult>(
        call,
        (T) => {
          wasm.api._lua_checkstack(T, args.length + 2);
          pushReference(wasm, T, method.reference);
          for (const arg of args) pushValue(wasm, T, arg, this.extensions);
          return args.length;
        },
        (T, count) => returnedOutcome(this, T, count, method),
        (failure) => ({ value: undefined, error: failure }),
      );
    } catch (error) {
      return { value: undefined, error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      await call.end();
    }
  }

  /**
   * Runs one coroutine to its end: resume, and while it waits on a module call, await that
   * call's promise and resume it with the outcome. `finish` reads the results off the coroutine
   * before it goes back to the pool.
   */
  private async drive<R>(
    call: CallState | undefined,
    prepare: (T: number) => number,
    finish: (T: number, count: number) => R,
    fail: (failure: TaskrtError) => R,
  ): Promise<R> {
    const { wasm } = this;
    const api = wasm.api;
    const thread = this.takeThread();
    const T = thread.state;
    let reusable = false;
    this.inFlight++;
    // A bare coroutine.yield() does not end the stretch: a loop of them is as runaway as a plain loop.
    let stretchStart = performance.now();
    try {
      let count = prepare(T);
      for (;;) {
        const status = this.resume(T, count, call, stretchStart);
        const results = api.HEAP32[this.resultSlot >> 2];
        const pending = this.pending;
        this.pending = undefined;
        if (status === LUA_STATUS.YIELD) {
          api._lua_settop(T, api._lua_gettop(T) - results);
          let values: NativeValues;
          if (pending) {
            const outcome = await pending.outcome;
            if (this.state !== "OPEN") return fail(this.closedError());
            values = "error" in outcome ? [undefined, toLuaError(outcome.error, whereAt(wasm, pending.L, 1))] : outcome.values;
            stretchStart = performance.now();
          } else {
            // A bare coroutine.yield() in the handler's own coroutine: give the event loop a turn.
            // The hook counts instructions, and a yield loop runs few between turns: check the clock here too.
            if (performance.now() > stretchStart + this.options.maxRunMs) {
              const where = whereAt(wasm, T, 1);
              const message = this.budget.exceeded();
              return fail(new TaskrtError("E_LUA_TIMEOUT", where ? `${where} ${message}` : message, { entryId: this.entryId }));
            }
            await nextTurn();
            if (call?.signal?.aborted) return fail(abortError(call, this.entryId));
            if (this.state !== "OPEN") return fail(this.closedError());
            values = undefined;
          }
          count = this.pushResumeValues(T, values);
          continue;
        }
        if (status === LUA_STATUS.OK) {
          const result = finish(T, results);
          api._lua_settop(T, 0);
          reusable = !this.budget.tripped;
          return result;
        }
        return fail(raisedError(this, this.L, T, status, this.budget.tripped ? (this.budget.signal?.aborted ? "cancelled" : "timeout") : undefined));
      }
    } finally {
      this.inFlight--;
      this.releaseThread(thread, reusable);
      if (this.state === "CLOSING" && this.inFlight === 0) this.free();
    }
  }

  private resume(T: number, count: number, call: CallState | undefined, stretchStart: number): number {
    const budget = this.budget;
    budget.deadline = stretchStart + this.options.maxRunMs;
    budget.signal = call?.signal;
    budget.tripped = false;
    this.call = call;
    this.runningTag = call?.tag ?? 0;
    const watch = this.options.watch;
    watch?.begin(this.runningTag);
    try {
      return runAs(this, () => runWithBudget(budget, () => this.wasm.api._lua_resume(T, 0, count, this.resultSlot)));
    } finally {
      watch?.end();
      this.call = undefined;
    }
  }

  private pushResumeValues(T: number, values: NativeValues): number {
    if (!values) return 0;
    this.wasm.api._lua_checkstack(T, values.length + 2);
    let pushed = 0;
    try {
      for (const value of values) {
        pushValue(this.wasm, T, value, this.extensions);
        pushed++;
      }
      return pushed;
    } catch (error) {
      this.wasm.api._lua_settop(T, this.wasm.api._lua_gettop(T) - pushed);
      pushValue(this.wasm, T, undefined);
      pushValue(this.wasm, T, toLuaError(error), this.extensions);
      return 2;
    }
  }

  private closedError(): TaskrtError {
    return new TaskrtError("E_STOPPED", `${this.entryId} is stopped: its Lua state was closed`, { entryId: this.entryId });
  }

  private takeThread(): Thread {
    const pooled = this.threads.pop();
    if (pooled) return pooled;
    const api = this.wasm.api;
    const state = api._lua_newthread(this.L);
    return { state, reference: api._luaL_ref(this.L, LUA_REGISTRYINDEX) };
  }

  private releaseThread(thread: Thread, reusable: boolean): void {
    if (this.state === "CLOSED") return;
    if (reusable && this.threads.length < THREAD_POOL_SIZE) this.threads.push(thread);
    else this.wasm.api._luaL_unref(this.L, LUA_REGISTRYINDEX, thread.reference);
  }

  // ---- natives' side (NativeHost) -------------------------------------------------------------

  suspend(L: number, promise: PromiseLike<NativeValues>): void {
    this.pending = {
      L,
      outcome: Promise.resolve(promise).then(
        (values) => ({ values }),
        (error: unknown) => ({ error }),
      ),
    };
    pushReference(this.wasm, L, this.references.await);
  }

  print(level: PrintLevel, text: string): void {
    if (this.options.print) this.options.print(level, text, this.call);
    else currentContext()?.logger[level](text);
  }

  loadModule(name: string): { value: unknown } | { error: string } {
    const module = this.options.library.get(name);
    if (!module) {
      if (wippyModuleArea(name) !== undefined) return { error: this.unsupportedModule(name) };
      return { error: `module '${name}' not found (taskrt provides: ${this.supportedModules().join(", ")})` };
    }
    if (!this.options.modules.has(name)) return { error: `module '${name}' is not declared by entry ${this.entryId} (add it to modules)` };
    return { value: module.create() };
  }

  private pushSpecial(L: number, value: object): boolean {
    const translated = this.options.translate?.(value);
    if (translated !== undefined) {
      if (translated === null) this.wasm.api._lua_pushnil(L);
      else pushValue(this.wasm, L, translated, this.extensions);
      return true;
    }
    if (value === LUA_RAISE) {
      pushReference(this.wasm, L, this.references.raise);
      return true;
    }
    if (typeof value === "function") {
      pushNative(this.wasm, L, value as NativeFunction);
      return true;
    }
    if (value instanceof LuaHandle) {
      pushHandle(this.wasm, L, value);
      return true;
    }
    if (value instanceof LuaErrorValue) {
      this.errors!.push(L, value);
      return true;
    }
    if (value === LUA_NULL) {
      pushReference(this.wasm, L, this.references.null);
      return true;
    }
    return false;
  }

  /** Error objects read as their message, sql.NULL as null; handles are not plain values. */
  private readSpecial(L: number, index: number, type: number): unknown {
    if (type !== LUA_TYPE.TABLE) return NOT_SPECIAL;
    if (this.errors?.is(L, index)) return this.errors.message(L, index);
    const api = this.wasm.api;
    pushReference(this.wasm, L, this.references.null);
    const isNull = api._lua_rawequal(L, index, -1) !== 0;
    api._lua_settop(L, -2);
    return isNull ? null : NOT_SPECIAL;
  }

  // ---- closing ----------------------------------------------------------------------------

  /** Frees the state now, or once the calls in flight end (they fail with E_STOPPED at their next resume). */
  close(): void {
    if (this.state !== "OPEN") return;
    this.state = "CLOSING";
    if (this.inFlight === 0) this.free();
  }

  private free(): void {
    this.state = "CLOSED";
    this.threads.length = 0;
    this.wasm.api._lua_close(this.L);
    releaseSlot(this.memorySlot);
    this.wasm.api._free(this.resultSlot);
  }
}

const loadModule: NativeFunction = (args) => {
  const loaded = args.host.loadModule(args.string(1));
  return "error" in loaded ? [undefined, loaded.error] : [loaded.value];
};
Object.defineProperty(loadModule, "name", { value: "require" });

const printNative: NativeFunction = (args) => {
  args.host.print(args.string(1) === "warn" ? "warn" : "info", args.string(2));
  return undefined;
};
Object.defineProperty(printNative, "name", { value: "print" });

/** The error a call ends with when its signal fires while it waits: the signal's reason, if it is one. */
function abortError(call: CallState, entryId: string): TaskrtError {
  const reason = call.signal?.reason;
  if (reason instanceof TaskrtError) return reason;
  return new TaskrtError("E_CANCELED", `lua handler ${entryId} was cancelled`, { entryId });
}
