/**
 * @module kinds/queue-driver-sqlite — `queue.driver.sqlite`: the durable SQLite queue driver as a
 * supervised entry, in a file of its own or in a `db.sql.sqlite` database it shares. Its component
 * is the driver itself, which `queue.queue` entries use.
 */
import { PROBLEM_CODES, TaskrtError, type Problem } from "../errors.ts";
import { parseDuration } from "../duration.ts";
import { resolveId, type Entry } from "../registry/entry.ts";
import { SqliteQueueDriver, type SharedSqliteDatabase, type SqliteQueueStorage, type SqliteSynchronous } from "../drivers/queue/sqlite.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import { ThreadedSqliteDatabase } from "../drivers/sql/sqlite-writer/threaded-database.ts";
import { ThreadedSqliteQueueDriver } from "../drivers/sql/sqlite-writer/queue-proxy.ts";
import { defineKind } from "../contracts/kind-definition.ts";

/** `entry.data` after validation filled the schema's defaults. */
interface SqliteQueueEntryData {
  file?: string;
  db?: string;
  synchronous: SqliteSynchronous;
  busy_timeout: string | number;
  ack_timeout: string | number;
  poll_interval: string | number;
  commit_window: string | number;
}

const STORAGE_HINT = "file: the queue's own database file, e.g. ./data/queue.db; db: a db.sql.sqlite entry to share, e.g. app:db";

/** Exactly one of `file` and `db`: the schema cannot say that in words a person reads. */
export function checkStorage(entry: Entry): Problem[] {
  const { file, db } = entry.data as Partial<SqliteQueueEntryData>;
  if (file !== undefined && db !== undefined) {
    return [storageProblem(entry, "gives both file and db; a queue lives in one place: keep one of them", ["db"])];
  }
  if (file === undefined && db === undefined) {
    return [storageProblem(entry, "needs file (a database file of its own) or db (a db.sql.sqlite entry to share)", [])];
  }
  return [];
}

function storageProblem(entry: Entry, message: string, field: string[]): Problem {
  return {
    code: PROBLEM_CODES.SCHEMA,
    severity: "error",
    message,
    entryId: entry.id,
    field: field.join(".") || undefined,
    location: field.length > 0 ? entry.locate(field) : entry.location,
    hint: STORAGE_HINT,
  };
}

/**
 * The driver, or, on a database whose writer runs on a thread (`writer: thread`), a proxy for the
 * same driver created inside that thread.
 */
export function createSqliteQueueDriver(entry: Entry, context: BuildContext): SqliteQueueDriver | ThreadedSqliteQueueDriver {
  const [problem] = checkStorage(entry);
  if (problem) throw new TaskrtError(problem.code, `${entry.id} ${problem.message}`, { entryId: entry.id, hint: problem.hint, location: problem.location });
  const data = entry.data as unknown as SqliteQueueEntryData;
  if (data.db !== undefined) {
    const database = context.component<unknown>(resolveId(data.db, entry.namespace));
    if (database instanceof ThreadedSqliteDatabase) {
      return new ThreadedSqliteQueueDriver(database, {
        driverId: entry.id,
        ackTimeoutMs: parseDuration(data.ack_timeout),
        pollIntervalMs: parseDuration(data.poll_interval),
        commitWindowMs: parseDuration(data.commit_window),
      });
    }
  }
  const storage: SqliteQueueStorage =
    data.file !== undefined
      ? { file: data.file, synchronous: data.synchronous, busyTimeoutMs: parseDuration(data.busy_timeout) }
      : { database: sharedDatabase(entry, resolveId(data.db!, entry.namespace), context) };
  return new SqliteQueueDriver({
    id: entry.id,
    storage,
    ackTimeoutMs: parseDuration(data.ack_timeout),
    pollIntervalMs: parseDuration(data.poll_interval),
    commitWindowMs: parseDuration(data.commit_window),
    logger: context.logger.forEntry(entry.id),
  });
}

function sharedDatabase(entry: Entry, databaseId: string, context: BuildContext): SharedSqliteDatabase {
  const database = context.component<Partial<SharedSqliteDatabase>>(databaseId);
  if (typeof database.raw !== "function" || typeof database.currentTransaction !== "function" || typeof database.transaction !== "function") {
    throw new TaskrtError("E_QUEUE_STORAGE", `${entry.id}: db ${databaseId} is not a SQLite database the queue can share (it offers no raw() connection)`, {
      entryId: entry.id,
      location: entry.locate(["db"]),
      hint: "point db at a db.sql.sqlite entry, or give the queue a file of its own",
    });
  }
  return database as SharedSqliteDatabase;
}

export default defineKind({
  kind: "queue.driver.sqlite",
  summary: "Durable, embedded queue driver on SQLite: its own file, or a table in the app's db.sql.sqlite database",
  references: [{ path: ["db"], kinds: ["db.sql.sqlite"] }],
  service: true,
  check: checkStorage,
  create: createSqliteQueueDriver,
});
