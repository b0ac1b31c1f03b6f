/**
 * @module bench/lib/sqlite-progress — watches another process's SQLite database from outside,
 * read-only: waits until a count reaches a target, and reads the span of completion times.
 */
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import type { RunningProcess } from "./processes.ts";

export interface CountWatch {
  file: string;
  /** A query returning one row with one number. */
  countSql: string;
  target: number;
  /** The process doing the work: its exit ends the wait with its output. */
  worker: RunningProcess;
  timeoutMs: number;
}

/** Resolves with performance.now() at the first poll that saw the count reach the target. */
export async function waitForCount(watch: CountWatch): Promise<number> {
  const deadline = performance.now() + watch.timeoutMs;
  let database: Database.Database | undefined;
  let last = 0;
  try {
    while (performance.now() < deadline) {
      if (watch.worker.exited) throw watch.worker.failure(`exited with ${last} of ${watch.target} done`);
      database ??= openReadOnly(watch.file);
      if (database) {
        last = countOrZero(database, watch.countSql);
        if (last >= watch.target) return performance.now();
      }
      await sleep(20);
    }
  } finally {
    database?.close();
  }
  throw watch.worker.failure(`only ${last} of ${watch.target} done after ${watch.timeoutMs} ms`);
}

/** The one row of numbers a read-only query returns (the database must exist). */
export function readNumbers(file: string, sql: string): Record<string, number> {
  const database = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return database.prepare(sql).get() as Record<string, number>;
  } finally {
    database.close();
  }
}

/** 0 while the worker has not created the table yet. */
function countOrZero(database: Database.Database, sql: string): number {
  try {
    return Number(database.prepare(sql).pluck().get());
  } catch (error) {
    if (error instanceof Error && error.message.includes("no such table")) return 0;
    throw error;
  }
}

/** The database may not exist yet, or may still be creating its tables. */
function openReadOnly(file: string): Database.Database | undefined {
  try {
    return new Database(file, { readonly: true, fileMustExist: true });
  } catch {
    return undefined;
  }
}
