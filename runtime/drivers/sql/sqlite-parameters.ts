/**
 * @module drivers/sql/sqlite-parameters — turns a caller's positional parameters into values
 * better-sqlite3 binds: booleans as 1/0, `undefined` as NULL, a Date as ISO-8601 text, a plain
 * object or array as JSON text; strings, numbers, bigints, null and byte arrays as they are.
 */
import { bindObjectParameter, cannotBind, requireParameterArray } from "./parameters.ts";

const NO_PARAMS: readonly unknown[] = [];

/** The bindable values; the caller's own array when nothing needed converting. */
export function bindParameters(id: string, params: readonly unknown[] | undefined): readonly unknown[] {
  if (params === undefined) return NO_PARAMS;
  requireParameterArray(id, params);
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
      return bindObjectParameter(id, index, value);
    default:
      throw cannotBind(id, index, `a ${typeof value}`);
  }
}

