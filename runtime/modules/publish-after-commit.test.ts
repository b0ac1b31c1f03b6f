import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncResource } from "node:async_hooks";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { queue } from "./queue.ts";
import { sql } from "./sql.ts";
import { runInContext, type CallContext } from "./context.ts";
import queueKind, { type QueueEntry } from "../kinds/queue-queue.ts";
import driverKind from "../kinds/queue-driver-memory.ts";
import type { Delivery } from "../drivers/queue/driver.ts";
import type { MemoryQueueDriver } from "../drivers/queue/memory.ts";
import { SqliteDatabase } from "../drivers/sql/sqlite.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { buildContext, registryFrom } from "../../test/support/registry.ts";
import { waitUntil } from "../../test/support/wait.ts";

// A memory queue's room is made by its consumers, whose writes go through the same database
// commit as the publishing transaction. A publish that waited for room inside the transaction held
// that commit: a deadlock that only publish_timeout ended. The publish is now admitted after the
// commit, so these registries wait for room as long as it takes (publish_timeout 0).
const REGISTRY = await registryFrom(`
  - name: db
    kind: db.sql.sqlite
    file: ":memory:"
  - name: driver
    kind: queue.driver.memory
    max_length: 1
    publish_timeout: 0
  - name: tasks
    kind: queue.queue
    driver: app:driver
`);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-after-commit-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

async function setup() {
  const { logger } = captureLogger();
  const components = new Map<string, unknown>();
  const build = buildContext(REGISTRY, components, logger);
  const db = new SqliteDatabase({ id: "app:db", file: path.join(scratch, `${Math.random().toString(36).slice(2)}.db`), busyTimeoutMs: 5000, synchronous: "FULL", closeTimeoutMs: 1000 });
  await db.open();
  await db.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT NOT NULL)");
  const driver = driverKind.create(REGISTRY.byId.get("app:driver")!, build) as MemoryQueueDriver;
  components.set("app:db", db);
  components.set("app:driver", driver);
  const tasks = queueKind.create(REGISTRY.byId.get("app:tasks")!, build) as QueueEntry;
  components.set("app:tasks", tasks);
  const context: CallContext = { entryId: "app:create_task", modules: new Set(["queue", "sql"]), services: build.services, logger };
  const run = <T>(fn: () => T): T => runInContext(context, fn);
  /** POST /tasks as the app does it: the row and its message in one transaction. */
  const createTask = (id: string, fail = false) =>
    run(async () => {
      const handle = await sql.get("app:db");
      try {
        return await handle.transaction(async (tx) => {
          await tx.execute("INSERT INTO tasks (id, status) VALUES (?, 'queued')", [id]);
          const messageId = await queue.publish("app:tasks", { id });
          if (fail) throw new Error("the handler failed after publishing");
          return messageId;
        });
      } finally {
        handle.release();
      }
    });
  return { db, driver, tasks, createTask, close: () => db.close() };
}

describe("a publish to a full memory queue inside a transaction", () => {
  test("returns its id at once, commits, and only then waits for room: the consumers' writes go through meanwhile", async () => {
    const { db, driver, tasks, createTask, close } = await setup();
    try {
      await createTask("first"); // fills the queue (max_length 1)
      let secondSettled = false;
      const second = createTask("second").finally(() => (secondSettled = true));

      // The second transaction committed although its message has no room yet.
      await waitUntil(async () => (await db.query("SELECT id FROM tasks WHERE id = 'second'")).length === 1, "the second row to commit");
      assert.equal(secondSettled, false, "the caller waits for room after its commit");
      assert.deepEqual(await driver.stats("tasks"), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });

      // A consumer's lone write (what process_task does before acking) is not stuck behind a
      // transaction waiting for room: it commits, then the ack makes room for the second message.
      const received: Delivery[] = [];
      await tasks.consume({ prefetch: 1 }, (delivery) => received.push(delivery));
      await waitUntil(() => received.length === 1, "the first delivery");
      assert.deepEqual(received[0].message.body, { id: "first" });
      assert.equal((await db.execute("UPDATE tasks SET status = 'completed' WHERE id = 'first'")).rowsAffected, 1);
      await received[0].ack();

      const secondId = await second;
      await waitUntil(() => received.length === 2, "the second delivery");
      assert.equal(received[1].message.id, secondId);
      assert.deepEqual(received[1].message.body, { id: "second" });
      await received[1].ack();
    } finally {
      await close();
    }
  });

  test("a message is never delivered before its transaction committed, and one that rolls back is never delivered", async () => {
    const { db, driver, tasks, createTask, close } = await setup();
    try {
      const seen: { body: unknown; committed: boolean }[] = [];
      await tasks.consume({ prefetch: 10 }, (delivery) => {
        const { id } = delivery.message.body as { id: string };
        // The read connection sees only what was committed.
        void db.query("SELECT id FROM tasks WHERE id = ?", [id]).then((rows) => {
          seen.push({ body: delivery.message.body, committed: rows.length === 1 });
          return delivery.ack();
        });
      });
      await assert.rejects(createTask("rolled-back", true), { message: "the handler failed after publishing" });
      await createTask("kept");
      await waitUntil(() => seen.length === 1, "the kept task's delivery");
      assert.deepEqual(seen, [{ body: { id: "kept" }, committed: true }]);
      assert.deepEqual(await db.query("SELECT id FROM tasks"), [{ id: "kept" }]);
      assert.deepEqual(await driver.stats("tasks"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    } finally {
      await close();
    }
  });

  test("many requests through a one-message queue with a consumer writing to the same database all complete", async () => {
    const { db, tasks, createTask, close } = await setup();
    try {
      // Bound to this context, as a consumer started by the supervisor: its writes are its own,
      // never part of the transaction whose publish happened to wake it.
      const onDelivery = AsyncResource.bind((delivery: Delivery) => {
        const { id } = delivery.message.body as { id: string };
        void db.execute("UPDATE tasks SET status = 'completed' WHERE id = ?", [id]).then(() => delivery.ack());
      });
      await tasks.consume({ prefetch: 2 }, onDelivery);
      const ids = Array.from({ length: 40 }, (_, index) => `task-${index}`);
      await Promise.all(ids.map((id) => createTask(id)));
      await waitUntil(async () => (await db.query("SELECT COUNT(*) AS n FROM tasks WHERE status = 'completed'"))[0].n === ids.length, "every task completed", 20_000);
    } finally {
      await close();
    }
  });
});
