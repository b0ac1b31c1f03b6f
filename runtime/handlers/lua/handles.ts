/**
 * @module handlers/lua/handles — JavaScript objects handed to Lua as userdata with methods
 * (`db:query(…)`, `req:body_json()`, `msg:ack()`): one class per kind of object, one metatable
 * per class and Lua state, and a process-wide table from handle id to object that Lua's garbage
 * collector empties through `__gc`.
 */
import { LuaRaise, pushNative, pushRawNative, type LuaArguments, type NativeFunction, type NativeResult } from "./native.ts";
import { LUA_TYPE, type LuaWasm } from "./wasm.ts";

export type LuaMethod<T> = (self: T, args: LuaArguments) => NativeResult;

export interface LuaClass<T> {
  /** Shown in messages and as the metatable's `__name` (`taskrt.sql.DB`). */
  readonly name: string;
  /** What code usually calls an instance (`db`), for messages: `call it as db:query(...)`. */
  readonly variable: string;
  readonly methods: Readonly<Record<string, NativeFunction>>;
  readonly tostring?: NativeFunction;
  /** Called when Lua collects an instance (a worker tells the main thread the handle is gone). */
  readonly collected?: (value: T) => void;
}

/** Every class declared with defineLuaClass, by name: a worker mirrors them from this list. */
export const LUA_CLASSES = new Map<string, LuaClass<any>>();

/** A JavaScript object on its way to Lua as an instance of `luaClass`. */
export class LuaHandle<T = unknown> {
  constructor(
    readonly luaClass: LuaClass<T>,
    readonly value: T,
  ) {}
}

export function handle<T>(luaClass: LuaClass<T>, value: T): LuaHandle<T> {
  return new LuaHandle(luaClass, value);
}

/**
 * Declares a class. Each method receives the object it was called on; calling one with `.`
 * instead of `:` (so without its object) raises a Lua error that says so.
 */
export function defineLuaClass<T>(name: string, variable: string, methods: Record<string, LuaMethod<T>>, tostring?: (self: T) => string): LuaClass<T> {
  const luaClass: { name: string; variable: string; methods: Record<string, NativeFunction>; tostring?: NativeFunction } = { name, variable, methods: {} };
  for (const [methodName, method] of Object.entries(methods)) {
    const native: NativeFunction = (args) => {
      const self = selfOf(args, luaClass as LuaClass<T>, methodName);
      args.selfOffset = 1;
      return method(self, args);
    };
    Object.defineProperty(native, "name", { value: methodName });
    luaClass.methods[methodName] = native;
  }
  if (tostring) luaClass.tostring = (args) => [tostring(selfOf(args, luaClass as LuaClass<T>, "__tostring"))];
  LUA_CLASSES.set(name, luaClass);
  return luaClass;
}

const objects = new Map<number, LuaHandle>();
let nextId = 1;
const COLLECT = {};

/** Live handles, for tests that check nothing leaks. */
export function liveHandleCount(): number {
  return objects.size;
}

export function pushHandle(wasm: LuaWasm, L: number, value: LuaHandle): void {
  const api = wasm.api;
  const pointer = api._lua_newuserdatauv(L, 4, 0);
  const id = nextId++;
  api.HEAP32[pointer >> 2] = id;
  objects.set(id, value);
  const luaClass = value.luaClass;
  if (api._luaL_newmetatable(L, wasm.cString(`taskrt.${luaClass.name}`)) !== 0) fillMetatable(wasm, L, luaClass);
  api._lua_setmetatable(L, -2);
}

function fillMetatable(wasm: LuaWasm, L: number, luaClass: LuaClass<unknown>): void {
  const api = wasm.api;
  const methods = Object.entries(luaClass.methods);
  api._lua_createtable(L, 0, methods.length);
  for (const [name, method] of methods) {
    pushNative(wasm, L, method);
    api._lua_setfield(L, -2, wasm.cString(name));
  }
  api._lua_setfield(L, -2, wasm.cString("__index"));
  pushRawNative(wasm, L, COLLECT, () => (collected: number) => {
    const pointer = api._lua_touserdata(collected, 1);
    if (!pointer) return 0;
    const id = api.HEAP32[pointer >> 2];
    const found = objects.get(id);
    objects.delete(id);
    found?.luaClass.collected?.(found.value);
    return 0;
  });
  api._lua_setfield(L, -2, wasm.cString("__gc"));
  if (luaClass.tostring) {
    pushNative(wasm, L, luaClass.tostring);
    api._lua_setfield(L, -2, wasm.cString("__tostring"));
  }
}

/** The handle at `index`, whatever its class; undefined for anything else. */
export function readHandle(wasm: LuaWasm, L: number, index: number): LuaHandle | undefined {
  if (wasm.api._lua_type(L, index) !== LUA_TYPE.USERDATA) return undefined;
  const pointer = wasm.api._lua_touserdata(L, index);
  return pointer ? objects.get(wasm.api.HEAP32[pointer >> 2]) : undefined;
}

/** The argument at `position` if it is an instance of one of `classes`. */
export function handleArgument(args: LuaArguments, position: number, ...classes: LuaClass<any>[]): LuaHandle | undefined {
  const found = args.handle(position);
  return found && classes.includes(found.luaClass) ? found : undefined;
}

function selfOf<T>(args: LuaArguments, luaClass: LuaClass<T>, methodName: string): T {
  const found = handleArgument(args, 1, luaClass);
  if (!found) {
    const { variable } = luaClass;
    throw new LuaRaise(`${luaClass.name}.${methodName} needs its object: call it as ${variable}:${methodName}(...), with a colon, not ${variable}.${methodName}(...)`);
  }
  return found.value as T;
}
