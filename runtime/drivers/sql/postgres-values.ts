/**
 * @module drivers/sql/postgres-values — how values cross between JavaScript and PostgreSQL:
 * parameters bind by the SQLite driver's rules, results read back as JSON-friendly values.
 *
 * Parameters: `undefined` binds as NULL, a Date as its ISO-8601 text (UTC, so the process's time
 * zone never leaks in), a plain object or an array as its JSON text (not a PostgreSQL array
 * literal: the same call means the same on SQLite), a byte array as bytea; strings, numbers,
 * bigints, booleans and null bind as they are (PostgreSQL has a boolean type, and accepts 1/0 text
 * for boolean columns too).
 *
 * Results: int8 (`BIGINT`, `COUNT(*)`) reads as a number when it fits in 2^53 and as its decimal
 * text beyond, so no precision is lost silently; numeric stays text; booleans are booleans;
 * json/jsonb are parsed; date and time types stay PostgreSQL's text, since a JS Date would read
 * `timestamp without time zone` in the process's local zone and Lua handlers cannot hold one.
 */
import pg from "pg";
import type { CustomTypesConfig } from "pg";
import { bindObjectParameter, cannotBind, requireParameterArray } from "./parameters.ts";

const NO_VALUES: unknown[] = [];

/** PostgreSQL type oids whose parsing taskrt overrides. */
export const TYPE_OID = {
  INT8: 20,
  INT8_ARRAY: 1016,
  TEXT_ARRAY: 1009,
  DATE: 1082,
  TIME: 1083,
  TIMESTAMP: 1114,
  TIMESTAMPTZ: 1184,
  INTERVAL: 1186,
  TIMETZ: 1266,
  DATE_ARRAY: 1182,
  TIME_ARRAY: 1183,
  TIMESTAMP_ARRAY: 1115,
  TIMESTAMPTZ_ARRAY: 1185,
  INTERVAL_ARRAY: 1187,
  TIMETZ_ARRAY: 1270,
} as const;

const AS_TEXT = new Set<number>([TYPE_OID.DATE, TYPE_OID.TIME, TYPE_OID.TIMESTAMP, TYPE_OID.TIMESTAMPTZ, TYPE_OID.INTERVAL, TYPE_OID.TIMETZ]);
const AS_TEXT_ARRAY = new Set<number>([
  TYPE_OID.DATE_ARRAY,
  TYPE_OID.TIME_ARRAY,
  TYPE_OID.TIMESTAMP_ARRAY,
  TYPE_OID.TIMESTAMPTZ_ARRAY,
  TYPE_OID.INTERVAL_ARRAY,
  TYPE_OID.TIMETZ_ARRAY,
]);

/** `BIGINT` text → a number while exact, else the text itself. */
export function parseInt8(text: string): number | string {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : text;
}

const identity = (text: string): string => text;
/** pg's parser table, typed by plain oid (its typings list only the built-in oids). */
const defaultParser = pg.types.getTypeParser as (oid: number, format?: "text" | "binary") => (text: string) => unknown;
const parseTextArray = defaultParser(TYPE_OID.TEXT_ARRAY, "text") as (text: string) => (string | null)[];
const parseInt8Array = (text: string): (number | string | null)[] => parseTextArray(text).map((item) => (item === null ? null : parseInt8(item)));

/** Per pool, not pg's process-wide table: other pg users in the process keep pg's defaults. */
export const RESULT_TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    if (format === undefined || format === "text") {
      if (oid === TYPE_OID.INT8) return parseInt8;
      if (oid === TYPE_OID.INT8_ARRAY) return parseInt8Array;
      if (AS_TEXT.has(oid)) return identity;
      if (AS_TEXT_ARRAY.has(oid)) return parseTextArray;
    }
    return defaultParser(oid, format ?? "text");
  }) as CustomTypesConfig["getTypeParser"],
};

/** The values to send for `params`, converted by the rules above. Throws E_SQL naming the database `id`. */
export function bindParameters(params: readonly unknown[] | undefined, id: string): unknown[] {
  if (params === undefined) return NO_VALUES;
  requireParameterArray(id, params);
  const values = new Array<unknown>(params.length);
  for (let index = 0; index < params.length; index++) values[index] = bindValue(params[index], index, id);
  return values;
}

function bindValue(value: unknown, index: number, id: string): unknown {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
      return null;
    case "object":
      if (value === null) return null;
      if (ArrayBuffer.isView(value)) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return bindObjectParameter(id, index, value);
    default:
      throw cannotBind(id, index, `a ${typeof value}`);
  }
}

