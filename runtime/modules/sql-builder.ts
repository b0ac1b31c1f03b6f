/**
 * @module modules/sql-builder — immutable SELECT/INSERT/UPDATE/DELETE builders that render
 * parameterised SQL (`?`, or `$1`/`@p1`/`:1`), checking every identifier they are given.
 *
 * Values always travel as parameters. Identifiers (tables, columns, order-by terms) are checked
 * against a strict grammar, so a builder never carries user text into SQL; the one escape hatch is
 * `where("raw sql ?", …args)`, whose text the developer writes. Each method returns a new builder.
 */
import { TaskrtError } from "../errors.ts";
import type { ExecResult, SqlDialect, SqlRow } from "../drivers/sql/driver.ts";
import { currentContext } from "./context.ts";

export type PlaceholderFormat = "question" | "dollar" | "at" | "colon";
export const PLACEHOLDER_FORMATS: readonly PlaceholderFormat[] = ["question", "dollar", "at", "colon"];
const PLACEHOLDER_PREFIX: Record<Exclude<PlaceholderFormat, "question">, string> = { dollar: "$", at: "@p", colon: ":" };

export interface SqlStatement {
  sql: string;
  params: unknown[];
}

/** A database handle or transaction: what `runWith` sends the statement to. */
export interface RunTarget {
  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]>;
  execute(sql: string, params?: readonly unknown[]): Promise<ExecResult>;
  type?(): SqlDialect;
  readonly dialect?: SqlDialect;
}

export interface BoundStatement {
  query(): Promise<SqlRow[]>;
  exec(): Promise<ExecResult>;
  toSql(): SqlStatement;
}

/** A `where` argument: AND-ed equality (null → IS NULL, array → IN), or SQL text with `?` per argument. */
export type WhereCondition = string | Record<string, unknown>;

const BARE = "[A-Za-z_][A-Za-z0-9_]*";
const QUOTED = '"(?:[^"]|"")+"';
const PART = `(?:${BARE}|${QUOTED})`;
const IDENT = `${PART}(?:\\.${PART})*`;
const CALL = `${BARE}\\(\\s*(?:\\*|(?:DISTINCT\\s+)?${IDENT}(?:\\s*,\\s*${IDENT})*)?\\s*\\)`;
const IDENTIFIER = new RegExp(`^${IDENT}$`);
/** `*`, `t.*`, `name`, `t.name AS alias`, `COUNT(*) AS n`, `MAX(DISTINCT t.x)`. */
const COLUMN = new RegExp(`^(?:(?:${IDENT}\\.)?\\*|(?:${IDENT}|${CALL})(?:\\s+AS\\s+${PART})?)$`, "i");
const ORDER_TERM = new RegExp(`^${IDENT}(?:\\s+(?:ASC|DESC))?$`, "i");

interface WherePart {
  sql: string;
  params: unknown[];
  /** Written by hand: parenthesised when AND-ed with others, since it may contain OR. */
  raw: boolean;
}

interface BaseState {
  table: string | undefined;
  placeholder: PlaceholderFormat;
}

abstract class BaseBuilder<State extends BaseState> {
  protected readonly state: State;

  constructor(state: State) {
    this.state = state;
  }

  /** Placeholder style of the rendered SQL: `?` (default; what taskrt's drivers take), `$1`, `@p1`, `:1`. */
  placeholder(format: PlaceholderFormat): this {
    if (!PLACEHOLDER_FORMATS.includes(format)) {
      throw builderError(`unknown placeholder format ${JSON.stringify(format)}: expected one of ${PLACEHOLDER_FORMATS.join(", ")}`);
    }
    return this.with({ placeholder: format } as Partial<State>);
  }

  toSql(): SqlStatement {
    return this.finish(false);
  }

  /** Binds the statement to a database or transaction; the SQL is rendered (and checked) now. */
  runWith(target: RunTarget): BoundStatement {
    if (typeof target?.query !== "function" || typeof target.execute !== "function") {
      throw builderError("runWith needs a database or transaction (from sql.get or db.transaction)");
    }
    const statement = this.finish((target.type?.() ?? target.dialect) === "sqlite");
    return {
      query: () => target.query(statement.sql, statement.params),
      exec: () => target.execute(statement.sql, statement.params),
      toSql: () => ({ sql: statement.sql, params: [...statement.params] }),
    };
  }

  protected with(patch: Partial<State>): this {
    const Builder = this.constructor as new (state: State) => this;
    return new Builder({ ...this.state, ...patch });
  }

  protected requireTable(verb: string, fix: string): string {
    if (this.state.table === undefined) throw builderError(`${verb} needs a table: ${fix}`);
    return this.state.table;
  }

  /** `forSqlite`: SQLite accepts OFFSET only after a LIMIT. */
  protected abstract render(forSqlite: boolean): SqlStatement;

  private finish(forSqlite: boolean): SqlStatement {
    const statement = this.render(forSqlite);
    return { sql: numberPlaceholders(statement.sql, this.state.placeholder), params: statement.params };
  }
}

interface FilteredState extends BaseState {
  where: readonly WherePart[];
}

abstract class FilteredBuilder<State extends FilteredState> extends BaseBuilder<State> {
  /** AND-ed with earlier conditions. `{a: 1, b: null, c: [1, 2]}` → `a = ? AND b IS NULL AND c IN (?, ?)`. */
  where(condition: WhereCondition, ...args: unknown[]): this {
    return this.with({ where: [...this.state.where, ...whereParts(condition, args)] } as unknown as Partial<State>);
  }

  protected renderWhere(params: unknown[]): string {
    const parts = this.state.where;
    if (parts.length === 0) return "";
    const clauses = parts.map((part) => {
      params.push(...part.params);
      return part.raw && parts.length > 1 ? `(${part.sql})` : part.sql;
    });
    return ` WHERE ${clauses.join(" AND ")}`;
  }
}

interface SelectState extends FilteredState {
  columns: readonly string[];
  orderBy: readonly string[];
  limit: number | undefined;
  offset: number | undefined;
}

export class SelectBuilder extends FilteredBuilder<SelectState> {
  columns(...columns: string[]): this {
    return this.with({ columns: [...this.state.columns, ...columns.map(checkColumn)] });
  }

  from(table: string): this {
    return this.with({ table: checkIdentifier(table, "table name") });
  }

  /** `orderBy("name ASC", "id DESC")` or `orderBy("name ASC, id DESC")`; each term `identifier [ASC|DESC]`. */
  orderBy(...terms: string[]): this {
    const checked = terms.flatMap((term) => term.split(",")).map((term) => checkOrderTerm(term.trim()));
    return this.with({ orderBy: [...this.state.orderBy, ...checked] });
  }

  limit(count: number): this {
    return this.with({ limit: checkCount(count, "limit") });
  }

  offset(count: number): this {
    return this.with({ offset: checkCount(count, "offset") });
  }

  protected render(forSqlite: boolean): SqlStatement {
    const params: unknown[] = [];
    const { columns, table, orderBy, limit, offset } = this.state;
    let sql = `SELECT ${columns.length > 0 ? columns.join(", ") : "*"}`;
    if (table !== undefined) sql += ` FROM ${table}`;
    sql += this.renderWhere(params);
    if (orderBy.length > 0) sql += ` ORDER BY ${orderBy.join(", ")}`;
    if (limit !== undefined) sql += ` LIMIT ${limit}`;
    else if (offset !== undefined && forSqlite) sql += " LIMIT -1";
    if (offset !== undefined) sql += ` OFFSET ${offset}`;
    return { sql, params };
  }
}

interface InsertState extends BaseState {
  columns: readonly string[];
  rows: readonly (readonly unknown[])[];
  returning: readonly string[];
}

export class InsertBuilder extends BaseBuilder<InsertState> {
  into(table: string): this {
    return this.with({ table: checkIdentifier(table, "table name") });
  }

  columns(...columns: string[]): this {
    return this.with({ columns: [...this.state.columns, ...columns.map((column) => checkIdentifier(column, "column name"))] });
  }

  /** One row per call. */
  values(...values: unknown[]): this {
    if (values.length === 0) throw builderError("values() needs at least one value");
    return this.with({ rows: [...this.state.rows, values] });
  }

  /** Columns and one row from an object's keys and values; keys whose value is `undefined` are left out, as JSON does. */
  setMap(map: Record<string, unknown>): this {
    const entries = definedEntries(map, "setMap");
    return this.with({ columns: entries.map(([column]) => column), rows: [entries.map(([, value]) => value)] });
  }

  returning(...columns: string[]): this {
    return this.with({ returning: [...this.state.returning, ...columns.map(checkColumn)] });
  }

  protected render(): SqlStatement {
    const table = this.requireTable("insert", 'use insert("name") or .into("name")');
    const { columns, rows, returning } = this.state;
    if (rows.length === 0) throw builderError(`insert into ${table} has no values: call .values(…) or .setMap({…})`);
    const width = columns.length > 0 ? columns.length : rows[0].length;
    rows.forEach((row, index) => {
      if (row.length !== width) {
        const expected = columns.length > 0 ? `${width} columns were named` : `row 1 has ${width}`;
        throw builderError(`insert into ${table}: row ${index + 1} has ${row.length} values but ${expected}`);
      }
    });
    const tuple = `(${new Array(width).fill("?").join(", ")})`;
    let sql = `INSERT INTO ${table}`;
    if (columns.length > 0) sql += ` (${columns.join(", ")})`;
    sql += ` VALUES ${rows.map(() => tuple).join(", ")}`;
    if (returning.length > 0) sql += ` RETURNING ${returning.join(", ")}`;
    return { sql, params: rows.flat() };
  }
}

interface UpdateState extends FilteredState {
  assignments: readonly (readonly [string, unknown])[];
  returning: readonly string[];
}

export class UpdateBuilder extends FilteredBuilder<UpdateState> {
  table(table: string): this {
    return this.with({ table: checkIdentifier(table, "table name") });
  }

  /** Setting a column again replaces its earlier value. `undefined` binds as NULL. */
  set(column: string, value: unknown): this {
    return this.with({ assignments: assign(this.state.assignments, [[checkIdentifier(column, "column name"), value]]) });
  }

  /** Keys whose value is `undefined` are left out, as JSON does: a missing field is not a NULL. */
  setMap(map: Record<string, unknown>): this {
    return this.with({ assignments: assign(this.state.assignments, definedEntries(map, "setMap")) });
  }

  returning(...columns: string[]): this {
    return this.with({ returning: [...this.state.returning, ...columns.map(checkColumn)] });
  }

  protected render(): SqlStatement {
    const table = this.requireTable("update", 'use update("name") or .table("name")');
    const { assignments, returning } = this.state;
    if (assignments.length === 0) throw builderError(`update of ${table} sets nothing: call .set(column, value) or .setMap({…})`);
    const params = assignments.map(([, value]) => value);
    let sql = `UPDATE ${table} SET ${assignments.map(([column]) => `${column} = ?`).join(", ")}`;
    sql += this.renderWhere(params);
    if (returning.length > 0) sql += ` RETURNING ${returning.join(", ")}`;
    return { sql, params };
  }
}

interface DeleteState extends FilteredState {
  returning: readonly string[];
}

export class DeleteBuilder extends FilteredBuilder<DeleteState> {
  from(table: string): this {
    return this.with({ table: checkIdentifier(table, "table name") });
  }

  returning(...columns: string[]): this {
    return this.with({ returning: [...this.state.returning, ...columns.map(checkColumn)] });
  }

  /** Without `where` every row goes, as in Wippy. */
  protected render(): SqlStatement {
    const table = this.requireTable("delete", 'use delete("name") or .from("name")');
    const params: unknown[] = [];
    let sql = `DELETE FROM ${table}${this.renderWhere(params)}`;
    if (this.state.returning.length > 0) sql += ` RETURNING ${this.state.returning.join(", ")}`;
    return { sql, params };
  }
}

function optionalTable(table: string | undefined): string | undefined {
  return table === undefined ? undefined : checkIdentifier(table, "table name");
}

export const builder = {
  select(...columns: string[]): SelectBuilder {
    return new SelectBuilder({ table: undefined, placeholder: "question", where: [], columns: columns.map(checkColumn), orderBy: [], limit: undefined, offset: undefined });
  },
  insert(table?: string): InsertBuilder {
    return new InsertBuilder({ table: optionalTable(table), placeholder: "question", columns: [], rows: [], returning: [] });
  },
  update(table?: string): UpdateBuilder {
    return new UpdateBuilder({ table: optionalTable(table), placeholder: "question", where: [], assignments: [], returning: [] });
  },
  delete(table?: string): DeleteBuilder {
    return new DeleteBuilder({ table: optionalTable(table), placeholder: "question", where: [], returning: [] });
  },
};

function whereParts(condition: WhereCondition, args: unknown[]): WherePart[] {
  if (typeof condition === "string") {
    const text = condition.trim();
    if (text === "") throw builderError("where() needs a condition");
    const placeholders = countPlaceholders(text);
    if (placeholders !== args.length) {
      throw builderError(`where ${JSON.stringify(text)} has ${placeholders} placeholder${placeholders === 1 ? "" : "s"} but ${args.length} argument${args.length === 1 ? " was" : "s were"} given`);
    }
    return [{ sql: text, params: args, raw: true }];
  }
  if (condition === null || typeof condition !== "object" || Array.isArray(condition)) {
    throw builderError(`where() takes an object of column values or SQL text, got ${condition === null ? "null" : Array.isArray(condition) ? "an array" : typeof condition}`);
  }
  if (args.length > 0) throw builderError("where() with an object takes no further arguments");
  return Object.entries(condition).map(([key, value]): WherePart => {
    const column = checkIdentifier(key, "column name");
    if (value === undefined) throw builderError(`where value for column ${column} is undefined: use null for IS NULL`);
    if (value === null) return { sql: `${column} IS NULL`, params: [], raw: false };
    if (Array.isArray(value)) {
      if (value.length === 0) return { sql: "1 = 0", params: [], raw: false };
      return { sql: `${column} IN (${value.map(() => "?").join(", ")})`, params: value, raw: false };
    }
    return { sql: `${column} = ?`, params: [value], raw: false };
  });
}

function assign(current: readonly (readonly [string, unknown])[], added: readonly (readonly [string, unknown])[]): (readonly [string, unknown])[] {
  const next = current.filter(([column]) => !added.some(([name]) => name === column));
  return [...next, ...added];
}

function definedEntries(map: Record<string, unknown>, method: string): [string, unknown][] {
  if (map === null || typeof map !== "object" || Array.isArray(map)) throw builderError(`${method}() takes an object of column values`);
  return Object.entries(map)
    .filter(([, value]) => value !== undefined)
    .map(([column, value]) => [checkIdentifier(column, "column name"), value]);
}

function checkIdentifier(text: string, role: string): string {
  if (typeof text !== "string" || !IDENTIFIER.test(text)) {
    throw builderError(`invalid ${role} ${JSON.stringify(text)}: expected letters, digits and _ (dotted, or "quoted")`);
  }
  return text;
}

function checkColumn(text: string): string {
  if (typeof text !== "string" || !COLUMN.test(text.trim())) {
    throw builderError(`invalid column ${JSON.stringify(text)}: expected a column name, *, table.*, or COUNT(column) and the like, optionally AS alias`);
  }
  return text.trim();
}

function checkOrderTerm(text: string): string {
  if (!ORDER_TERM.test(text)) {
    throw builderError(`invalid order-by term ${JSON.stringify(text)}: expected a column name, optionally followed by ASC or DESC`);
  }
  return text;
}

function checkCount(count: number, method: string): number {
  if (!Number.isSafeInteger(count) || count < 0) throw builderError(`${method}() needs a whole number of 0 or more, got ${String(count)}`);
  return count;
}

/** Calls `onPlaceholder` for each `?` outside quoted strings and identifiers; returns the rewritten text. */
function scanPlaceholders(sql: string, onPlaceholder: () => string): string {
  let result = "";
  let quote: string | undefined;
  for (const character of sql) {
    if (quote) {
      if (character === quote) quote = undefined;
      result += character;
    } else if (character === "'" || character === '"') {
      quote = character;
      result += character;
    } else {
      result += character === "?" ? onPlaceholder() : character;
    }
  }
  return result;
}

function countPlaceholders(sql: string): number {
  let count = 0;
  scanPlaceholders(sql, () => (count++, "?"));
  return count;
}

function numberPlaceholders(sql: string, format: PlaceholderFormat): string {
  if (format === "question") return sql;
  const prefix = PLACEHOLDER_PREFIX[format];
  let index = 0;
  return scanPlaceholders(sql, () => `${prefix}${++index}`);
}

/** Names the running handler's entry when there is one: the builder itself needs no context. */
function builderError(message: string): TaskrtError {
  return new TaskrtError("E_SQL_BUILDER", message, { entryId: currentContext()?.entryId });
}
