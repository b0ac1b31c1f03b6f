/**
 * @module handlers/lua/workers/worker — a Lua worker thread: its own wasm instance (so its own
 * heap), one Lua state per entry it has been asked to run, and calls run as coroutines on them.
 *
 * Every module function Lua calls is a stub here: it copies its arguments onto the wire, posts
 * them to the main thread, and waits (the coroutine yields) for the main thread to run the real
 * module function in the call's context and post the results back. Objects the modules return
 * (a database, a request) stay on the main thread; Lua holds a stand-in that names them.
 */
import { parentPort } from "node:worker_threads";
import { LuaEngine, LUA_NULL, LUA_RAISE, type LuaMethod } from "../engine.ts";
import { LuaHandle, readHandle, type LuaClass } from "../handles.ts";
import type { LuaModule } from "../module.ts";
import { raisesThroughResults, whereAt, type LuaArguments, type NativeFunction, type NativeValues, type StackArguments } from "../native.ts";
import { MAX_DEPTH, NOT_SCALAR, NOT_SPECIAL, readScalar, type ValueExtensions } from "../values.ts";
import { LUA_TYPE, loadLuaWasm, type LuaWasm } from "../wasm.ts";
import { MARK, errorFromWire, marker, oddKey, opaque, type WireError, type WireHandle } from "../wire.ts";
import { CONTROL, STARTED_AT_BYTE, wallClock, type ClassShape, type EntrySpec, type FromWorker, type HttpSnapshot, type SerializedError, type ToWorker } from "./protocol.ts";
import { exchangeFromSnapshot } from "./request-snapshot.ts";
import { runInContext, type CallContext, type HttpExchange, type ModuleName } from "../../../modules/context.ts";
import type { LogFields, Logger, LogLevel } from "../../../logger.ts";
import httpModule from "../modules/http.ts";
import jsonModule from "../modules/json.ts";
import loggerModule from "../modules/logger.ts";
import timeModule from "../modules/time.ts";
import uuidModule from "../modules/uuid.ts";
import { installProcessBridge } from "../process/natives.ts";
import { WorkerProcesses } from "../process/worker-host.ts";

const port = parentPort!;
/** Messages go out in batches: those posted in one run of code leave together, after it (a post costs more than a message). */
let outbox: FromWorker[] = [];
function post(message: FromWorker): void {
  if (outbox.length === 0) setImmediate(flush);
  outbox.push(message);
}
function flush(): void {
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
}

let control: Int32Array;
let startedAt: Float64Array;
const classes = new Map<string, LuaClass<RemoteRef>>();
let moduleShapes: Record<string, unknown> = {};

interface RemoteRef {
  remoteId: number;
}

interface Loaded {
  spec: EntrySpec;
  /** The modules the entry declared, as every call's context holds them. */
  modules: ReadonlySet<string>;
  engine: LuaEngine;
  method: LuaMethod;
}

const entries = new Map<number, Promise<Loaded>>();
const keyOfEngine = new WeakMap<object, number>();
const calls = new Map<number, AbortController>();
const waiting = new Map<number, (values: NativeValues) => void>();
let nextRpc = 1;

// ---- the watch the main thread reads ----------------------------------------------------------

const watch = {
  begin(tag: number): void {
    startedAt[0] = wallClock();
    Atomics.store(control, CONTROL.RUNNING, tag === 0 ? -1 : tag);
  },
  end(): void {
    Atomics.store(control, CONTROL.RUNNING, 0);
  },
  stopRequested(tag: number): boolean {
    return tag !== 0 && Atomics.load(control, CONTROL.STOP) === tag;
  },
};

/** Runs Lua work outside a call's resume (closing a state runs finalizers) under the watch. */
function watched<T>(fn: () => T): T {
  if (Atomics.load(control, CONTROL.RUNNING) !== 0) return fn();
  watch.begin(0);
  try {
    return fn();
  } finally {
    watch.end();
  }
}

// ---- handles released by Lua's collector ------------------------------------------------------

let released: number[] = [];
function release(ref: RemoteRef): void {
  if (ref.remoteId <= 0) return; // the modules' own objects (the root logger) live forever
  if (released.length === 0) setImmediate(flushReleased);
  released.push(ref.remoteId);
}
function flushReleased(): void {
  const ids = released;
  released = [];
  if (ids.length) post({ t: "released", ids });
}

// ---- stubs ------------------------------------------------------------------------------------

const stubs = new Map<string, NativeFunction>();

/** The stub for the main thread's function `key` (`sql.get`, `sql.DB:query`). */
function stub(key: string, name: string): NativeFunction {
  let fn = stubs.get(key);
  if (fn) return fn;
  fn = (args) => {
    const stack = args as StackArguments;
    const { wasm, extensions } = stack.host;
    const types: number[] = [];
    const wire: unknown[] = [];
    for (let position = 1; position <= stack.count; position++) {
      types.push(stack.type(position));
      wire.push(toWire(wasm, stack.L, position, extensions));
    }
    const rpc = nextRpc++;
    post({ t: "rpc", rpc, id: stack.call?.tag ?? 0, key: keyOfEngine.get(stack.host) ?? 0, fn: key, args: wire, types, where: whereAt(wasm, stack.L, 1) });
    return new Promise<NativeValues>((resolve) => waiting.set(rpc, resolve));
  };
  Object.defineProperty(fn, "name", { value: name });
  raisesThroughResults(fn);
  stubs.set(key, fn);
  return fn;
}

/** Calls `target:method()` on the main thread for the call `tag`; the answer comes as the method's results. */
function invokeRemote(target: LuaHandle, method: string, args: LuaArguments, tag: number): Promise<NativeValues> {
  const ref = target.value as RemoteRef;
  if (typeof ref?.remoteId !== "number") return Promise.reject(new Error(`${target.luaClass.name} is no module object`));
  const rpc = nextRpc++;
  const stack = args as StackArguments;
  post({ t: "rpc", rpc, id: tag, key: keyOfEngine.get(stack.host) ?? 0, fn: `${target.luaClass.name}:${method}`, args: [{ [MARK]: "h", id: ref.remoteId }], types: [LUA_TYPE.USERDATA], where: "" });
  return new Promise<NativeValues>((resolve) => waiting.set(rpc, resolve));
}

function remoteClass(shape: ClassShape): LuaClass<RemoteRef> {
  const methods: Record<string, NativeFunction> = {};
  for (const method of shape.methods) methods[method] = stub(`${shape.name}:${method}`, method);
  return { name: shape.name, variable: "object", methods, collected: release };
}

/** A module's shape from the main thread, with stubs for its functions and stand-ins for its objects. */
function materialize(shape: unknown, path: string): unknown {
  if (shape === null || typeof shape !== "object") return shape;
  const mark = marker(shape);
  if (mark === "f") return stub(path, path.slice(path.lastIndexOf(".") + 1));
  if (mark !== undefined) return translate(shape);
  const value: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(shape)) value[key] = materialize(item, `${path}.${key}`);
  return value;
}

/** What a marker from the main thread stands for, pushed by the engine in its place. */
function translate(value: object): unknown {
  switch (marker(value)) {
    case "h": {
      const wire = value as WireHandle;
      const luaClass = classes.get(wire.c ?? "");
      return luaClass ? new LuaHandle(luaClass, { remoteId: wire.id }) : null;
    }
    case "e":
      return errorFromWire(value as WireError);
    case "n":
      return LUA_NULL;
    default:
      return undefined;
  }
}

// ---- modules that run here ---------------------------------------------------------------------

/**
 * `json`, `uuid`, `time`, `http` and `logger` need nothing the main thread holds: an endpoint's
 * request comes with its call and its response goes back with the result, log lines are posted
 * without waiting, and `time.sleep` ends on the call's signal here, which the main thread's cancel
 * fires. They run here, in the call's context, saving a round trip per call.
 */
const LOCAL_MODULES: ReadonlyMap<string, LuaModule> = new Map([jsonModule, uuidModule, httpModule, loggerModule, timeModule].map((module) => [module.name, module]));

/** A logger that posts its lines to the main thread, which logs them as the entry's. */
function postingLogger(id: number, key: number): Logger {
  const line = (level: LogLevel) => (text: string, fields?: LogFields) => post({ t: "log", id, key, level, text, fields });
  const logger: Logger = { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error"), forEntry: () => logger };
  return logger;
}

/** A call's context; its logger is made only if the call logs (most calls never do). */
function contextFor(loaded: Pick<Loaded, "spec" | "modules">, id: number, signal: AbortSignal | undefined, http: HttpExchange | undefined): CallContext {
  let logger: Logger | undefined;
  return {
    entryId: loaded.spec.entryId,
    modules: loaded.modules,
    // Services are the main thread's: the modules that use them are served there.
    services: undefined as unknown as CallContext["services"],
    get logger() {
      return (logger ??= postingLogger(id, loaded.spec.key));
    },
    http,
    signal,
  };
}

const library = new Map<string, LuaModule>();
function libraryFor(names: readonly string[]): Map<string, LuaModule> {
  for (const name of names) {
    if (library.has(name)) continue;
    const local = LOCAL_MODULES.get(name);
    if (local) {
      library.set(name, local);
      continue;
    }
    if (!(name in moduleShapes)) continue;
    const value = materialize(moduleShapes[name], name);
    library.set(name, { name: name as ModuleName, create: () => value });
  }
  return library;
}

// ---- Lua values onto the wire -----------------------------------------------------------------

/** The value at `index` as wire.ts describes: tables as their pairs, handles by id. */
function toWire(wasm: LuaWasm, L: number, index: number, extensions: ValueExtensions): unknown {
  const api = wasm.api;
  const top = api._lua_gettop(L);
  try {
    return read(wasm, L, api._lua_absindex(L, index), extensions, 0);
  } finally {
    api._lua_settop(L, top);
  }
}

function read(wasm: LuaWasm, L: number, index: number, extensions: ValueExtensions, depth: number): unknown {
  const api = wasm.api;
  const type = api._lua_type(L, index);
  const scalar = readScalar(wasm, L, index, type);
  if (scalar !== NOT_SCALAR) return scalar;
  switch (type) {
    case LUA_TYPE.TABLE: {
      if (api._lua_getmetatable(L, index) !== 0) {
        api._lua_settop(L, -2);
        const special = extensions.readSpecial(L, index, type);
        if (special !== NOT_SPECIAL) return special;
      }
      // Deeper than any reader accepts: the main thread reports it as a cycle.
      if (depth > MAX_DEPTH || api._lua_checkstack(L, 4) === 0) return { [MARK]: "t", e: [] };
      const entries: unknown[] = [];
      api._lua_pushnil(L);
      while (api._lua_next(L, index) !== 0) {
        const keyType = api._lua_type(L, -2);
        if (keyType === LUA_TYPE.STRING) entries.push(wasm.readString(L, -2));
        else if (keyType === LUA_TYPE.NUMBER && api._lua_isinteger(L, -2)) entries.push(Number(api._lua_tointegerx(L, -2, 0)));
        else entries.push(oddKey(keyType, keyType === LUA_TYPE.NUMBER ? api._lua_tonumberx(L, -2, 0) : undefined));
        entries.push(read(wasm, L, api._lua_gettop(L), extensions, depth + 1));
        api._lua_settop(L, -2);
      }
      return { [MARK]: "t", e: entries };
    }
    case LUA_TYPE.USERDATA: {
      const found = readHandle(wasm, L, index);
      const ref = found?.value as RemoteRef | undefined;
      if (ref && typeof ref.remoteId === "number") return { [MARK]: "h", id: ref.remoteId };
      break;
    }
  }
  return opaque(type);
}

// ---- loading and calling ------------------------------------------------------------------------

function serialize(error: unknown): SerializedError {
  if (error instanceof Error) {
    const { code, entryId, hint } = error as Error & { code?: string; entryId?: string; hint?: string };
    return { code, message: error.message, stack: error.stack, entryId, hint };
  }
  return { message: String(error) };
}

async function load(spec: EntrySpec): Promise<Loaded> {
  const modules = new Set(spec.modules);
  const engine = await runInContext(contextFor({ spec, modules }, 0, undefined, undefined), () => LuaEngine.create({
    entryId: spec.entryId,
    code: spec.code,
    fileName: spec.fileName,
    modules,
    library: libraryFor(spec.modules),
    availableModules: [...LOCAL_MODULES.keys(), ...Object.keys(moduleShapes)],
    maxRunMs: spec.maxRunMs,
    memoryLimit: spec.memoryLimit,
    watch,
    translate,
    print: (level, text, call) => post({ t: "log", id: call?.tag ?? 0, key: spec.key, level, text }),
  }));
  keyOfEngine.set(engine, spec.key);
  try {
    return { spec, modules, engine, method: engine.method(spec.method) };
  } catch (error) {
    watched(() => engine.close());
    throw error;
  }
}

/**
 * The wasm instance aborted (Lua panicked, e.g. out of memory outside a protected call): its heap
 * can no longer be trusted. The worker ends; the main thread fails its other calls and replaces it.
 */
function abandon(): void {
  flush();
  process.exit(1);
}

async function call(id: number, key: number, args: unknown[], snapshot: HttpSnapshot | undefined): Promise<void> {
  const controller = new AbortController();
  calls.set(id, controller);
  try {
    const loading = entries.get(key);
    if (!loading) throw new Error(`entry ${key} is not loaded in this worker`);
    const loaded = await loading;
    const http = snapshot && exchangeFromSnapshot(snapshot);
    const result = await runInContext(contextFor(loaded, id, controller.signal, http), () => loaded.engine.callMethod(loaded.method, args, controller.signal, id));
    const response = http?.response;
    post(result.error ? { t: "done", id, error: serialize(result.error), response } : { t: "done", id, value: result.value, response });
    if (result.error instanceof WebAssembly.RuntimeError) abandon();
  } catch (error) {
    post({ t: "done", id, error: serialize(error) });
    if (error instanceof WebAssembly.RuntimeError) abandon();
  } finally {
    calls.delete(id);
    processes.endCall(id);
  }
}

/** The fixed part of a process's context, per entry: thousands of processes share it. */
const processBases = new Map<number, CallContext>();
function processContext(spec: EntrySpec, signal: AbortSignal): CallContext {
  let base = processBases.get(spec.key);
  if (!base) {
    // Logged as the entry's: the main thread knows no call by a process's tag.
    base = contextFor({ spec, modules: new Set(spec.modules) }, 0, undefined, undefined);
    processBases.set(spec.key, base);
  }
  return { ...base, signal };
}

/** This worker's processes: each runs as a call of its entry, tagged below -1. */
const processes = new WorkerProcesses(
  (m) => post({ t: "process", m }),
  async (spec, args, tag, signal) => {
    let loading = entries.get(spec.key);
    if (!loading) {
      loading = load(spec);
      entries.set(spec.key, loading);
    }
    const { engine } = await loading;
    // Each process runs its own instance of the file: module-level locals and globals of its own, as in Wippy.
    const instance = watched(() => engine.instance(spec.method));
    try {
      const result = await runInContext(processContext(spec, signal), () => engine.callMethod(instance, args, signal, tag));
      if (result.error instanceof WebAssembly.RuntimeError) setImmediate(abandon);
      return result;
    } finally {
      instance.release();
    }
  },
  invokeRemote,
);
installProcessBridge(processes);

port.on("message", (batch: ToWorker[]) => {
  for (const message of batch) receive(message);
});

function receive(message: ToWorker): void {
  switch (message.t) {
    case "init":
      control = new Int32Array(message.control, 0, 2);
      startedAt = new Float64Array(message.control, STARTED_AT_BYTE, 1);
      for (const shape of message.classes) classes.set(shape.name, remoteClass(shape));
      moduleShapes = message.modules;
      loadLuaWasm().then(() => post({ t: "ready" }), () => {});
      return;
    case "load": {
      const { spec } = message;
      const loading = load(spec);
      entries.set(spec.key, loading);
      loading.then(
        () => post({ t: "loaded", key: spec.key }),
        (error: unknown) => {
          // The failed load stays: calls sent after it fail with its error.
          post({ t: "loaded", key: spec.key, error: serialize(error) });
        },
      );
      return;
    }
    case "unload": {
      processBases.delete(message.key);
      const loading = entries.get(message.key);
      entries.delete(message.key);
      loading?.then(({ engine }) => watched(() => engine.close())).catch(() => {});
      return;
    }
    case "call":
      void call(message.id, message.key, message.args, message.http);
      return;
    case "cancel": {
      const { code, message: text, entryId } = message.error;
      const reason = Object.assign(new Error(text), { code, entryId });
      calls.get(message.id)?.abort(reason);
      return;
    }
    case "process":
      processes.receive(message.m);
      return;
    case "reply": {
      const resolve = waiting.get(message.rpc);
      waiting.delete(message.rpc);
      resolve?.(message.raise !== undefined ? [LUA_RAISE, message.raise] : message.values);
      return;
    }
  }
}
