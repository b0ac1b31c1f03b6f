/**
 * @module kinds/db-sql-sqlite — `db.sql.sqlite`: an embedded SQLite database, opened on start and
 * closed on stop; the component is the `SqlDatabase` that `sql.get` and `services.database` return.
 * With `writer: thread` the write connection lives on a writer thread (drivers/sql/sqlite-writer).
 */
import { parseDuration } from "../duration.ts";
import { readLifecycle } from "../lifecycle.ts";
import { SqliteDatabase, type SqliteOptions, type SqliteSynchronous } from "../drivers/sql/sqlite.ts";
import { ThreadedSqliteDatabase } from "../drivers/sql/sqlite-writer/threaded-database.ts";
import type { Component } from "../contracts/component.ts";
import { defineKind } from "../contracts/kind-definition.ts";

/** `entry.data` after validation filled the schema's defaults. */
interface SqliteEntryData {
  file: string;
  busy_timeout: string | number;
  synchronous: SqliteSynchronous;
  batch_max_transactions: number;
  batch_max_wait: string | number;
  read_connection: boolean;
  writer: "main" | "thread";
}

/** The database as a supervised service: start opens it, stop closes it (letting a transaction finish). */
export class SqliteComponent extends SqliteDatabase implements Component {
  start(): Promise<void> {
    return this.open();
  }

  stop(): Promise<void> {
    return this.close();
  }

  describe(): string {
    if (this.state !== "OPEN") return `sqlite ${this.file} (${this.state.toLowerCase()})`;
    return this.path === ":memory:" ? `sqlite ${this.file} (in memory: lost on exit)` : `sqlite ${this.file} (${this.journalMode.toUpperCase()})`;
  }
}

/** `writer: thread`: the same service, its write connection on a writer thread. */
export class ThreadedSqliteComponent extends ThreadedSqliteDatabase implements Component {
  start(): Promise<void> {
    return this.open();
  }

  stop(): Promise<void> {
    return this.close();
  }

  describe(): string {
    if (this.state !== "OPEN") return `sqlite ${this.file} (${this.writerLost ?? this.state.toLowerCase()})`;
    return this.path === ":memory:" ? `sqlite ${this.file} (in memory: lost on exit; writer thread)` : `sqlite ${this.file} (${this.journalMode.toUpperCase()}, writer thread)`;
  }
}

export default defineKind({
  kind: "db.sql.sqlite",
  summary: "Embedded SQLite database (WAL, one connection); `file` is relative to the working directory.",
  references: [],
  service: true,
  create(entry, context): SqliteComponent | ThreadedSqliteComponent {
    const data = entry.data as unknown as SqliteEntryData;
    const options: SqliteOptions = {
      id: entry.id,
      file: data.file,
      busyTimeoutMs: parseDuration(data.busy_timeout),
      synchronous: data.synchronous,
      batchMaxTransactions: data.batch_max_transactions,
      batchMaxMs: parseDuration(data.batch_max_wait),
      readConnection: data.read_connection,
      // An open transaction gets most of stop_timeout to finish; the last tenth closes the file, so
      // stop() ends within the limit the supervisor holds it to instead of racing it.
      closeTimeoutMs: readLifecycle(entry).stopTimeoutMs * 0.9,
      logger: context.logger.forEntry(entry.id),
    };
    return data.writer === "thread" ? new ThreadedSqliteComponent(options) : new SqliteComponent(options);
  },
});
