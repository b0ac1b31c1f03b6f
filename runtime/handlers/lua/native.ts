/**
 * @module handlers/lua/native — the two doors from Lua into JavaScript: native functions (module
 * functions and object methods, one C closure each, all through one dispatcher) and the
 * instruction-count hook that stops code running too long without yielding.
 *
 * A native returns its results as an array; a TaskrtError it throws becomes `nil, err`; a promise
 * it returns suspends the calling coroutine: the native yields straight from C (`lua_yieldk`
 * without continuation), and when the engine resumes the coroutine with the promise's outcome,
 * Lua hands those values back as the native's results. So module calls look synchronous to Lua
 * while the event loop keeps running, and any number of calls interleave on one state.
 *
 * Why not wasmoon's own `promise:await()`: it needs the Lua code to call `:await()` on a promise
 * object, which Wippy's API never does, and its run loop knows nothing of our budget or context.
 * Yielding from C is the same mechanism (`lua_yieldk` unwinds through the JS frame as a
 * `throw Infinity`, emscripten's longjmp), so natives must let that throw pass and never yield
 * where Lua cannot (inside a sort comparator or a metamethod: checked with `lua_isyieldable`).
 * Coroutines a handler creates itself pass such yields upwards (see prelude.lua).
 */
import { argumentError, toLuaError } from "./errors.ts";
import { readHandle, type LuaHandle } from "./handles.ts";
import { pushValue, readValue, type ReadOptions, type ValueExtensions } from "./values.ts";
import { LUA_MASKCOUNT, LUA_REGISTRYINDEX, LUA_TYPE, LUA_TYPE_NAMES, upvalueIndex, type LuaWasm } from "./wasm.ts";

export type NativeValues = readonly unknown[] | undefined;
export type NativeResult = NativeValues | PromiseLike<NativeValues>;
export type NativeFunction = (args: LuaArguments) => NativeResult;

/** Thrown by a native to raise a Lua error (a programming mistake, e.g. a method called with `.`). */
export class LuaRaise extends Error {}

/** One handler call as natives see it. */
export interface LuaCall {
  readonly signal: AbortSignal | undefined;
  /** Names the call across threads (a worker's call id); 0 when nothing else knows it. */
  readonly tag: number;
  /** Runs when the call ends, before its result is reported (roll back, release, invalidate). */
  defer(cleanup: () => unknown): void;
}

/** The engine, as natives reach it while its Lua code runs. */
export interface NativeHost {
  readonly wasm: LuaWasm;
  readonly entryId: string;
  readonly extensions: ValueExtensions;
  /** The call being run; undefined while the source file itself runs. */
  readonly call: LuaCall | undefined;
  /** Keeps `promise` for the driver, which resumes `L` with its outcome; pushes the value `L` yields. */
  suspend(L: number, promise: PromiseLike<NativeValues>): void;
  /** `print(...)` and `warn(...)`: a line for the log. */
  print(level: "info" | "warn", text: string): void;
  /** `require(name)`: the module's value, or a message saying why not. */
  loadModule(name: string): { value: unknown } | { error: string };
}

// ---- dispatch -------------------------------------------------------------------------------

type LowLevel = (L: number) => number;
const handlers: LowLevel[] = [];
const ids = new WeakMap<object, number>();
let dispatcher: number | undefined;
let hookPointer: number | undefined;
let active: NativeHost | undefined;

/** Runs `fn` with `host` as the engine natives talk to (calls nest: the previous host comes back). */
export function runAs<T>(host: NativeHost, fn: () => T): T {
  const previous = active;
  active = host;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

function dispatcherOf(wasm: LuaWasm): number {
  dispatcher ??= wasm.api.addFunction((L: number) => handlers[wasm.api._lua_tonumberx(L, upvalueIndex(1), 0)](L), "ii");
  return dispatcher;
}

const raisingNatives = new WeakSet<NativeFunction>();

/**
 * Marks `fn` as a native that may answer with a raise it learns of only after it waited (a module
 * call served by the main thread): the results `LUA_RAISE, message` it is resumed with raise
 * `message`. Its waits yield with a continuation, which looks at those results as it resumes.
 */
export function raisesThroughResults(fn: NativeFunction): void {
  raisingNatives.add(fn);
}

let continuation: number | undefined;

/** The continuation of a raising native's wait: its results, or the raise they carry. `base` is its argument count. */
function continuationOf(wasm: LuaWasm): number {
  continuation ??= wasm.api.addFunction((L: number, _status: number, base: number) => {
    const api = wasm.api;
    const count = api._lua_gettop(L) - base;
    if (count >= 2) {
      api._lua_getfield(L, LUA_REGISTRYINDEX, wasm.cString("taskrt.raise"));
      const raised = api._lua_rawequal(L, base + 1, -1) !== 0;
      api._lua_settop(L, -2);
      if (raised) {
        api._lua_settop(L, base + 2);
        return api._lua_error(L);
      }
    }
    return count;
  }, "iiii");
  return continuation;
}

/** Pushes `fn` as a Lua function. Each function is registered once per process, whatever the state. */
export function pushNative(wasm: LuaWasm, L: number, fn: NativeFunction): void {
  pushLowLevel(wasm, L, fn, () => (L2: number) => invoke(wasm, L2, fn));
}

/** Pushes a C function that needs no engine (finalizers run whenever Lua collects garbage). */
export function pushRawNative(wasm: LuaWasm, L: number, key: object, create: () => LowLevel): void {
  pushLowLevel(wasm, L, key, create);
}

function pushLowLevel(wasm: LuaWasm, L: number, key: object, create: () => LowLevel): void {
  let id = ids.get(key);
  if (id === undefined) {
    id = handlers.push(create()) - 1;
    ids.set(key, id);
  }
  wasm.api._lua_pushnumber(L, id);
  wasm.api._lua_pushcclosure(L, dispatcherOf(wasm), 1);
}

/** `file.lua:12:` of the function `level` frames up, or "" (C code, stripped chunks). */
export function whereAt(wasm: LuaWasm, L: number, level: number): string {
  wasm.api._luaL_where(L, level);
  const where = wasm.readString(L, -1);
  wasm.api._lua_settop(L, -2);
  return where.trimEnd();
}

function invoke(wasm: LuaWasm, L: number, fn: NativeFunction): number {
  const api = wasm.api;
  const host = active;
  if (!host) return raise(wasm, L, `${fn.name || "native function"} called while no handler runs`);
  let result: NativeResult;
  let raised: string | undefined;
  try {
    result = fn(new StackArguments(host, L, fn.name));
  } catch (error) {
    if (error === Infinity) throw error; // a Lua error or yield unwinding through us: let it pass
    if (error instanceof LuaRaise) raised = error.message;
    else result = [undefined, toLuaError(error, whereAt(wasm, L, 1))];
  }
  if (raised !== undefined) return raise(wasm, L, raised);
  if (result && typeof (result as PromiseLike<NativeValues>).then === "function") {
    if (api._lua_isyieldable(L) === 0) {
      return raise(wasm, L, `${fn.name} cannot wait here: it was called from inside a metamethod, an iterator or a sort comparator`);
    }
    if (raisingNatives.has(fn)) {
      const base = api._lua_gettop(L);
      host.suspend(L, result as PromiseLike<NativeValues>);
      return api._lua_yieldk(L, 1, base, continuationOf(wasm));
    }
    host.suspend(L, result as PromiseLike<NativeValues>);
    return api._lua_yieldk(L, 1, 0, 0);
  }
  const values = result as NativeValues;
  if (!values) return 0;
  try {
    for (const value of values) pushValue(wasm, L, value, host.extensions);
  } catch (error) {
    if (error === Infinity) throw error;
    return raise(wasm, L, `${fn.name} returned a value Lua cannot hold: ${(error as Error).message}`);
  }
  return values.length;
}

/** Raises a Lua error carrying the caller's position, as `error(message, 2)` would. */
function raise(wasm: LuaWasm, L: number, message: string): number {
  const where = whereAt(wasm, L, 1);
  wasm.pushString(L, where ? `${where} ${message}` : message);
  return wasm.api._lua_error(L);
}

// ---- arguments ------------------------------------------------------------------------------

/**
 * A native's view of its arguments. The stack form reads them off the Lua stack; a worker's module
 * call arrives on the main thread as a copy (remote.ts) and is read through the same methods.
 */
export abstract class LuaArguments {
  abstract readonly count: number;
  abstract readonly functionName: string;
  abstract readonly call: LuaCall | undefined;
  /** The engine; only natives that run beside it (require, print) use it. */
  abstract readonly host: NativeHost;
  /** The Lua type (LUA_TYPE) at `position`; NONE past the last. */
  abstract type(position: number): number;
  /** The argument as a plain JavaScript value; a value that cannot cross is an INVALID error. */
  abstract value(position: number, options?: ReadOptions): unknown;
  /** The object handle at `position`, whatever its class; undefined for anything else. */
  abstract handle(position: number): LuaHandle | undefined;
  /** The string at `position`, which is known to be one. */
  protected abstract readString(position: number): string;

  typeName(position: number): string {
    const type = this.type(position);
    return type === LUA_TYPE.NONE ? "no value" : LUA_TYPE_NAMES[type];
  }

  isNil(position: number): boolean {
    const type = this.type(position);
    return type === LUA_TYPE.NIL || type === LUA_TYPE.NONE;
  }

  /** A string argument; numbers are accepted and formatted as Lua does, as `luaL_checkstring`. */
  string(position: number): string {
    const type = this.type(position);
    if (type === LUA_TYPE.STRING) return this.readString(position);
    if (type === LUA_TYPE.NUMBER) return String(this.value(position));
    throw argumentError(this.argumentNumber(position), this.functionName, "string", this.typeName(position));
  }

  optionalString(position: number): string | undefined {
    return this.isNil(position) ? undefined : this.string(position);
  }

  number(position: number): number {
    if (this.type(position) !== LUA_TYPE.NUMBER) {
      throw argumentError(this.argumentNumber(position), this.functionName, "number", this.typeName(position));
    }
    return this.value(position) as number;
  }

  /** Arguments `from`..count as plain values (variadic natives). */
  rest(from: number, options?: ReadOptions): unknown[] {
    const values: unknown[] = [];
    for (let position = from; position <= this.count; position++) values.push(this.value(position, options));
    return values;
  }

  /** 1 for methods: in `db:query(sql)`, `sql` is argument #1 as the user counts it. */
  selfOffset = 0;

  private argumentNumber(position: number): number {
    return position - this.selfOffset;
  }
}

/** Arguments read off the stack of `L`, where the native was called. */
export class StackArguments extends LuaArguments {
  readonly count: number;

  constructor(
    readonly host: NativeHost,
    readonly L: number,
    readonly functionName: string,
  ) {
    super();
    this.count = host.wasm.api._lua_gettop(L);
  }

  get call(): LuaCall | undefined {
    return this.host.call;
  }

  type(position: number): number {
    return position > this.count ? LUA_TYPE.NONE : this.host.wasm.api._lua_type(this.L, position);
  }

  value(position: number, options?: ReadOptions): unknown {
    if (position > this.count) return undefined;
    return readValue(this.host.wasm, this.L, position, options, this.host.extensions);
  }

  handle(position: number): LuaHandle | undefined {
    return position > this.count ? undefined : readHandle(this.host.wasm, this.L, position);
  }

  protected readString(position: number): string {
    return this.host.wasm.readString(this.L, position);
  }
}

// ---- the runaway hook -----------------------------------------------------------------------

/** How often (in VM instructions) the hook looks at the clock: ~0.1 ms of tight Lua code. */
export const INSTRUCTIONS_PER_CHECK = 10_000;

export interface RunBudget {
  /** `performance.now()` after which the running code is stopped. */
  deadline: number;
  signal: AbortSignal | undefined;
  /** The error message when the deadline passes; `cancelled` when the signal fired. */
  exceeded(): string;
  cancelled(): string;
  /** Asked at each check: true stops the code as a cancellation does. */
  stop?: () => boolean;
  tripped: boolean;
}

let budget: RunBudget | undefined;

/** Runs `fn` (a resume or pcall) under `next`; the hook checks the innermost budget. */
export function runWithBudget<T>(next: RunBudget, fn: () => T): T {
  const previous = budget;
  budget = next;
  try {
    return fn();
  } finally {
    budget = previous;
  }
}

/** Installs the hook on `L`; threads created from it afterwards inherit it. */
export function installHook(wasm: LuaWasm, L: number): void {
  hookPointer ??= wasm.api.addFunction((hooked: number) => {
    const current = budget;
    if (!current) return;
    const aborted = current.signal?.aborted === true || current.stop?.() === true;
    if (!aborted && performance.now() <= current.deadline) return;
    current.tripped = true;
    // From now on every instruction raises, so a pcall around the loop cannot swallow the stop:
    // the error surfaces again at the first instruction after the pcall returns.
    wasm.api._lua_sethook(hooked, hookPointer!, LUA_MASKCOUNT, 1);
    const where = whereAt(wasm, hooked, 0); // in a hook, level 0 is the Lua function that was running
    const message = aborted ? current.cancelled() : current.exceeded();
    wasm.pushString(hooked, where ? `${where} ${message}` : message);
    wasm.api._lua_error(hooked);
  }, "vii");
  wasm.api._lua_sethook(L, hookPointer, LUA_MASKCOUNT, INSTRUCTIONS_PER_CHECK);
}
