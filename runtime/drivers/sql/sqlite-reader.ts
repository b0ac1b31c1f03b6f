/**
 * @module drivers/sql/sqlite-reader — a second, read-only connection to a WAL database file, which
 * answers reads from outside any transaction while the main connection is busy with a transaction:
 * a WAL reader sees the last committed state at once, never the open transaction's writes.
 */
import BetterSqlite3 from "better-sqlite3";
import type { SqlRow } from "./driver.ts";
import { sqlError } from "./sqlite-errors.ts";
import { ConnectionStatements } from "./sqlite-statements.ts";

export class SqliteReader {
  readonly #id: string;
  readonly #file: string;
  readonly #connection: BetterSqlite3.Database;
  readonly #statements: ConnectionStatements;

  /** Throws what better-sqlite3 throws; the main connection has the file open already, so it rarely does. */
  constructor(id: string, file: string, busyTimeoutMs: number) {
    this.#id = id;
    this.#file = file;
    this.#connection = new BetterSqlite3(file, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    this.#statements = new ConnectionStatements(this.#connection, id, file);
  }

  /**
   * The rows of `sql`, or undefined when only the main connection may run it: it may write, its
   * answer depends on the connection, or it names something only the main connection sees yet
   * (a table created in the open transaction, a temporary table, a function registered there).
   */
  tryQuery(sql: string, values: readonly unknown[]): SqlRow[] | undefined {
    let portable: BetterSqlite3.Statement | undefined;
    try {
      const cached = this.#statements.prepare(sql);
      if (cached.portableRead) portable = cached.statement;
    } catch {
      // Not lost: the main connection prepares the same SQL after the transaction and reports its error.
      return undefined;
    }
    if (!portable) return undefined;
    try {
      return portable.all(values) as SqlRow[];
    } catch (error) {
      throw sqlError(this.#id, this.#file, error);
    }
  }

  close(): void {
    this.#connection.close();
  }
}
