/**
 * @module drivers/sql/sqlite-connection — opens the driver's connection to a database file (its
 * folder created, WAL, busy timeout, synchronous, foreign keys) and, on a WAL file, the read-only
 * connection beside it.
 */
import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { errorMessage } from "../../errors.ts";
import { cannotOpenError, diagnoseOpenFailure } from "./sqlite-errors.ts";
import { SqliteReader } from "./sqlite-reader.ts";

export type SqliteSynchronous = "OFF" | "NORMAL" | "FULL" | "EXTRA";

const SYNCHRONOUS_LEVELS: Record<SqliteSynchronous, number> = { OFF: 0, NORMAL: 1, FULL: 2, EXTRA: 3 };

export interface ConnectionSettings {
  id: string;
  /** Absolute path, or ":memory:". */
  path: string;
  busyTimeoutMs: number;
  synchronous: SqliteSynchronous;
  readConnection: boolean;
  /** Checks of the driver's other options, run before anything is kept open; throws to refuse. */
  check(): void;
}

export interface OpenedConnection {
  connection: BetterSqlite3.Database;
  /** `wal` on a file, `memory` for ":memory:". */
  journalMode: string;
  reader: SqliteReader | undefined;
}

/** Throws E_DB_UNAVAILABLE naming the file and the reason; nothing stays open after a failure. */
export function openConnection(settings: ConnectionSettings): OpenedConnection {
  const { id, path: file } = settings;
  if (file !== ":memory:") {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
    } catch (error) {
      throw cannotOpenError(id, file, `cannot create its folder: ${errorMessage(error)}`, error);
    }
  }
  let connection: BetterSqlite3.Database;
  try {
    connection = new BetterSqlite3(file, { timeout: settings.busyTimeoutMs });
  } catch (error) {
    throw cannotOpenError(id, file, diagnoseOpenFailure(file, error), error);
  }
  try {
    const level = SYNCHRONOUS_LEVELS[settings.synchronous];
    if (level === undefined) throw new Error(`synchronous must be one of OFF, NORMAL, FULL, EXTRA, got ${JSON.stringify(settings.synchronous)}`);
    settings.check();
    const journalMode = String(connection.pragma("journal_mode = WAL", { simple: true }));
    connection.pragma(`synchronous = ${level}`);
    connection.pragma("foreign_keys = ON");
    // Only WAL lets a second connection read the committed state while the first one writes.
    const reader = journalMode === "wal" && settings.readConnection ? new SqliteReader(id, file, settings.busyTimeoutMs) : undefined;
    return { connection, journalMode, reader };
  } catch (error) {
    connection.close();
    throw cannotOpenError(id, file, errorMessage(error), error);
  }
}
