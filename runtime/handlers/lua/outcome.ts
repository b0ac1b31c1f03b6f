/**
 * @module handlers/lua/outcome — how a finished coroutine's end becomes a CallResult, by Wippy's
 * rule: `error(...)` fails; so does a non-nil second result that is a string or an error object;
 * any other return succeeds, `false` included.
 */
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { CallResult } from "../handler.ts";
import type { LuaErrorObjects } from "./error-objects.ts";
import { readValue, type ValueExtensions } from "./values.ts";
import { LUA_STATUS, LUA_TYPE, type LuaWasm } from "./wasm.ts";

export interface OutcomeReader {
  wasm: LuaWasm;
  entryId: string;
  extensions: ValueExtensions;
  /** Undefined only while the prelude runs. */
  errors: LuaErrorObjects | undefined;
}

/** The `count` results on top of `T`'s stack, as the outcome of calling `method` (defined at `definedAt`). */
export function returnedOutcome(reader: OutcomeReader, T: number, count: number, method: { name: string; definedAt: string }): CallResult {
  const { wasm, errors } = reader;
  const api = wasm.api;
  const base = api._lua_gettop(T) - count;
  if (count >= 2) {
    const second = base + 2;
    const isError = errors?.is(T, second) === true;
    if (isError || api._lua_type(T, second) === LUA_TYPE.STRING) {
      // An error object made by a module or errors.new knows the line that made it; a string does not.
      const text =
        isError && errors!.where(T, second)
          ? errors!.describe(T, second)
          : `${method.definedAt}: ${method.name} returned error: ${isError ? errors!.message(T, second) : wasm.readString(T, second)}`;
      return { value: undefined, error: new TaskrtError("E_LUA", text, { entryId: reader.entryId }) };
    }
  }
  const value = count >= 1 ? readValue(wasm, T, base + 1, { strict: false }, reader.extensions) : undefined;
  return { value };
}

export type StopReason = "timeout" | "cancelled" | undefined;

/**
 * The error `T` died with (on top of its stack), with its Lua traceback as the stack. `L` is an
 * idle state to build the traceback on; `stopped` says whether the runaway hook ended it.
 */
export function raisedError(reader: OutcomeReader, L: number, T: number, status: number, stopped: StopReason): TaskrtError {
  const { wasm, errors } = reader;
  const api = wasm.api;
  const type = api._lua_type(T, -1);
  let message: string;
  if (type === LUA_TYPE.STRING) message = wasm.readString(T, -1);
  else if (errors?.is(T, -1)) message = errors.describe(T, -1);
  else if (type === LUA_TYPE.NIL) message = "error(nil) raised";
  else message = `error raised with ${typeName(type)}: ${safeJson(readValue(wasm, T, -1, { strict: false }, reader.extensions))}`;
  if (status === LUA_STATUS.ERRMEM) message = `out of memory: ${message}`;
  const code = stopped === "timeout" ? "E_LUA_TIMEOUT" : stopped === "cancelled" ? "E_CANCELED" : "E_LUA";
  const error = new TaskrtError(code, message, { entryId: reader.entryId });
  api._luaL_traceback(L, T, 0, 0);
  error.stack = `${message}\n${wasm.readString(L, -1)}`;
  api._lua_settop(L, -2);
  return error;
}

/** "a table", "a function", … for messages. */
export function typeName(type: number): string {
  return ["nil", "a boolean", "a userdata", "a number", "a string", "a table", "a function", "a userdata", "a coroutine"][type] ?? "nothing";
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (error) {
    return errorMessage(error);
  }
}
