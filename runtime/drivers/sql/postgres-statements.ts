/**
 * @module drivers/sql/postgres-statements — turns a handler's statement and parameters into what
 * pg sends (placeholders numbered, values bound, mistakes caught before the round trip), and pg's
 * answer into rows and an ExecResult.
 *
 * lastInsertId: PostgreSQL has none. An INSERT … RETURNING reports the returned `id` column (else
 * the first returned column) of its last row when that is an integer; anything else reports null.
 */
import type pg from "pg";
import { TaskrtError } from "../../errors.ts";
import type { ExecResult, SqlRow } from "./driver.ts";
import { translatePlaceholders } from "./postgres-placeholders.ts";
import { bindParameters } from "./postgres-values.ts";

/** Enough for every distinct statement of an application; a hit costs two Map operations. */
export const STATEMENT_CACHE_SIZE = 200;
/** INSERT, possibly after comments or inside a WITH clause: only these report lastInsertId. */
const INSERTS = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*(?:INSERT|WITH\b[\s\S]*\bINSERT)\b/i;
const PLACEHOLDER_HINT = "for PostgreSQL's jsonb operators ?, ?| and ?& write ??, ??| and ??&";

interface StatementShape {
  text: string;
  placeholders: number;
  positional: boolean;
  inserts: boolean;
}

export interface PreparedStatement {
  inserts: boolean;
  config: pg.QueryConfig;
}

export type PgAnswer = pg.QueryResult | pg.QueryResult[];

/** Statement texts seen lately, translated once each. */
export class StatementCache {
  readonly #id: string;
  readonly #shapes = new Map<string, StatementShape>();

  constructor(id: string) {
    this.#id = id;
  }

  get size(): number {
    return this.#shapes.size;
  }

  /** The query for pg, or E_SQL for a statement that cannot be right whatever the server holds. */
  prepare(sql: string, params: readonly unknown[] | undefined): PreparedStatement {
    const id = this.#id;
    if (typeof sql !== "string") {
      throw new TaskrtError("E_SQL", `sql failed on ${id}: the statement must be a string, got ${sql === null ? "null" : typeof sql}`, { entryId: id });
    }
    const shape = this.#shape(sql);
    const values = bindParameters(params, id);
    if (shape.placeholders > 0 && shape.positional) {
      throw new TaskrtError("E_SQL", `sql failed on ${id}: the statement mixes ? and $n placeholders`, {
        entryId: id,
        hint: `write ? placeholders only (taskrt numbers them); ${PLACEHOLDER_HINT}`,
      });
    }
    if (!shape.positional && shape.placeholders !== values.length) {
      const placeholders = `${shape.placeholders} placeholder${shape.placeholders === 1 ? "" : "s"}`;
      const given = `${values.length} parameter${values.length === 1 ? " was" : "s were"} given`;
      throw new TaskrtError("E_SQL", `sql failed on ${id}: the statement has ${placeholders} but ${given}`, {
        entryId: id,
        hint: `pass one value per ? placeholder; ${PLACEHOLDER_HINT}`,
      });
    }
    // Without values pg uses the simple protocol, which also runs several statements (a migration).
    return { inserts: shape.inserts, config: values.length === 0 ? { text: shape.text } : { text: shape.text, values } };
  }

  #shape(sql: string): StatementShape {
    const shapes = this.#shapes;
    let shape = shapes.get(sql);
    if (shape) {
      shapes.delete(sql);
      shapes.set(sql, shape);
      return shape;
    }
    shape = { ...translatePlaceholders(sql), inserts: INSERTS.test(sql) };
    if (shapes.size >= STATEMENT_CACHE_SIZE) shapes.delete(shapes.keys().next().value as string);
    shapes.set(sql, shape);
    return shape;
  }
}

/** A script answers once per statement; its last statement's rows are the answer, as a single statement's would be. */
export function rowsOf(answer: PgAnswer): SqlRow[] {
  const last = Array.isArray(answer) ? answer[answer.length - 1] : answer;
  return (last?.rows ?? []) as SqlRow[];
}

/** rowsAffected is pg's rowCount (for a SELECT, the rows returned, as Wippy's Go driver reports); a script's add up. */
export function execResultOf(statement: PreparedStatement, answer: PgAnswer): ExecResult {
  if (Array.isArray(answer)) {
    return { lastInsertId: null, rowsAffected: answer.reduce((total, part) => total + (part.rowCount ?? 0), 0) };
  }
  return { lastInsertId: statement.inserts ? returnedId(answer) : null, rowsAffected: answer.rowCount ?? 0 };
}

function returnedId(result: pg.QueryResult): number | null {
  const { rows, fields } = result;
  if (rows.length === 0 || fields.length === 0) return null;
  const column = fields.find((field) => field.name === "id") ?? fields[0];
  const value: unknown = rows[rows.length - 1][column.name];
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : null;
  if (typeof value === "string" && /^-?\d+$/.test(value)) {
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : null;
  }
  return null;
}
