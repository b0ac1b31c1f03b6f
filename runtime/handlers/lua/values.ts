/**
 * @module handlers/lua/values — converts values between Lua and JavaScript, by Wippy's rules:
 * a table with keys 1..n is an array, a table with string keys an object, an empty table an
 * empty array; integers stay integers, floats stay floats; nil and null meet, so a SQL NULL
 * column is a key absent from the row table.
 */
import { TaskrtError } from "../../errors.ts";
import { LUA_REGISTRYINDEX, LUA_TYPE, LUA_TYPE_NAMES, type LuaWasm } from "./wasm.ts";

/** Wippy's limit for JSON encoding, applied to every conversion: deeper means a cycle, in practice. */
export const MAX_DEPTH = 128;

export const NOT_SPECIAL: unique symbol = Symbol("not special");

/** Values the engine knows and this module does not: object handles, error objects, sql.NULL. */
export interface ValueExtensions {
  /** Pushes `value` if it is one of the engine's own (a handle, an error, a native function); false otherwise. */
  pushSpecial(L: number, value: object | ((...args: never[]) => unknown)): boolean;
  /** The meaning of a userdata, or of a table with a metatable; NOT_SPECIAL for a plain table. */
  readSpecial(L: number, index: number, type: number): unknown;
}

export interface ReadOptions {
  /**
   * Strict (the default) refuses what has no faithful JavaScript form: functions, coroutines,
   * tables mixing array items and named keys, sparse arrays. Lenient turns such tables into
   * objects with string keys and drops the rest (for log fields and return values).
   */
  strict?: boolean;
  /** What `{}` becomes. Wippy encodes it as `[]`. */
  emptyTable?: "array" | "object";
}

export const NO_EXTENSIONS: ValueExtensions = { pushSpecial: () => false, readSpecial: () => NOT_SPECIAL };

export function valueError(message: string): TaskrtError {
  return new TaskrtError("E_LUA_VALUE", message, {
    hint: "pass strings, numbers, booleans and tables with either keys 1..n (arrays) or string keys (objects)",
  });
}

/** Pushes one JavaScript value onto the stack of `L`. Throws (pushing nothing) for functions and cycles. */
export function pushValue(wasm: LuaWasm, L: number, value: unknown, extensions: ValueExtensions = NO_EXTENSIONS): void {
  const top = wasm.api._lua_gettop(L);
  try {
    push(wasm, L, value, extensions, 0);
  } catch (error) {
    wasm.api._lua_settop(L, top);
    throw error;
  }
}

function push(wasm: LuaWasm, L: number, value: unknown, extensions: ValueExtensions, depth: number): void {
  const api = wasm.api;
  switch (typeof value) {
    case "string":
      wasm.pushString(L, value);
      return;
    case "number":
      if (Number.isSafeInteger(value)) api._lua_pushinteger(L, BigInt(value));
      else api._lua_pushnumber(L, value);
      return;
    case "boolean":
      api._lua_pushboolean(L, value ? 1 : 0);
      return;
    case "undefined":
      api._lua_pushnil(L);
      return;
    case "bigint":
      if (value >= -(2n ** 63n) && value < 2n ** 63n) api._lua_pushinteger(L, value);
      else api._lua_pushnumber(L, Number(value));
      return;
    case "object":
      if (value === null) {
        api._lua_pushnil(L);
        return;
      }
      if (depth >= MAX_DEPTH) throw valueError(`cannot pass a value nested deeper than ${MAX_DEPTH} levels to Lua (does it contain itself?)`);
      if (extensions.pushSpecial(L, value)) return;
      if (api._lua_checkstack(L, 4) === 0) throw valueError("Lua stack overflow while converting a value");
      if (value instanceof Uint8Array) {
        wasm.pushBytes(L, value);
      } else if (value instanceof Date) {
        wasm.pushString(L, value.toISOString());
      } else if (Array.isArray(value)) {
        api._lua_createtable(L, value.length, 0);
        for (let index = 0; index < value.length; index++) {
          const item = value[index];
          if (item === null || item === undefined) continue;
          push(wasm, L, item, extensions, depth + 1);
          api._lua_rawseti(L, -2, BigInt(index + 1));
        }
      } else {
        const record = value as Record<string, unknown>;
        api._lua_createtable(L, 0, 4);
        for (const key in record) {
          const item = record[key];
          if (item === null || item === undefined) continue;
          wasm.pushString(L, key);
          push(wasm, L, item, extensions, depth + 1);
          api._lua_rawset(L, -3);
        }
      }
      return;
    case "function":
      if (extensions.pushSpecial(L, value)) return;
      throw valueError("cannot pass a JavaScript function to Lua");
    default:
      throw valueError(`cannot pass a JavaScript ${typeof value} to Lua`);
  }
}

/**
 * The JavaScript form of the value at `index`. nil gives `undefined`. Throws a TaskrtError
 * (E_LUA_VALUE) in strict mode for what cannot cross; never raises a Lua error.
 */
export function readValue(wasm: LuaWasm, L: number, index: number, options: ReadOptions = {}, extensions: ValueExtensions = NO_EXTENSIONS): unknown {
  const api = wasm.api;
  const top = api._lua_gettop(L);
  try {
    return read(wasm, L, api._lua_absindex(L, index), options.strict !== false, options.emptyTable ?? "array", extensions, 0);
  } finally {
    api._lua_settop(L, top);
  }
}

export const NOT_SCALAR: unique symbol = Symbol("not scalar");

/**
 * The nil, boolean, number or string at `index` (whose Lua type is `type`) as JavaScript;
 * NOT_SCALAR for anything else. The one scalar step of the plain reader and a worker's wire reader.
 */
export function readScalar(wasm: LuaWasm, L: number, index: number, type: number): unknown {
  const api = wasm.api;
  switch (type) {
    case LUA_TYPE.NIL:
    case LUA_TYPE.NONE:
      return undefined;
    case LUA_TYPE.BOOLEAN:
      return api._lua_toboolean(L, index) !== 0;
    case LUA_TYPE.NUMBER:
      return api._lua_isinteger(L, index) ? Number(api._lua_tointegerx(L, index, 0)) : api._lua_tonumberx(L, index, 0);
    case LUA_TYPE.STRING:
      return wasm.readString(L, index);
    default:
      return NOT_SCALAR;
  }
}

function read(wasm: LuaWasm, L: number, index: number, strict: boolean, emptyTable: "array" | "object", extensions: ValueExtensions, depth: number): unknown {
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
      if (depth >= MAX_DEPTH) {
        if (strict) throw valueError(`table nested deeper than ${MAX_DEPTH} levels (does it contain itself?)`);
        return undefined;
      }
      return readTable(wasm, L, index, strict, emptyTable, extensions, depth);
    }
    case LUA_TYPE.USERDATA: {
      const special = extensions.readSpecial(L, index, type);
      if (special !== NOT_SPECIAL) return special;
      break;
    }
  }
  if (strict) throw valueError(`cannot convert a Lua ${LUA_TYPE_NAMES[type] ?? "value"} to a plain value`);
  return undefined;
}

function readTable(wasm: LuaWasm, L: number, index: number, strict: boolean, emptyTable: "array" | "object", extensions: ValueExtensions, depth: number): unknown {
  const api = wasm.api;
  if (api._lua_checkstack(L, 4) === 0) throw valueError("Lua stack overflow while converting a table");
  let named: Record<string, unknown> | undefined;
  // Integer keys and their values, interleaved; placed once the table's shape is known.
  let numbered: unknown[] | undefined;
  let odd: string | undefined;
  api._lua_pushnil(L);
  while (api._lua_next(L, index) !== 0) {
    const keyType = api._lua_type(L, -2);
    if (keyType === LUA_TYPE.STRING) {
      const key = wasm.readString(L, -2);
      const item = read(wasm, L, api._lua_gettop(L), strict, emptyTable, extensions, depth + 1);
      if (item !== undefined) (named ??= {})[key] = item;
    } else if (keyType === LUA_TYPE.NUMBER && api._lua_isinteger(L, -2)) {
      const key = Number(api._lua_tointegerx(L, -2, 0));
      (numbered ??= []).push(key, read(wasm, L, api._lua_gettop(L), strict, emptyTable, extensions, depth + 1));
    } else {
      odd ??= LUA_TYPE_NAMES[keyType] ?? "odd";
      if (!strict && keyType === LUA_TYPE.NUMBER) {
        (named ??= {})[String(api._lua_tonumberx(L, -2, 0))] = read(wasm, L, api._lua_gettop(L), strict, emptyTable, extensions, depth + 1);
      }
    }
    api._lua_settop(L, -2);
  }
  return shapeTable(numbered, named, odd, strict, emptyTable);
}

/** Pushes the registry value stored under `reference` (a `luaL_ref`). */
export function pushReference(wasm: LuaWasm, L: number, reference: number): void {
  wasm.api._lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(reference));
}

/**
 * A Lua table read as its numbered items (key, value, key, value…) and named fields, shaped into
 * a plain value: an array when the keys are exactly 1..n, else an object; `strict` refuses the
 * tables that have no faithful plain form.
 */
export function shapeTable(
  numbered: unknown[] | undefined,
  named: Record<string, unknown> | undefined,
  odd: string | undefined,
  strict: boolean,
  emptyTable: "array" | "object",
): unknown {
  if (odd !== undefined && strict) throw valueError(`cannot convert a table with ${odd === "number" ? "fractional number" : odd} keys`);
  if (numbered === undefined) return named ?? (emptyTable === "array" ? [] : {});
  const count = numbered.length / 2;
  if (named === undefined) {
    const array: unknown[] = new Array(count);
    let dense = true;
    for (let position = 0; position < numbered.length; position += 2) {
      const key = numbered[position] as number;
      if (key < 1 || key > count) {
        dense = false;
        break;
      }
      array[key - 1] = numbered[position + 1];
    }
    if (dense) return array;
    if (strict) throw valueError("cannot convert a sparse array (its keys are not 1..n without holes)");
  } else if (strict) {
    throw valueError("cannot convert a table that mixes array items (keys 1..n) and named keys");
  }
  const merged: Record<string, unknown> = named ?? {};
  for (let position = 0; position < numbered.length; position += 2) merged[String(numbered[position])] = numbered[position + 1];
  return merged;
}
