/**
 * @module handlers/lua/wasm — the Lua 5.4 WebAssembly instance of this thread (each Lua worker
 * has its own, so its own heap), its raw C API typed for TypeScript, and byte-exact string
 * transfer in and out of its memory.
 *
 * wasmoon's `LuaFactory` loads the module once per thread; each entry then gets its own
 * `lua_State` in it (memory.ts), driven through the raw exports (`module._lua_*`). We skip wasmoon's engine
 * and type extensions: they convert values by their own rules (empty table → object, every
 * JS object → proxy) and go through `ccall`, which costs ~35 ns per API call against ~4 ns raw.
 */
import { LuaFactory } from "wasmoon";

type State = number;
type Pointer = number;

/** The raw exports used by taskrt (names as in lua.h / lauxlib.h). */
export interface LuaApi {
  HEAPU8: Uint8Array;
  HEAP32: Int32Array;
  _malloc(size: number): Pointer;
  _free(pointer: Pointer): void;
  _realloc(pointer: Pointer, size: number): Pointer;
  addFunction(fn: (...args: number[]) => number | void, signature: string): Pointer;
  removeFunction(pointer: Pointer): void;

  _luaL_newstate(): State;
  _lua_newstate(allocator: Pointer, userData: number): State;
  _luaL_openlibs(L: State): void;
  _lua_close(L: State): void;
  _lua_newthread(L: State): State;
  _lua_resetthread(L: State): number;
  _lua_status(L: State): number;
  _lua_resume(L: State, from: State, nargs: number, nresults: Pointer): number;
  _lua_yieldk(L: State, nresults: number, context: number, continuation: Pointer): number;
  _lua_isyieldable(L: State): number;
  _lua_error(L: State): number;
  _lua_pcallk(L: State, nargs: number, nresults: number, handler: number, context: number, continuation: Pointer): number;
  _lua_sethook(L: State, hook: Pointer, mask: number, count: number): void;
  _luaL_loadbufferx(L: State, buffer: Pointer, size: number, name: Pointer, mode: Pointer): number;
  _luaL_traceback(L: State, of: State, message: Pointer, level: number): void;
  _luaL_where(L: State, level: number): void;
  _luaL_tolstring(L: State, index: number, length: Pointer): Pointer;

  _lua_gettop(L: State): number;
  _lua_settop(L: State, index: number): void;
  _lua_absindex(L: State, index: number): number;
  _lua_checkstack(L: State, extra: number): number;
  _lua_pushvalue(L: State, index: number): void;
  _lua_xmove(from: State, to: State, count: number): void;
  _lua_type(L: State, index: number): number;
  _lua_isinteger(L: State, index: number): number;
  _lua_tonumberx(L: State, index: number, isNumber: Pointer): number;
  _lua_tointegerx(L: State, index: number, isNumber: Pointer): bigint;
  _lua_toboolean(L: State, index: number): number;
  _lua_tolstring(L: State, index: number, length: Pointer): Pointer;
  _lua_touserdata(L: State, index: number): Pointer;
  _lua_rawequal(L: State, a: number, b: number): number;

  _lua_pushnil(L: State): void;
  _lua_pushnumber(L: State, value: number): void;
  _lua_pushinteger(L: State, value: bigint): void;
  _lua_pushlstring(L: State, bytes: Pointer, length: number): Pointer;
  _lua_pushboolean(L: State, value: number): void;
  _lua_pushcclosure(L: State, fn: Pointer, upvalues: number): void;
  _lua_createtable(L: State, arrayItems: number, fields: number): void;
  _lua_newuserdatauv(L: State, size: number, userValues: number): Pointer;

  _lua_rawgeti(L: State, index: number, key: bigint): number;
  _lua_rawseti(L: State, index: number, key: bigint): void;
  _lua_rawset(L: State, index: number): void;
  _lua_rawget(L: State, index: number): number;
  _lua_getfield(L: State, index: number, key: Pointer): number;
  _lua_setfield(L: State, index: number, key: Pointer): void;
  _lua_getglobal(L: State, name: Pointer): number;
  _lua_setglobal(L: State, name: Pointer): void;
  _lua_next(L: State, index: number): number;
  _lua_getmetatable(L: State, index: number): number;
  _luaL_newmetatable(L: State, name: Pointer): number;
  _luaL_setmetatable(L: State, name: Pointer): void;
  _lua_setmetatable(L: State, index: number): number;
  _luaL_ref(L: State, table: number): number;
  _luaL_unref(L: State, table: number, reference: number): void;
}

export const LUA_REGISTRYINDEX = -1_000_000 - 1000;
export const upvalueIndex = (index: number): number => LUA_REGISTRYINDEX - index;

export const LUA_STATUS = { OK: 0, YIELD: 1, ERRRUN: 2, ERRSYNTAX: 3, ERRMEM: 4, ERRERR: 5 } as const;
export const LUA_TYPE = { NONE: -1, NIL: 0, BOOLEAN: 1, LIGHTUSERDATA: 2, NUMBER: 3, STRING: 4, TABLE: 5, FUNCTION: 6, USERDATA: 7, THREAD: 8 } as const;
export const LUA_TYPE_NAMES = ["nil", "boolean", "userdata", "number", "string", "table", "function", "userdata", "thread"];
export const LUA_MASKCOUNT = 8;
export const LUA_MULTRET = -1;

/** The shared instance: its API, and scratch memory for lengths and strings. */
export interface LuaWasm {
  api: LuaApi;
  /** A NUL-terminated copy of `text`, kept for the life of the process (names only, never data). */
  cString(text: string): Pointer;
  pushString(L: State, text: string): void;
  pushBytes(L: State, bytes: Uint8Array): void;
  /** The string at `index` (which must be a string or a number), decoded as UTF-8. */
  readString(L: State, index: number): string;
  /** `tostring(value)` as Lua does it, `__tostring` included; may raise a Lua error. */
  toDisplayString(L: State, index: number): string;
  /** Loads `code` as a chunk named `chunkName` (`@file.lua` or `=name`); returns the status. */
  loadChunk(L: State, code: string, chunkName: string): number;
}

let shared: Promise<LuaWasm> | undefined;

export function loadLuaWasm(): Promise<LuaWasm> {
  shared ??= loadModule();
  return shared;
}

/**
 * wasmoon's `module._lua_*` functions are wrappers that check an assertion and look the export up
 * on every call: a fifth of a trivial handler call's time. We keep the instance's own exports,
 * caught as the factory instantiates it, and fall back to the wrappers if that fails.
 */
async function loadModule(): Promise<LuaWasm> {
  const instantiate = WebAssembly.instantiate;
  let exports: Record<string, unknown> | undefined;
  WebAssembly.instantiate = async function (this: unknown, ...args: Parameters<typeof instantiate>) {
    const result = (await (instantiate as (...a: unknown[]) => Promise<unknown>).apply(this, args)) as WebAssembly.WebAssemblyInstantiatedSource | WebAssembly.Instance;
    const instance = result instanceof WebAssembly.Instance ? result : result.instance;
    if (typeof instance?.exports?.luaL_newstate === "function") exports = instance.exports as Record<string, unknown>;
    return result;
  } as typeof instantiate;
  let module: LuaApi;
  try {
    module = (await new LuaFactory().getLuaModule()).module as unknown as LuaApi;
  } finally {
    WebAssembly.instantiate = instantiate;
  }
  return createLuaWasm(exports ? withRawExports(module, exports) : module);
}

/** The module's API with every `_name` function replaced by the raw export `name`. */
function withRawExports(module: LuaApi, exports: Record<string, unknown>): LuaApi {
  const api = Object.create(module) as Record<string, unknown>;
  for (const key of Object.keys(module)) {
    const raw = key.startsWith("_") ? exports[key.slice(1)] : undefined;
    if (typeof raw === "function") api[key] = raw;
  }
  return api as unknown as LuaApi;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function createLuaWasm(api: LuaApi): LuaWasm {
  const names = new Map<string, Pointer>();
  const lengthSlot = api._malloc(8);
  let scratch = api._malloc(256);
  let scratchSize = 256;

  const ensureScratch = (size: number): Pointer => {
    if (size > scratchSize) {
      api._free(scratch);
      scratchSize = Math.max(size, scratchSize * 2);
      scratch = api._malloc(scratchSize);
    }
    return scratch;
  };

  /** Copies `text` as UTF-8 into scratch memory; returns the byte length. */
  const writeScratch = (text: string): number => {
    const length = text.length;
    const target = ensureScratch(length * 3 + 1);
    const heap = api.HEAPU8; // read after any allocation: growing memory replaces the view
    let index = 0;
    for (; index < length; index++) {
      const code = text.charCodeAt(index);
      if (code >= 0x80) break;
      heap[target + index] = code;
    }
    if (index === length) return length;
    return index + encoder.encodeInto(text.slice(index), heap.subarray(target + index, target + length * 3)).written;
  };

  const decode = (pointer: Pointer, length: number): string => {
    const heap = api.HEAPU8;
    if (length < 48) {
      let text = "";
      for (let index = 0; index < length; index++) {
        const code = heap[pointer + index];
        if (code >= 0x80) return decoder.decode(heap.subarray(pointer, pointer + length));
        text += String.fromCharCode(code);
      }
      return text;
    }
    return decoder.decode(heap.subarray(pointer, pointer + length));
  };

  const cString = (text: string): Pointer => {
    let pointer = names.get(text);
    if (pointer === undefined) {
      const bytes = encoder.encode(text);
      pointer = api._malloc(bytes.length + 1);
      api.HEAPU8.set(bytes, pointer);
      api.HEAPU8[pointer + bytes.length] = 0;
      names.set(text, pointer);
    }
    return pointer;
  };

  return {
    api,
    cString,
    pushString(L, text) {
      const length = writeScratch(text);
      api._lua_pushlstring(L, scratch, length);
    },
    pushBytes(L, bytes) {
      const target = ensureScratch(bytes.length + 1);
      api.HEAPU8.set(bytes, target);
      api._lua_pushlstring(L, target, bytes.length);
    },
    readString(L, index) {
      const pointer = api._lua_tolstring(L, index, lengthSlot);
      return decode(pointer, api.HEAP32[lengthSlot >> 2]);
    },
    toDisplayString(L, index) {
      const pointer = api._luaL_tolstring(L, index, lengthSlot);
      const text = decode(pointer, api.HEAP32[lengthSlot >> 2]);
      api._lua_settop(L, -2);
      return text;
    },
    loadChunk(L, code, chunkName) {
      const bytes = encoder.encode(code);
      const buffer = api._malloc(bytes.length + 1);
      const name = encoder.encode(chunkName + "\0");
      const namePointer = api._malloc(name.length);
      try {
        api.HEAPU8.set(bytes, buffer);
        api.HEAPU8.set(name, namePointer);
        return api._luaL_loadbufferx(L, buffer, bytes.length, namePointer, cString("t"));
      } finally {
        api._free(buffer);
        api._free(namePointer);
      }
    },
  };
}
