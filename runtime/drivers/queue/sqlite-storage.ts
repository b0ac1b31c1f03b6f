/**
 * @module drivers/queue/sqlite-storage — where the SQLite queue keeps its table: a file of its own
 * (opened here with WAL, a busy timeout and the chosen `synchronous`) or the app's database.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import type BetterSqlite3 from "better-sqlite3";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { SqlDatabase } from "../sql/driver.ts";

/** Error codes a caller can branch on; shared with the memory driver where the meaning is the same. */
export const SQLITE_QUEUE_ERROR = {
  STOPPED: "E_QUEUE_STOPPED",
  STORAGE: "E_QUEUE_STORAGE",
  INVALID_MESSAGE: "E_INVALID_MESSAGE",
  ALREADY_SETTLED: "E_ALREADY_SETTLED",
  PREFETCH: "E_QUEUE_PREFETCH",
  OPTIONS: "E_QUEUE_OPTIONS",
} as const;

/**
 * The app database the driver can share: the SQL contract, its synchronous better-sqlite3
 * connection, and a notification after each COMMIT of its transaction batches.
 */
export interface SharedSqliteDatabase extends SqlDatabase {
  raw(): BetterSqlite3.Database;
  /** Calls `listener` after every batch COMMIT; returns the function that unsubscribes. */
  onCommit(listener: () => void): () => void;
}

export type SqliteSynchronous = "OFF" | "NORMAL" | "FULL" | "EXTRA";

export type SqliteQueueStorage =
  | { file: string; synchronous: SqliteSynchronous; busyTimeoutMs: number }
  | { database: SharedSqliteDatabase };

/** The connection the driver runs on. Its own file is opened here; a shared database lends its own. */
export function openQueueConnection(driverId: string, storage: SqliteQueueStorage): BetterSqlite3.Database {
  if ("database" in storage) {
    try {
      return storage.database.raw();
    } catch (cause) {
      throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${driverId} cannot use database ${storage.database.id}: ${errorMessage(cause)}`, {
        entryId: driverId,
        hint: `the database ${storage.database.id} must be started before the queue driver`,
        cause,
      });
    }
  }
  let connection: BetterSqlite3.Database | undefined;
  try {
    if (storage.file !== ":memory:") mkdirSync(dirname(resolve(storage.file)), { recursive: true });
    connection = new Database(storage.file);
    connection.pragma("journal_mode = WAL");
    connection.pragma(`busy_timeout = ${Math.round(storage.busyTimeoutMs)}`);
    connection.pragma(`synchronous = ${storage.synchronous}`);
    return connection;
  } catch (cause) {
    connection?.close();
    throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${driverId} cannot open ${storage.file}: ${errorMessage(cause)}`, {
      entryId: driverId,
      hint: "check that the path names a writable folder and that the file is an SQLite database",
      cause,
    });
  }
}

/** For messages: `./data/queue.db` or `database app:db`. */
export function describeStorage(storage: SqliteQueueStorage): string {
  return "file" in storage ? storage.file : `database ${storage.database.id}`;
}
