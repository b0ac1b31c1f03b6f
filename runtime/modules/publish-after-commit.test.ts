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
  /** The same with a deduplication key; `during` runs inside the transaction after the publish. */
  const createUniqueTask = (id: string, key: string, during: () => Promise<void> = async () => {}) =>
    run(async () => {
      const handle = await sql.get("app:db");
      try {
        return await handle.transaction(async (tx) => {
          await tx.execute("INSERT INTO tasks (id, status) VALUES (?, 'queued')", [id]);
          const outcome = await queue.publish("app:tasks", { id }, { unique_key: key });
          await during();
          return outcome;
        });
      } finally {
        handle.release();
      }
    });
  /** A publisher outside any transaction (another request's plain publish). */
  const publishOutside = (data: unknown, key: string) => run(() => queue.publish("app:tasks", data, { unique_key: key }));
  return { db, driver, tasks, createTask, createUniqueTask, publishOutside, run, close: () => db.close() };
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

describe("a unique publish to a memory queue inside a transaction", () => {
  test("to a full queue: reserves its key, commits, and only then waits for room while the consumers' writes go through", async () => {
    const { db, driver, tasks, createTask, createUniqueTask, publishOutside, close } = await setup();
    try {
      await createTask("first"); // fills the queue (max_length 1)
      let secondSettled = false;
      const second = createUniqueTask("second", "report:2").finally(() => (secondSettled = true));

      await waitUntil(async () => (await db.query("SELECT id FROM tasks WHERE id = 'second'")).length === 1, "the second row to commit");
      assert.equal(secondSettled, false, "the caller waits for room after its commit");
      assert.deepEqual(await driver.stats("tasks"), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
      // The key is held while the message waits for room.
      const duplicate = await publishOutside({ id: "again" }, "report:2");
      assert.equal(duplicate.duplicate, true);

      const received: Delivery[] = [];
      await tasks.consume({ prefetch: 1 }, (delivery) => received.push(delivery));
      await waitUntil(() => received.length === 1, "the first delivery");
      assert.equal((await db.execute("UPDATE tasks SET status = 'completed' WHERE id = 'first'")).rowsAffected, 1);
      await received[0].ack();

      const outcome = await second;
      assert.deepEqual(outcome, { id: duplicate.id, duplicate: false });
      await waitUntil(() => received.length === 2, "the second delivery");
      assert.equal(received[1].message.id, outcome.id);
      assert.deepEqual(received[1].message.body, { id: "second" });
      await received[1].ack();
    } finally {
      await close();
    }
  });

  test("a second publish with the key before the commit is a duplicate naming the first's id, inside the transaction or outside it", async () => {
    const { driver, tasks, createUniqueTask, publishOutside, run, close } = await setup();
    try {
      const answers: unknown[] = [];
      const first = await createUniqueTask("first", "report:1", async () => {
        answers.push(await run(() => queue.publish("app:tasks", { id: "same transaction" }, { unique_key: "report:1" })));
        answers.push(await publishOutside({ id: "outside" }, "report:1"));
      });
      assert.equal(first.duplicate, false);
      assert.deepEqual(answers, [
        { id: first.id, duplicate: true },
        { id: first.id, duplicate: true },
      ]);
      const received: Delivery[] = [];
      await tasks.consume({ prefetch: 10 }, (delivery) => received.push(delivery));
      await waitUntil(() => received.length === 1, "the committed message's delivery");
      assert.equal(received[0].message.id, first.id);
      assert.deepEqual(received[0].message.body, { id: "first" });
      assert.deepEqual(await driver.stats("tasks"), { ready: 0, inFlight: 1, delayed: 0, dead: 0 }, "the duplicates entered nothing");
    } finally {
      await close();
    }
  });

  test("a rollback frees the key and admits nothing: the next publish with the key is no duplicate", async () => {
    const { db, driver, createUniqueTask, publishOutside, close } = await setup();
    try {
      let heldDuringTransaction: unknown;
      let reserved: unknown;
      await assert.rejects(
        createUniqueTask("rolled-back", "report:3", async () => {
          heldDuringTransaction = await publishOutside({ id: "meanwhile" }, "report:3");
          reserved = (heldDuringTransaction as { id: string }).id;
          throw new Error("the handler failed after publishing");
        }),
        { message: "the handler failed after publishing" },
      );
      assert.deepEqual(heldDuringTransaction, { id: reserved, duplicate: true });
      assert.deepEqual(await db.query("SELECT id FROM tasks"), []);
      assert.deepEqual(await driver.stats("tasks"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });

      const after = await publishOutside({ id: "after the rollback" }, "report:3");
      assert.equal(after.duplicate, false);
      assert.notEqual(after.id, reserved);
      const waiting = await driver.browse("tasks", { state: "waiting", order: "oldest", limit: 10, offset: 0 });
      assert.deepEqual(waiting.messages.map((message) => message.body), [{ id: "after the rollback" }]);
    } finally {
      await close();
    }
  });

  test("a key reserved in a committed savepoint is freed when the enclosing transaction rolls back", async () => {
    const { db, driver, publishOutside, run, close } = await setup();
    try {
      let reserved = "";
      await assert.rejects(
        run(async () => {
          const handle = await sql.get("app:db");
          try {
            await handle.transaction(async (outer) => {
              await outer.execute("INSERT INTO tasks (id, status) VALUES ('outer', 'queued')");
              const inner = await handle.transaction(async () => queue.publish("app:tasks", { id: "inner" }, { unique_key: "nested" }));
              reserved = inner.id;
              throw new Error("the outer transaction failed");
            });
          } finally {
            handle.release();
          }
        }),
        { message: "the outer transaction failed" },
      );
      assert.deepEqual(await db.query("SELECT id FROM tasks"), []);
      assert.deepEqual(await driver.stats("tasks"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
      const after = await publishOutside({ id: "after" }, "nested");
      assert.equal(after.duplicate, false, "the key went with the outer rollback");
      assert.notEqual(after.id, reserved);
    } finally {
      await close();
    }
  });

  test("a savepoint that rolls back frees its own key; the enclosing transaction's message and key stay", async () => {
    const { tasks, publishOutside, run, close } = await setup();
    try {
      const received: Delivery[] = [];
      await tasks.consume({ prefetch: 10 }, (delivery) => received.push(delivery));
      const kept = await run(async () => {
        const handle = await sql.get("app:db");
        try {
          return await handle.transaction(async () => {
            const outcome = await queue.publish("app:tasks", { id: "kept" }, { unique_key: "kept" });
            await assert.rejects(
              handle.transaction(async () => {
                await queue.publish("app:tasks", { id: "savepoint" }, { unique_key: "savepoint" });
                throw new Error("the savepoint failed");
              }),
              { message: "the savepoint failed" },
            );
            return outcome;
          });
        } finally {
          handle.release();
        }
      });
      assert.equal(kept.duplicate, false);
      await waitUntil(() => received.length === 1, "the kept message's delivery");
      assert.equal(received[0].message.id, kept.id);
      const again = await publishOutside({ id: "savepoint again" }, "savepoint");
      assert.equal(again.duplicate, false, "the rolled-back savepoint freed its key");
      await waitUntil(() => received.length === 2, "the second delivery");
      assert.deepEqual(
        received.map((delivery) => delivery.message.body),
        [{ id: "kept" }, { id: "savepoint again" }],
      );
    } finally {
      await close();
    }
  });

  test("outside a transaction a unique publish enters at once, as before", async () => {
    const { driver, publishOutside, close } = await setup();
    try {
      const first = await publishOutside({ id: "now" }, "plain");
      assert.equal(first.duplicate, false);
      assert.deepEqual(await driver.stats("tasks"), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
      assert.deepEqual(await publishOutside({ id: "now again" }, "plain"), { id: first.id, duplicate: true });
    } finally {
      await close();
    }
  });
});
