/**
 * @module handlers/lua/errors — Wippy's error objects for Lua: what a failed module call returns
 * as `err` (with `:message()`, `:kind()`, `tostring(err)`), and the mapping from TaskrtError codes
 * to Wippy's error kinds.
 */
import { TaskrtError, errorMessage } from "../../errors.ts";

export const ERROR_KINDS = [
  "UNKNOWN",
  "INVALID",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "TIMEOUT",
  "CANCELED",
  "UNAVAILABLE",
  "INTERNAL",
  "CONFLICT",
  "RATE_LIMITED",
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Codes whose kind is not evident from their name, mapped as Wippy reports the same failure. */
const KIND_BY_CODE: Record<string, ErrorKind> = {
  E_NO_HTTP_CONTEXT: "INTERNAL",
  E_INVALID_JSON: "INVALID",
  E_NO_BODY: "INVALID",
  E_NO_DELIVERY: "INVALID",
  E_ALREADY_SETTLED: "INVALID",
  E_RELEASED: "INVALID",
  E_DURATION: "INVALID",
  E_LUA_VALUE: "INVALID",
  E_LUA_ARGUMENT: "INVALID",
  E_JSON: "INTERNAL",
  E_JSON_ENCODE: "INVALID",
  E_RESERVED_HEADER: "INVALID",
  E_SQL_BUILDER: "INVALID",
  E_SQL: "INTERNAL",
  E_DB_RELEASED: "INVALID",
  E_TX_DONE: "INVALID",
  E_TX_OPEN: "INVALID",
  E_TX_FINISHED: "INVALID",
  E_CANCELED: "CANCELED",
  E_MODULE_NOT_DECLARED: "PERMISSION_DENIED",
  E_NO_CONTEXT: "INTERNAL",
  E_NAME_TAKEN: "ALREADY_EXISTS",
  E_NOT_A_PROCESS: "INVALID",
  E_QUEUE_UNSUPPORTED: "INVALID",
};

/** The Wippy kind of a failure: by code, else by what the code says (…_NOT_FOUND), else INTERNAL. */
export function errorKind(error: unknown): ErrorKind {
  if (!(error instanceof TaskrtError)) return "INTERNAL";
  const known = KIND_BY_CODE[error.code];
  if (known) return known;
  if (error.code.endsWith("NOT_FOUND")) return "NOT_FOUND";
  if (error.code.endsWith("UNAVAILABLE")) return "UNAVAILABLE";
  if (error.code.endsWith("PERMISSION_DENIED")) return "PERMISSION_DENIED";
  if (error.code.endsWith("ALREADY_EXISTS")) return "ALREADY_EXISTS";
  if (error.code.includes("INVALID")) return "INVALID";
  if (error.code.includes("TIMEOUT")) return "TIMEOUT";
  return "INTERNAL";
}

/** A Lua error object as JavaScript builds it; the engine pushes it as a table with Wippy's methods. */
export class LuaErrorValue {
  constructor(
    readonly message: string,
    readonly kind: ErrorKind,
    readonly retryable: boolean,
    /** `file.lua:12:` of the Lua line whose call failed, when known. */
    readonly where?: string,
  ) {}
}

/** What a thrown TaskrtError (or anything else) becomes on the Lua side. Never retryable, as Wippy's module errors. */
export function toLuaError(thrown: unknown, where?: string): LuaErrorValue {
  return new LuaErrorValue(errorMessage(thrown), errorKind(thrown), false, where);
}

/** A refused argument: returned to Lua as `nil, err` of kind INVALID, as Wippy's modules do. */
export function argumentError(position: number, functionName: string, expected: string, found: string): TaskrtError {
  return new TaskrtError("E_LUA_ARGUMENT", `bad argument #${position} to '${functionName}' (${expected} expected, got ${found})`);
}
