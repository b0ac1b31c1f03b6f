import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
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
  return threadedProxy();
}

async function threadedProxy(): Promise<ThreadedSqliteQueueDriver> {
  const database = new ThreadedSqliteDatabase({ id: "app:db", file: path.join(temporaryRoot, `case-${++counter}.db`), busyTimeoutMs: 1000, synchronous: "NORMAL", closeTimeoutMs: 2000 });
  await database.open();
  opened.push(database);
  return new ThreadedSqliteQueueDriver(database, { driverId: "app:queue_driver", ackTimeoutMs: 30_000, pollIntervalMs: 200, commitWindowMs: 0 });
}

queueDriverContract("sqlite, in a database on a writer thread", threadedDriver, { durable: true });

describe("sqlite queue on a writer thread", () => {
  test("a publish inside a transaction of the database joins it: rolled back with it, committed with it", async () => {
    const driver = (await threadedDriver()) as ThreadedSqliteQueueDriver;
    const database = opened.at(-1)!;
    await driver.start();
    try {
      await assert.rejects(
        database.transaction(async () => {
          await driver.publish("jobs", { n: 1 }, {});
          throw new Error("the handler failed");
        }),
        /the handler failed/,
      );
      assert.equal((await driver.stats("jobs")).ready, 0);
      const id = await database.transaction(() => driver.publish("jobs", { n: 2 }, {}));
      assert.equal((await driver.stats("jobs")).ready, 1);
      assert.equal(typeof id, "string");
    } finally {
      await driver.stop();
    }
  });

  test("when the writer thread dies, calls in flight and later ones are refused with E_DB_UNAVAILABLE naming the database", async () => {
    const driver = (await threadedDriver()) as ThreadedSqliteQueueDriver;
    const database = opened.at(-1)!;
    await driver.start();
    const publishes = Array.from({ length: 20 }, (_, n) => driver.publish("jobs", { n }, {}).then(
      () => "published",
      (error: { code?: string; message: string }) => {
        assert.equal(error.code, "E_DB_UNAVAILABLE");
        assert.match(error.message, /^database app:db is unavailable: its writer thread exited/);
        return "refused";
      },
    ));
    await database.terminateWriter();
    const outcomes = await Promise.all(publishes);
    assert.ok(outcomes.every((outcome) => outcome === "published" || outcome === "refused"));
    await assert.rejects(driver.stats("jobs"), { code: "E_DB_UNAVAILABLE" });
  });
});
