import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { sql } from "./sql.ts";
import { runInContext, type CallContext } from "./context.ts";
import { TaskrtError } from "../errors.ts";
import type { QueueHandle } from "../drivers/queue/driver.ts";
import { createLogger } from "../logger.ts";
import { startSnippet, type StartedSnippet } from "../../test/support/registry.ts";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-sql-batch-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
let counter = 0;

/**
 * The app's database with its queue stored in it (`tasks`, which a batch's publish joins), a memory
 * queue (admitted after the commit) and a queue in a file of its own (published after the commit).
 */
async function start(writer: "main" | "thread"): Promise<{ app: StartedSnippet; file: string; otherFile: string; run<T>(fn: () => Promise<T>, modules?: string[]): Promise<T> }> {
  const folder = path.join(scratch, `case-${++counter}`);
  const file = path.join(folder, "app.db");
  const otherFile = path.join(folder, "other.db");
  const app = await startSnippet(`
  - name: db
    kind: db.sql.sqlite
    file: ${JSON.stringify(file)}
    synchronous: FULL
    writer: ${writer}
    lifecycle:
      auto_start: true
  - name: stored_driver
    kind: queue.driver.sqlite
    db: app:db
    lifecycle:
      auto_start: true
  - name: tasks
    kind: queue.queue
    driver: app:stored_driver
  - name: memory_driver
    kind: queue.driver.memory
    max_length: 100
  - name: memory_tasks
    kind: queue.queue
    driver: app:memory_driver
  - name: other_driver
    kind: queue.driver.sqlite
    file: ${JSON.stringify(otherFile)}
    lifecycle:
      auto_start: true
  - name: other_tasks
    kind: queue.queue
    driver: app:other_driver
  `);
  const db = await app.supervisor.services.database("app:db");
  await db.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, note TEXT)");
  const run = <T>(fn: () => Promise<T>, modules = ["sql", "queue"]): Promise<T> => {
    const context: CallContext = { entryId: "app:create_task", modules: new Set(modules), services: app.supervisor.services, logger: createLogger({ level: "error", sink: { write() {} } }) };
    return runInContext(context, fn);
  };
  return { app, file, otherFile, run };
}

function rows(file: string, sqlText: string): unknown[] {
  const connection = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    return connection.prepare(sqlText).all();
  } catch (error) {
    if (String(error).includes("no such table")) return [];
    throw error;
  } finally {
    connection.close();
  }
}

function queueHandle(app: StartedSnippet, id: string): QueueHandle {
  return app.supervisor.services.queue(id);
}

for (const writer of ["main", "thread"] as const) {
  describe(`db.batch on SQLite, writer: ${writer}`, () => {
    test("resolves to the statements' results once committed; each publish is in its queue by then", async () => {
      const { app, file, run } = await start(writer);
      try {
        const results = await run(async () => {
          const db = await sql.get("app:db");
          return db.batch((b) => {
            b.execute("INSERT INTO tasks (id, note) VALUES (?, ?)", ["t1", "first"]);
            b.execute("UPDATE tasks SET note = ? WHERE id = ?", ["changed", "t1"]);
            b.publish("app:tasks", { id: "t1" });
            b.publish("app:memory_tasks", { id: "t1" }, { source: "test" }, { priority: 3 });
            b.publish("app:other_tasks", { id: "t1" });
          });
        });
        assert.deepEqual(results, [
          { lastInsertId: 1, rowsAffected: 1 },
          { lastInsertId: null, rowsAffected: 1 },
        ]);
        // Another connection sees the row (and the stored queue's message) the moment the batch resolved.
        assert.deepEqual(rows(file, "SELECT id, note FROM tasks"), [{ id: "t1", note: "changed" }]);
        assert.equal(rows(file, "SELECT id FROM taskrt_queue_messages WHERE queue = 'tasks'").length, 1);
        assert.equal((await queueHandle(app, "app:memory_tasks").stats()).ready, 1);
        assert.equal((await queueHandle(app, "app:other_tasks").stats()).ready, 1);
      } finally {
        await app.stop();
      }
    });

    test("a constraint error rejects the batch with E_SQL_CONSTRAINT: no row, no message anywhere, and the batches beside it commit", async () => {
      const { app, file, run } = await start(writer);
      try {
        await run(async () => (await sql.get("app:db")).execute("INSERT INTO tasks (id) VALUES ('taken')"));
        const attempt = (id: string) =>
          run(async () =>
            (await sql.get("app:db")).batch((b) => {
              b.execute("INSERT INTO tasks (id, note) VALUES (?, 'batch')", [`${id}-row`]);
              b.publish("app:tasks", { id });
              b.publish("app:memory_tasks", { id });
              b.publish("app:other_tasks", { id });
              b.execute("INSERT INTO tasks (id) VALUES (?)", [id]);
            }),
          );
        const outcomes = await Promise.allSettled([attempt("ok-1"), attempt("taken"), attempt("ok-2")]);
        assert.deepEqual(
          outcomes.map((outcome) => outcome.status),
          ["fulfilled", "rejected", "fulfilled"],
        );
        const reason = (outcomes[1] as PromiseRejectedResult).reason;
        assert.ok(reason instanceof TaskrtError);
        assert.equal(reason.code, "E_SQL_CONSTRAINT");
        assert.match(reason.message, /^sql failed on app:db: UNIQUE constraint failed: tasks\.id/);
        assert.deepEqual(
          rows(file, "SELECT id FROM tasks ORDER BY id"),
          ["ok-1", "ok-1-row", "ok-2", "ok-2-row", "taken"].map((id) => ({ id })),
        );
        assert.equal(rows(file, "SELECT id FROM taskrt_queue_messages WHERE queue = 'tasks'").length, 2);
        assert.equal((await queueHandle(app, "app:memory_tasks").stats()).ready, 2);
        assert.equal((await queueHandle(app, "app:other_tasks").stats()).ready, 2, "a queue elsewhere gets the message only after the commit");
      } finally {
        await app.stop();
      }
    });

    test("a memory-queue publish with a unique_key in a batch that fails frees its key and queues nothing", async () => {
      const { app, run } = await start(writer);
      try {
        await run(async () => (await sql.get("app:db")).execute("INSERT INTO tasks (id) VALUES ('taken')"));
        const failed = run(async () =>
          (await sql.get("app:db")).batch((b) => {
            b.publish("app:memory_tasks", { id: "once" }, { unique_key: "once" });
            b.execute("INSERT INTO tasks (id) VALUES ('taken')");
          }),
        );
        await assert.rejects(failed, { code: "E_SQL_CONSTRAINT" });
        assert.equal((await queueHandle(app, "app:memory_tasks").stats()).ready, 0);
        // The key is free again: the same publish in a batch that commits goes in, not as a duplicate.
        await run(async () =>
          (await sql.get("app:db")).batch((b) => {
            b.publish("app:memory_tasks", { id: "once" }, { unique_key: "once" });
            b.execute("INSERT INTO tasks (id) VALUES ('fresh')");
          }),
        );
        assert.equal((await queueHandle(app, "app:memory_tasks").stats()).ready, 1);
      } finally {
        await app.stop();
      }
    });

    test("inside a transaction, a batch runs in it and rolls back with it", async () => {
      const { app, file, run } = await start(writer);
      try {
        await assert.rejects(
          run(async () => {
            const db = await sql.get("app:db");
            await db.transaction(async () => {
              await db.batch((b) => {
                b.execute("INSERT INTO tasks (id) VALUES ('inner')");
                b.publish("app:tasks", { id: "inner" });
                b.publish("app:memory_tasks", { id: "inner" });
              });
              throw new Error("the handler failed");
            });
          }),
          /the handler failed/,
        );
        assert.deepEqual(rows(file, "SELECT id FROM tasks"), []);
        assert.equal((await queueHandle(app, "app:tasks").stats()).ready, 0);
        assert.equal((await queueHandle(app, "app:memory_tasks").stats()).ready, 0);
      } finally {
        await app.stop();
      }
    });

    test("a batch listed wrongly is refused before anything runs, with what to fix", async () => {
      const { app, file, run } = await start(writer);
      try {
        const db = await run(() => sql.get("app:db"));
        await assert.rejects(
          run(() =>
            db.batch((async (b: { execute(sql: string): void }) => {
              b.execute("INSERT INTO tasks (id) VALUES ('async')");
            }) as never),
          ),
          { code: "E_SQL_BATCH", message: "batch on app:db: the function given to batch() returned a promise; it must list its steps synchronously" },
        );
        await assert.rejects(
          run(() =>
            db.batch((b) => {
              b.execute("INSERT INTO tasks (id) VALUES ('first')");
              b.execute("INSERT INTO tasks (id) VALUES (?)", "not-an-array" as never);
            }),
          ),
          { code: "E_SQL_BATCH", message: "batch on app:db: execute's parameters must be an array, got string" },
        );
        await assert.rejects(
          run(() => db.batch((b) => b.publish("app:memory_tasks", {}))),
          { code: "E_INVALID_MESSAGE", message: "message data cannot be empty" },
        );
        await assert.rejects(
          run(() => db.batch((b) => b.publish("app:nowhere", { id: 1 }))),
          { code: "E_QUEUE_NOT_FOUND", message: "queue app:nowhere not found" },
        );
        await assert.rejects(
          run(
            () =>
              db.batch((b) => {
                b.execute("INSERT INTO tasks (id) VALUES ('x')");
                b.publish("app:memory_tasks", { id: "x" });
              }),
            ["sql"],
          ),
          { code: "E_MODULE_NOT_DECLARED" },
        );
        assert.deepEqual(rows(file, "SELECT id FROM tasks"), []);
        assert.equal((await queueHandle(app, "app:memory_tasks").stats()).ready, 0);
        assert.deepEqual(await run(() => db.batch(() => undefined)), []);
      } finally {
        await app.stop();
      }
    });
  });
}
