/**
 * @module drivers/sql/sqlite-statements — runs statements on one connection, each prepared once per
 * SQL text (least recently used dropped first) and kept with what the driver needs to know about it.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { ExecResult, SqlRow } from "./driver.ts";
import { sqlError, transactionControlError } from "./sqlite-errors.ts";
import { bindParameters } from "./sqlite-parameters.ts";

/** Enough for every distinct statement of an application; a hit costs two Map operations. */
export const STATEMENT_CACHE_SIZE = 200;

/** Whitespace and comments before the first keyword. */
const LEADING = String.raw`(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*`;
/** INSERT or REPLACE, possibly after comments or a WITH clause: only these report lastInsertId. */
const INSERTS = new RegExp(String.raw`^${LEADING}(?:INSERT|REPLACE|WITH\b[\s\S]*\b(?:INSERT|REPLACE))\b`, "i");
/** Statements that end (or begin) a whole transaction; ROLLBACK TO only undoes a savepoint. */
const TRANSACTION_CONTROL = new RegExp(String.raw`^${LEADING}(BEGIN|COMMIT|END|ROLLBACK(?!\s+(?:TRANSACTION\s+)?TO\b))\b`, "i");
/** Statements that may only read; the statement's own `readonly` flag has the last word. */
const READS = new RegExp(String.raw`^${LEADING}(?:SELECT|VALUES|WITH)\b`, "i");
/**
 * Writes that must not run inside a transaction (VACUUM, ATTACH, DETACH, a PRAGMA such as
 * journal_mode or foreign_keys, which fail or do nothing there), that start or end one themselves,
 * or that would end a whole shared batch on a conflict (OR ROLLBACK): they run on their own.
 */
const OWN_TRANSACTION = new RegExp(String.raw`^${LEADING}(?:PRAGMA|VACUUM|ATTACH|DETACH|BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b|\bOR\s+ROLLBACK\b`, "i");
/** Functions whose answer belongs to the connection that runs them, not to the database. */
const CONNECTION_STATE = /\b(?:last_insert_rowid|changes|total_changes)\s*\(/i;

export interface CachedStatement {
  statement: BetterSqlite3.Statement;
  inserts: boolean;
  /** BEGIN, COMMIT, END or ROLLBACK as written, upper-cased; refused inside `transaction()`. */
  transactionControl: string | undefined;
  /** A query any connection to the file answers alike: a second, read-only connection may run it. */
  portableRead: boolean;
  /** A write that can run as a one-statement transaction inside a group-commit batch. */
  joinsBatch: boolean;
}

const NO_ROWS: SqlRow[] = [];

export class ConnectionStatements {
  readonly #connection: BetterSqlite3.Database;
  readonly #id: string;
  readonly #file: string;
  readonly #statements = new Map<string, CachedStatement>();

  /** `id` and `file` name the database in errors. */
  constructor(connection: BetterSqlite3.Database, id: string, file: string) {
    this.#connection = connection;
    this.#id = id;
    this.#file = file;
  }

  get size(): number {
    return this.#statements.size;
  }

  /** The cached statement for `sql`, prepared on first use; throws what better-sqlite3 throws. */
  prepare(sql: string): CachedStatement {
    const statements = this.#statements;
    let cached = statements.get(sql);
    if (cached) {
      statements.delete(sql);
      statements.set(sql, cached);
      return cached;
    }
    const statement = this.#connection.prepare(sql);
    cached = {
      statement,
      inserts: INSERTS.test(sql),
      transactionControl: TRANSACTION_CONTROL.exec(sql)?.[1].toUpperCase(),
      portableRead: statement.reader && statement.readonly && READS.test(sql) && !CONNECTION_STATE.test(sql),
      joinsBatch: !statement.readonly && !OWN_TRANSACTION.test(sql),
    };
    if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
    statements.set(sql, cached);
    return cached;
  }

  /**
   * Whether `sql` is a write that may join a batch. False when it cannot be prepared (several
   * statements, a syntax error, a table not created yet): it then runs on its own, which reports
   * the error or runs the script as before.
   */
  joinsBatch(sql: string): boolean {
    try {
      return this.prepare(sql).joinsBatch;
    } catch {
      return false;
    }
  }

  /** A statement of the driver's own (BEGIN, SAVEPOINT, COMMIT …), without parameters. */
  run(statement: string): void {
    try {
      this.prepare(statement).statement.run();
    } catch (error) {
      throw sqlError(this.#id, this.#file, error);
    }
  }

  /** `inTransaction`: refuse statements that would end the transaction the caller runs inside. */
  query(sql: string, params: readonly unknown[] | undefined, inTransaction: boolean): SqlRow[] {
    const values = bindParameters(this.#id, params);
    try {
      const cached = this.prepare(sql);
      if (inTransaction && cached.transactionControl) throw transactionControlError(this.#id, cached.transactionControl);
      if (cached.statement.reader) return cached.statement.all(values) as SqlRow[];
      cached.statement.run(values);
      return NO_ROWS;
    } catch (error) {
      throw sqlError(this.#id, this.#file, error);
    }
  }

  execute(sql: string, params: readonly unknown[] | undefined, inTransaction: boolean): ExecResult {
    const values = bindParameters(this.#id, params);
    try {
      let cached: CachedStatement;
      try {
        cached = this.prepare(sql);
      } catch (error) {
        if (values.length === 0 && isMultipleStatements(error)) return this.#script(sql);
        throw error;
      }
      if (inTransaction && cached.transactionControl) throw transactionControlError(this.#id, cached.transactionControl);
      const info = cached.statement.run(values);
      return { lastInsertId: cached.inserts && info.changes > 0 ? Number(info.lastInsertRowid) : null, rowsAffected: info.changes };
    } catch (error) {
      throw sqlError(this.#id, this.#file, error);
    }
  }

  /** Several statements without parameters (a migration): run as one script, not cached. */
  #script(sql: string): ExecResult {
    const totalChanges = this.#connection.prepare("SELECT total_changes()").pluck();
    const before = totalChanges.get() as number;
    this.#connection.exec(sql);
    return { lastInsertId: null, rowsAffected: (totalChanges.get() as number) - before };
  }
}

/** better-sqlite3 refuses to prepare several statements at once; `exec` runs them as a script. */
function isMultipleStatements(error: unknown): boolean {
  return error instanceof RangeError && error.message.includes("more than one statement");
}
