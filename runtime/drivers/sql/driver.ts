/**
 * @module drivers/sql/driver — the async SQL contract every database driver implements.
 * SQLite answers synchronously underneath; callers still await, so PostgreSQL drops in unchanged.
 */
import { TaskrtError } from "../../errors.ts";

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
  /**
   * Runs `statements` as one transaction, resolving to their results once it committed. Offered
   * where it is cheaper than `transaction()` (a database on a writer thread: one message); the `sql`
   * module's `batch` falls back to a transaction elsewhere.
   */
  batch?(steps: readonly BatchStep[]): Promise<ExecResult[]>;
  open(): Promise<void>;
  close(): Promise<void>;
}

/** One statement of a batch. */
export interface BatchStatement {
  sql: string;
  params?: readonly unknown[];
}

/**
 * A call on a queue driver that stores in the batch's database, run inside its transaction (a
 * publish): what a driver proxy hands the database it shares (see drivers/sql/sqlite-writer).
 */
export interface BatchQueueStep {
  queue: { driverId: string; method: string; args: unknown[] };
}

export type BatchStep = BatchStatement | BatchQueueStep;

/** Every driver's answer to a statement on a database that is not open. */
export function notOpenError(id: string): TaskrtError {
  return new TaskrtError("E_DB_UNAVAILABLE", `database ${id} is not open`, {
    entryId: id,
    hint: `start ${id} before using it (lifecycle.auto_start, or list it in the user's lifecycle.requires)`,
  });
}

/** Every driver's answer to a statement on a transaction that has already committed or rolled back. */
export function transactionFinishedError(id: string): TaskrtError {
  return new TaskrtError("E_TX_FINISHED", `transaction on ${id} is already finished`, {
    entryId: id,
    hint: "use the transaction only inside the function passed to transaction(), and await every statement before it returns",
  });
}

/** Error codes a caller can branch on. */
export const SQL_ERROR = {
  UNAVAILABLE: "E_DB_UNAVAILABLE",
  QUERY: "E_SQL",
  CONSTRAINT: "E_SQL_CONSTRAINT",
} as const;
