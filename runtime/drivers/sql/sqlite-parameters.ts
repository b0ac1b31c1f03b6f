/**
 * @module drivers/sql/sqlite-parameters — turns a caller's positional parameters into values
 * better-sqlite3 binds: booleans as 1/0, `undefined` as NULL, a Date as ISO-8601 text, a plain
 * object or array as JSON text; strings, numbers, bigints, null and byte arrays as they are.
 */
import { TaskrtError } from "../../errors.ts";

const NO_PARAMS: readonly unknown[] = [];

/** The bindable values; the caller's own array when nothing needed converting. */
export function bindParameters(id: string, params: readonly unknown[] | undefined): readonly unknown[] {
  if (params === undefined) return NO_PARAMS;
  if (!Array.isArray(params)) {
    throw new TaskrtError("E_SQL", `sql failed on ${id}: parameters must be an array, got ${describeValue(params)}`, {
      entryId: id,
      hint: "pass the values for the ? placeholders as an array: query(sql, [a, b])",
    });
  }
  let converted: unknown[] | undefined;
  for (let index = 0; index < params.length; index++) {
    const value = params[index];
    const bound = bindValue(id, value, index);
    if (bound !== value) (converted ??= params.slice())[index] = bound;
  }
  return converted ?? params;
}

function bindValue(id: string, value: unknown, index: number): unknown {
  switch (typeof value) {
    case "string":
    case "number":
    case "bigint":
      return value;
    case "boolean":
      return value ? 1 : 0;
    case "undefined":
      return null;
    case "object":
      if (value === null || ArrayBuffer.isView(value)) return value;
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw cannotBind(id, index, "an invalid Date");
        return value.toISOString();
      }
      return JSON.stringify(value);
    default:
      throw cannotBind(id, index, `a ${typeof value}`);
  }
}

function cannotBind(id: string, index: number, what: string): TaskrtError {
  return new TaskrtError("E_SQL", `sql failed on ${id}: cannot bind parameter ${index + 1}, ${what}`, {
    entryId: id,
    hint: "parameters may be strings, numbers, bigints, booleans, null, Dates, byte arrays, or JSON-serialisable objects",
  });
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  return typeof value === "object" ? value.constructor?.name ?? "object" : typeof value;
}
