/**
 * @module bench/lib/disk-probe — how many fsync'd SQLite commits per second the disk takes right
 * now (WAL, synchronous FULL, one small row per commit): every durable figure is bounded by it,
 * and it drops sharply when other work on the machine writes to the same disk.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

export function measureCommitRate(folder: string, durationMs = 500): number {
  const file = path.join(folder, "disk-probe.db");
  const remove = (): void => {
    for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true });
  };
  remove();
  const database = new Database(file);
  try {
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = FULL");
    database.exec("CREATE TABLE probe (id INTEGER PRIMARY KEY, value TEXT NOT NULL)");
    const insert = database.prepare("INSERT INTO probe (value) VALUES (?)");
    let commits = 0;
    const started = performance.now();
    while (performance.now() - started < durationMs) {
      insert.run("x".repeat(100));
      commits++;
    }
    return (commits / (performance.now() - started)) * 1000;
  } finally {
    database.close();
    remove();
  }
}
