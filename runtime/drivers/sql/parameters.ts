/**
 * @module drivers/sql/parameters — the parameter rules every SQL driver shares: parameters come
 * as an array, a Date binds as ISO-8601 text, a plain object or array as its JSON text, and a
 * value that cannot bind is an E_SQL error naming the database and the parameter.
 */
import { TaskrtError } from "../../errors.ts";

/** `params` when it is an array; otherwise the error every driver gives. */
export function requireParameterArray(id: string, params: unknown): readonly unknown[] {
  if (Array.isArray(params)) return params;
  throw new TaskrtError("E_SQL", `sql failed on ${id}: parameters must be an array, got ${describeValue(params)}`, {
    entryId: id,
    hint: "pass the values for the ? placeholders as an array: query(sql, [a, b])",
  });
}

/** A Date or a plain object/array parameter (not null, not bytes) as the text it binds as. */
export function bindObjectParameter(id: string, index: number, value: object): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw cannotBind(id, index, "an invalid Date");
    return value.toISOString();
  }
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw cannotBind(id, index, `an object JSON cannot encode (${(error as Error).message})`);
  }
}

export function cannotBind(id: string, index: number, what: string): TaskrtError {
  return new TaskrtError("E_SQL", `sql failed on ${id}: cannot bind parameter ${index + 1}, ${what}`, {
    entryId: id,
    hint: "parameters may be strings, numbers, bigints, booleans, null, Dates, byte arrays, or JSON-serialisable objects",
  });
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  return typeof value === "object" ? value.constructor?.name ?? "object" : typeof value;
}
