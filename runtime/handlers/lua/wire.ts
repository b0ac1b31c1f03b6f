/**
 * @module handlers/lua/wire — values on their way between a Lua worker and the main thread.
 *
 * Lua → main (a module call's arguments): the worker cannot know how the module will read an
 * argument (strictly, leniently, `{}` as an object), so it ships tables losslessly, as their key
 * and value pairs, and the main thread applies `values.ts`'s rules to them (`fromWire`).
 *
 * main → Lua (results): plain values travel by structured clone as they are; the engine's own
 * values (object handles, error objects, sql.NULL) become marker objects under the key "\0",
 * which no JSON text or SQL row produces, and the worker's engine pushes them as what they mean.
 */
import { LuaErrorValue, type ErrorKind } from "./errors.ts";
import { LuaHandle } from "./handles.ts";
import { MAX_DEPTH, shapeTable, valueError, type ReadOptions } from "./values.ts";
import { LUA_TYPE_NAMES } from "./wasm.ts";

export const MARK = "\0";

/** A table: keys and values interleaved. Keys are strings, integers, or markers of odd keys. */
export interface WireTable {
  [MARK]: "t";
  e: unknown[];
}
/** What has no plain form (a function, a coroutine, a worker-local userdata; a table too deep). */
export interface WireOpaque {
  [MARK]: "x";
  type: string;
}
/** An object handle, by its id on the main thread. */
export interface WireHandle {
  [MARK]: "h";
  id: number;
  /** The class, so the worker builds the right metatable (results only). */
  c?: string;
}
export interface WireError {
  [MARK]: "e";
  m: string;
  k: ErrorKind;
  r: boolean;
  w?: string;
}
export interface WireNull {
  [MARK]: "n";
}
/** A float or non-number key, in a table (only lenient reads keep them). */
export interface WireOddKey {
  [MARK]: "k";
  type: string;
  n?: number;
}

export function marker(value: unknown): string | undefined {
  return value !== null && typeof value === "object" && MARK in value ? String((value as Record<string, unknown>)[MARK]) : undefined;
}

// ---- main side: arguments from the wire --------------------------------------------------------

/** The wire value as `readValue` would have read it in the worker, under `options`. */
export function fromWire(wire: unknown, options: ReadOptions = {}, handles?: (id: number) => LuaHandle | undefined): unknown {
  return read(wire, options.strict !== false, options.emptyTable ?? "array", handles, 0);
}

function read(wire: unknown, strict: boolean, emptyTable: "array" | "object", handles: ((id: number) => LuaHandle | undefined) | undefined, depth: number): unknown {
  if (wire === null || typeof wire !== "object") return wire;
  const mark = marker(wire);
  if (mark === "t") {
    if (depth >= MAX_DEPTH) {
      if (strict) throw valueError(`table nested deeper than ${MAX_DEPTH} levels (does it contain itself?)`);
      return undefined;
    }
    return readTable((wire as WireTable).e, strict, emptyTable, handles, depth);
  }
  if (mark === "x") {
    if (strict) throw valueError(`cannot convert a Lua ${(wire as WireOpaque).type} to a plain value`);
    return undefined;
  }
  if (mark === "h") {
    if (strict) throw valueError("cannot convert a Lua userdata to a plain value");
    return undefined;
  }
  return wire;
}

function readTable(entries: unknown[], strict: boolean, emptyTable: "array" | "object", handles: ((id: number) => LuaHandle | undefined) | undefined, depth: number): unknown {
  let named: Record<string, unknown> | undefined;
  let numbered: unknown[] | undefined;
  let odd: string | undefined;
  for (let position = 0; position < entries.length; position += 2) {
    const key = entries[position];
    const item = entries[position + 1];
    if (typeof key === "string") {
      const value = read(item, strict, emptyTable, handles, depth + 1);
      if (value !== undefined) (named ??= {})[key] = value;
    } else if (typeof key === "number") {
      (numbered ??= []).push(key, read(item, strict, emptyTable, handles, depth + 1));
    } else {
      const oddKey = key as WireOddKey;
      odd ??= oddKey.type;
      if (!strict && oddKey.n !== undefined) (named ??= {})[String(oddKey.n)] = read(item, strict, emptyTable, handles, depth + 1);
    }
  }
  return shapeTable(numbered, named, odd, strict, emptyTable);
}

/** The handle a wire argument names, if it is one. */
export function wireHandle(wire: unknown, handles: (id: number) => LuaHandle | undefined): LuaHandle | undefined {
  return marker(wire) === "h" ? handles((wire as WireHandle).id) : undefined;
}

export function opaque(type: number): WireOpaque {
  return { [MARK]: "x", type: LUA_TYPE_NAMES[type] ?? "value" };
}

export function oddKey(type: number, n?: number): WireOddKey {
  return { [MARK]: "k", type: LUA_TYPE_NAMES[type] ?? "odd", n };
}

// ---- main side: results onto the wire ----------------------------------------------------------

export const NULL_WIRE: WireNull = Object.freeze({ [MARK]: "n" }) as WireNull;

/**
 * `value` ready to post: handles are registered (`register` gives their id), error objects and
 * sql.NULL become markers; everything else is copied as structured clone copies it. Plain values
 * without special parts are returned as they are, so the common case costs one walk.
 */
export function toWire(value: unknown, special: (value: object) => unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") {
    if (typeof value === "function") {
      const replaced = special(value);
      if (replaced !== undefined) return replaced;
      throw valueError("cannot pass a JavaScript function to Lua");
    }
    return value;
  }
  if (depth >= MAX_DEPTH) throw valueError(`cannot pass a value nested deeper than ${MAX_DEPTH} levels to Lua (does it contain itself?)`);
  const replaced = special(value);
  if (replaced !== undefined) return replaced;
  if (value instanceof Uint8Array || value instanceof Date) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item = value[index];
      const converted = toWire(item, special, depth + 1);
      if (converted !== item) (copy ??= value.slice())[index] = converted;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    const converted = toWire(item, special, depth + 1);
    if (converted !== item) (copy ??= { ...record })[key] = converted;
  }
  return copy ?? value;
}

export function errorToWire(error: LuaErrorValue): WireError {
  return { [MARK]: "e", m: error.message, k: error.kind, r: error.retryable, w: error.where };
}

export function errorFromWire(wire: WireError): LuaErrorValue {
  return new LuaErrorValue(wire.m, wire.k, wire.r, wire.w);
}
