import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { builder, type RunTarget } from "./sql-builder.ts";
import { SqliteDatabase } from "../drivers/sql/sqlite.ts";

function builderError(message: string) {
  return { name: "TaskrtError", code: "E_SQL_BUILDER", message };
}

describe("sql builder: select", () => {
  test("select with object where, order, limit renders Wippy's example", () => {
    const statement = builder.select("id", "name").from("users").where({ active: 1 }).orderBy("name ASC").limit(10).toSql();
    assert.deepEqual(statement, { sql: "SELECT id, name FROM users WHERE active = ? ORDER BY name ASC LIMIT 10", params: [1] });
  });

  test("an object where turns null into IS NULL and arrays into IN, in key order", () => {
    const statement = builder.select().from("tasks").where({ status: "done", deleted_at: null, id: [1, 2] }).toSql();
    assert.deepEqual(statement, { sql: "SELECT * FROM tasks WHERE status = ? AND deleted_at IS NULL AND id IN (?, ?)", params: ["done", 1, 2] });
  });

  test("an empty IN list matches nothing", () => {
    assert.equal(builder.select("id").from("tasks").where({ id: [] }).toSql().sql, "SELECT id FROM tasks WHERE 1 = 0");
  });

  test("a single SQL-text where stays as written; several are AND-ed with text parts parenthesised", () => {
    assert.deepEqual(builder.select("id").from("tasks").where("created_at > ?", 5).toSql(), {
      sql: "SELECT id FROM tasks WHERE created_at > ?",
      params: [5],
    });
    const statement = builder
      .select("id")
      .from("tasks")
      .where({ status: "done" })
      .where("priority = ? OR priority = ?", 1, 2)
      .where("created_at > ?", 5)
      .toSql();
    assert.deepEqual(statement, {
      sql: "SELECT id FROM tasks WHERE status = ? AND (priority = ? OR priority = ?) AND (created_at > ?)",
      params: ["done", 1, 2, 5],
    });
  });

  test("columns, offset, several order terms, aggregates and aliases", () => {
    const statement = builder
      .select("COUNT(*) AS n", "t.status")
      .columns("MAX(t.priority) AS top", "t.*")
      .from("main.tasks")
      .orderBy("t.status DESC, id", "name asc")
      .limit(5)
      .offset(10)
      .toSql();
    assert.equal(statement.sql, "SELECT COUNT(*) AS n, t.status, MAX(t.priority) AS top, t.* FROM main.tasks ORDER BY t.status DESC, id, name asc LIMIT 5 OFFSET 10");
  });

  test("quoted identifiers are accepted", () => {
    assert.equal(builder.select('"order"').from('"my table"').where({ '"key"': 1 }).toSql().sql, 'SELECT "order" FROM "my table" WHERE "key" = ?');
  });

  test("builders are immutable: each call returns a new builder and leaves the old one as it was", () => {
    const base = builder.select("id").from("tasks");
    const filtered = base.where({ status: "done" });
    const limited = filtered.limit(1);
    assert.equal(base.toSql().sql, "SELECT id FROM tasks");
    assert.equal(filtered.toSql().sql, "SELECT id FROM tasks WHERE status = ?");
    assert.equal(limited.toSql().sql, "SELECT id FROM tasks WHERE status = ? LIMIT 1");
  });

  test("dollar, at and colon placeholders are numbered in order, skipping quoted text", () => {
    const query = builder.select("id").from("tasks").where({ status: "done", id: [1, 2] }).where("note <> '?' AND created_at > ?", 5);
    assert.equal(query.placeholder("dollar").toSql().sql, "SELECT id FROM tasks WHERE status = $1 AND id IN ($2, $3) AND (note <> '?' AND created_at > $4)");
    assert.equal(query.placeholder("at").toSql().sql, "SELECT id FROM tasks WHERE status = @p1 AND id IN (@p2, @p3) AND (note <> '?' AND created_at > @p4)");
    assert.equal(query.placeholder("colon").toSql().sql, "SELECT id FROM tasks WHERE status = :1 AND id IN (:2, :3) AND (note <> '?' AND created_at > :4)");
  });

  test("OFFSET without LIMIT renders as Wippy does, and with LIMIT -1 when run on SQLite", async () => {
    assert.equal(builder.select("id").from("t").offset(2).toSql().sql, "SELECT id FROM t OFFSET 2");
    const seen: string[] = [];
    const target: RunTarget = {
      type: () => "sqlite",
      query: async (sql) => (seen.push(sql), []),
      execute: async () => ({ lastInsertId: null, rowsAffected: 0 }),
    };
    await builder.select("id").from("t").offset(2).runWith(target).query();
    assert.deepEqual(seen, ["SELECT id FROM t LIMIT -1 OFFSET 2"]);
  });
});

describe("sql builder: insert, update, delete", () => {
  test("insert with several values() calls renders one multi-row VALUES", () => {
    const statement = builder.insert("tasks").columns("id", "status").values(1, "new").values(2, "done").toSql();
    assert.deepEqual(statement, { sql: "INSERT INTO tasks (id, status) VALUES (?, ?), (?, ?)", params: [1, "new", 2, "done"] });
  });

  test("insert with setMap takes columns from keys, leaving undefined values out; into() names the table", () => {
    const statement = builder.insert().into("tasks").setMap({ id: "t1", status: "new", note: undefined }).returning("id").toSql();
    assert.deepEqual(statement, { sql: "INSERT INTO tasks (id, status) VALUES (?, ?) RETURNING id", params: ["t1", "new"] });
  });

  test("insert without columns renders bare VALUES", () => {
    assert.equal(builder.insert("t").values(1, 2).toSql().sql, "INSERT INTO t VALUES (?, ?)");
  });

  test("update with set and setMap, later values of a column replacing earlier ones", () => {
    const statement = builder.update("tasks").set("status", "done").setMap({ attempts: 2, status: "failed" }).where({ id: "t1" }).toSql();
    assert.deepEqual(statement, { sql: "UPDATE tasks SET attempts = ?, status = ? WHERE id = ?", params: [2, "failed", "t1"] });
  });

  test("update without where is allowed; table() names the table", () => {
    assert.deepEqual(builder.update().table("tasks").set("seen", true).toSql(), { sql: "UPDATE tasks SET seen = ?", params: [true] });
  });

  test("delete with and without where (every row, as Wippy allows)", () => {
    assert.deepEqual(builder.delete("tasks").where("finished_at < ?", 100).returning("id").toSql(), {
      sql: "DELETE FROM tasks WHERE finished_at < ? RETURNING id",
      params: [100],
    });
    assert.deepEqual(builder.delete().from("tasks").toSql(), { sql: "DELETE FROM tasks", params: [] });
  });

  test("update with dollar placeholders numbers SET before WHERE", () => {
    const statement = builder.update("tasks").set("status", "done").where({ id: 7 }).placeholder("dollar").toSql();
    assert.deepEqual(statement, { sql: "UPDATE tasks SET status = $1 WHERE id = $2", params: ["done", 7] });
  });
});

describe("sql builder: refusals", () => {
  test("identifiers that are not identifiers are refused, naming them", () => {
    assert.throws(() => builder.select("id").from("tasks; DROP TABLE tasks"), builderError(
      'invalid table name "tasks; DROP TABLE tasks": expected letters, digits and _ (dotted, or "quoted")',
    ));
    assert.throws(() => builder.select("id, secret"), builderError(
      'invalid column "id, secret": expected a column name, *, table.*, or COUNT(column) and the like, optionally AS alias',
    ));
    assert.throws(() => builder.select().from("t").where({ "a = 1 OR 1": 1 }), builderError(
      'invalid column name "a = 1 OR 1": expected letters, digits and _ (dotted, or "quoted")',
    ));
    assert.throws(() => builder.insert("t").columns("a)"), builderError('invalid column name "a)": expected letters, digits and _ (dotted, or "quoted")'));
    assert.throws(() => builder.update("t").set("a = a", 1), builderError('invalid column name "a = a": expected letters, digits and _ (dotted, or "quoted")'));
    assert.throws(() => builder.delete("t x"), builderError('invalid table name "t x": expected letters, digits and _ (dotted, or "quoted")'));
    assert.throws(() => builder.select().from("t").orderBy("random()"), builderError(
      'invalid order-by term "random()": expected a column name, optionally followed by ASC or DESC',
    ));
    assert.throws(() => builder.select().from('"bad"quote"'), builderError(
      'invalid table name "\\"bad\\"quote\\"": expected letters, digits and _ (dotted, or "quoted")',
    ));
  });

  test("a where text whose placeholders do not match its arguments is refused", () => {
    assert.throws(() => builder.select().from("t").where("a > ? AND b < ?", 1), builderError('where "a > ? AND b < ?" has 2 placeholders but 1 argument was given'));
    assert.throws(() => builder.select().from("t").where("a > 1", 1, 2), builderError('where "a > 1" has 0 placeholders but 2 arguments were given'));
  });

  test("an undefined where value is refused instead of matching everything", () => {
    assert.throws(() => builder.delete("t").where({ id: undefined }), builderError("where value for column id is undefined: use null for IS NULL"));
  });

  test("limits, offsets and placeholder formats are checked", () => {
    assert.throws(() => builder.select().from("t").limit(-1), builderError("limit() needs a whole number of 0 or more, got -1"));
    assert.throws(() => builder.select().from("t").offset(1.5), builderError("offset() needs a whole number of 0 or more, got 1.5"));
    assert.throws(() => builder.select().from("t").placeholder("percent" as "dollar"), builderError(
      'unknown placeholder format "percent": expected one of question, dollar, at, colon',
    ));
  });

  test("statements missing a table, values or assignments are refused at toSql", () => {
    assert.throws(() => builder.insert().values(1).toSql(), builderError('insert needs a table: use insert("name") or .into("name")'));
    assert.throws(() => builder.insert("t").toSql(), builderError("insert into t has no values: call .values(…) or .setMap({…})"));
    assert.throws(() => builder.insert("t").columns("a", "b").values(1).toSql(), builderError("insert into t: row 1 has 1 values but 2 columns were named"));
    assert.throws(() => builder.insert("t").values(1, 2).values(3).toSql(), builderError("insert into t: row 2 has 1 values but row 1 has 2"));
    assert.throws(() => builder.update("t").where({ id: 1 }).toSql(), builderError("update of t sets nothing: call .set(column, value) or .setMap({…})"));
    assert.throws(() => builder.delete().toSql(), builderError('delete needs a table: use delete("name") or .from("name")'));
    assert.throws(() => builder.insert("t").values(), builderError("values() needs at least one value"));
  });

  test("runWith refuses something that is not a database or transaction", () => {
    assert.throws(() => builder.select().from("t").runWith({} as RunTarget), builderError("runWith needs a database or transaction (from sql.get or db.transaction)"));
  });
});

describe("sql builder: running", () => {
  test("runWith runs the statement on a database and its transaction", async () => {
    const db = new SqliteDatabase({ id: "app:db", file: ":memory:", busyTimeoutMs: 1000, synchronous: "NORMAL", closeTimeoutMs: 1000 });
    await db.open();
    try {
      await db.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, status TEXT, deleted_at TEXT)");
      const inserted = await builder.insert("tasks").columns("status").values("new").values("done").runWith(db).exec();
      assert.deepEqual(inserted, { lastInsertId: 2, rowsAffected: 2 });
      await db.transaction(async (tx) => {
        await builder.update("tasks").set("status", "done").where({ id: 1 }).runWith(tx).exec();
      });
      const bound = builder.select("id", "status").from("tasks").where({ status: "done", deleted_at: null, id: [1, 2] }).orderBy("id DESC").runWith(db);
      assert.deepEqual(await bound.query(), [
        { id: 2, status: "done" },
        { id: 1, status: "done" },
      ]);
      assert.deepEqual(bound.toSql(), { sql: "SELECT id, status FROM tasks WHERE status = ? AND deleted_at IS NULL AND id IN (?, ?) ORDER BY id DESC", params: ["done", 1, 2] });
    } finally {
      await db.close();
    }
  });
});
