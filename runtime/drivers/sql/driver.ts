/**
 * @module drivers/sql/driver — the async SQL contract every database driver implements.
 * SQLite answers synchronously underneath; callers still await, so PostgreSQL drops in unchanged.
 */

export type SqlValue = string | number | bigint | boolean | null | Uint8Array;
export type SqlRow = Record<string, unknown>;

export interface ExecResult {
  lastInsertId: number | null;
  rowsAffected: number;
}

/** Something queries run on: a database or an open transaction. Placeholders are `?`. */
export interface SqlExecutor {
  readonly dialect: SqlDialect;
  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]>;
  execute(sql: string, params?: readonly unknown[]): Promise<ExecResult>;
}

export type SqlDialect = "sqlite" | "postgres";

export interface SqlDatabase extends SqlExecutor {
  readonly id: string;
  /**
   * Runs `fn` in one transaction: commit when it resolves, roll back when it throws. While it runs,
   * other callers' statements wait, so they never land inside it by accident.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** The transaction open in the current async context on this database, if any. */
  currentTransaction(): SqlExecutor | undefined;
  open(): Promise<void>;
  close(): Promise<void>;
}

/** Error codes a caller can branch on. */
export const SQL_ERROR = {
  UNAVAILABLE: "E_DB_UNAVAILABLE",
  QUERY: "E_SQL",
  CONSTRAINT: "E_SQL_CONSTRAINT",
} as const;
