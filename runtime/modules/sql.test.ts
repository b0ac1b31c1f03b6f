import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TaskrtError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import type { RuntimeServices } from "../contracts/runtime-services.ts";
import { SqliteDatabase } from "../drivers/sql/sqlite.ts";
import { currentContext, runInContext, type CallContext } from "./context.ts";
import { builder } from "./sql-builder.ts";
import { sql } from "./sql.ts";

function services(databases: Record<string, SqliteDatabase>): RuntimeServices {
  return {
    database(id) {
      const database = databases[id];
      if (!database) throw new TaskrtError("E_DB_NOT_FOUND", `no database ${id}`);
      return database;
    },
    queue() {
      throw new Error("no queues in this test");
    },
  };
}

function context(modules: string[], databases: Record<string, SqliteDatabase> = {}): CallContext {
  return { entryId: "app:x", modules: new Set(modules), services: services(databases), logger: createLogger({ sink: { write() {} } }) };
}

async function withDatabase(run: (db: SqliteDatabase) => Promise<void>): Promise<void> {
  const db = new SqliteDatabase({ id: "app:db", file: ":memory:", busyTimeoutMs: 1000, synchronous: "NORMAL", closeTimeoutMs: 1000 });
  await db.open();
  try {
    await db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)");
    await run(db);
  } finally {
    await db.close();
  }
}

describe("sql module", () => {
  test("an entry that does not declare 'sql' cannot use it", async () => {
    await runInContext(context(["http", "json"]), async () => {
      await assert.rejects(sql.get("app:db"), {
        name: "TaskrtError",
        code: "E_MODULE_NOT_DECLARED",
        message: "entry app:x used module 'sql' but does not declare it",
      });
    });
  });

  test("sql.get outside a handler is refused", async () => {
    await assert.rejects(sql.get("app:db"), { code: "E_NO_CONTEXT", message: "module 'sql' was called outside a handler" });
  });

  test("sql.get with an empty id is refused; unknown ids fail as the runtime reports them", async () => {
    await runInContext(context(["sql"]), async () => {
      await assert.rejects(sql.get(""), { code: "E_DB_NOT_FOUND", message: 'sql.get needs a database id such as "app:db", got ""' });
      await assert.rejects(sql.get("app:nope"), { code: "E_DB_NOT_FOUND", message: "no database app:nope" });
    });
  });

  test("a handle queries, executes and reports its type", async () => {
    await withDatabase(async (database) => {
      await runInContext(context(["sql"], { "app:db": database }), async () => {
        const db = await sql.get("app:db");
        assert.equal(db.type(), sql.type.SQLITE);
        assert.deepEqual(await db.execute("INSERT INTO items (name) VALUES (?)", ["a"]), { lastInsertId: 1, rowsAffected: 1 });
        assert.deepEqual(await db.query("SELECT id, name FROM items"), [{ id: 1, name: "a" }]);
      });
    });
  });

  test("a handle's transaction commits through tx and rolls back on a throw", async () => {
    await withDatabase(async (database) => {
      await runInContext(context(["sql"], { "app:db": database }), async () => {
        const db = await sql.get("app:db");
        const value = await db.transaction(async (tx) => {
          assert.equal(tx.type(), "sqlite");
          await tx.execute("INSERT INTO items (name) VALUES (?)", ["kept"]);
          return "done";
        });
        assert.equal(value, "done");
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.execute("INSERT INTO items (name) VALUES (?)", ["undone"]);
            throw new Error("handler failed");
          }),
          /handler failed/,
        );
        assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "kept" }]);
      });
    });
  });

  test("inside a handle's transaction the call keeps its entry, modules and cancellation signal, read when asked", async () => {
    await withDatabase(async (database) => {
      const controller = new AbortController();
      let signalReads = 0;
      const outer: CallContext = {
        ...context(["sql"], { "app:db": database }),
        // A caller's signal may be made on first read (a consumer's per-message AbortController): it stays unread until asked for.
        get signal() {
          signalReads++;
          return controller.signal;
        },
      };
      await runInContext(outer, async () => {
        const db = await sql.get("app:db");
        await db.transaction(async () => {
          const inside = currentContext()!;
          assert.equal(inside.entryId, "app:x");
          assert.ok(inside.modules.has("sql"));
          assert.ok(inside.transaction, "the transaction scope is set");
          assert.equal(signalReads, 0);
          controller.abort();
          assert.equal(inside.signal?.aborted, true);
          assert.equal(signalReads, 1);
        });
        assert.equal(currentContext()!.transaction, undefined, "outside the transaction again");
      });
    });
  });

  test("a released handle refuses further calls; release can be repeated", async () => {
    await withDatabase(async (database) => {
      await runInContext(context(["sql"], { "app:db": database }), async () => {
        const db = await sql.get("app:db");
        db.release();
        db.release();
        const released = { code: "E_DB_RELEASED", message: "database handle for app:db was released" };
        await assert.rejects(db.query("SELECT 1"), released);
        await assert.rejects(db.execute("SELECT 1"), released);
        await assert.rejects(db.transaction(async () => undefined), released);
        await assert.rejects(db.batch((b) => b.execute("SELECT 1")), released);
        assert.deepEqual(await (await sql.get("app:db")).query("SELECT 1 AS one"), [{ one: 1 }], "a new handle works");
      });
    });
  });

  test("sql.builder is the query builder and runs on a handle", async () => {
    assert.equal(sql.builder, builder);
    await withDatabase(async (database) => {
      await runInContext(context(["sql"], { "app:db": database }), async () => {
        const db = await sql.get("app:db");
        await sql.builder.insert("items").setMap({ name: "built" }).runWith(db).exec();
        assert.deepEqual(await sql.builder.select("name").from("items").runWith(db).query(), [{ name: "built" }]);
      });
    });
  });

  test("builder errors inside a handler name its entry", async () => {
    await runInContext(context(["sql"]), async () => {
      assert.throws(() => sql.builder.select().from("bad name"), { code: "E_SQL_BUILDER", entryId: "app:x" });
    });
  });
});
