import { after } from "node:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { queueDriverContract } from "../../queue/contract.ts";
import { ThreadedSqliteDatabase } from "./threaded-database.ts";
import { ThreadedSqliteQueueDriver } from "./queue-proxy.ts";
import type { Component } from "../../../contracts/component.ts";
import type { QueueDriver } from "../../queue/driver.ts";

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-sqlite-writer-queue-"));
const opened: ThreadedSqliteDatabase[] = [];
after(async () => {
  await Promise.all(opened.map((database) => database.close()));
  fs.rmSync(temporaryRoot, { recursive: true, force: true });
});
let counter = 0;

/** One writer thread for the file, as in an app; each contract case gets a fresh file. */
async function threadedDriver(): Promise<QueueDriver & Component> {
  const database = new ThreadedSqliteDatabase({ id: "app:db", file: path.join(temporaryRoot, `case-${++counter}.db`), busyTimeoutMs: 1000, synchronous: "NORMAL", closeTimeoutMs: 2000 });
  await database.open();
  opened.push(database);
  return new ThreadedSqliteQueueDriver(database, { driverId: "app:queue_driver", ackTimeoutMs: 30_000, pollIntervalMs: 200, commitWindowMs: 0 });
}

queueDriverContract("sqlite, in a database on a writer thread", threadedDriver, { durable: true });
