import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LuaEngine } from "../engine.ts";
import { TestServices, callLua, createTestEngine, testContext } from "../test-support.ts";

const source = `local sql = require("sql")
local function db() return assert(sql.get("app:db")) end
local function failure(value, err) return { value = value == nil, message = err:message(), kind = err:kind() } end
return {
  setup = function()
    local d = db()
    local created = d:execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, note TEXT)")
    local inserted = d:execute("INSERT INTO items (name, price, note) VALUES (?, ?, ?)", { "pen", 1.5, "blue" })
    local with_null = d:execute("INSERT INTO items (name, price, note) VALUES (?, ?, ?)", { "cup", 3, sql.NULL })
    return { created = created.rows_affected, inserted = inserted, with_null = with_null.last_insert_id }
  end,
  rows = function()
    local rows = db():query("SELECT id, name, price, note FROM items ORDER BY id")
    return { rows = rows, count = #rows, id_type = math.type(rows[1].id), price_type = math.type(rows[1].price),
      note = rows[2].note == nil }
  end,
  unknown_db = function() return failure(sql.get("app:nope")) end,
  bad_params = function() return failure(db():query("SELECT 1", 5)) end,
  named_params = function() return failure(db():query("SELECT ?", { a = 1 })) end,
  bad_sql = function() return failure(db():query("SELEKT 1")) end,
  released = function()
    local d = db()
    local ok = d:release()
    return { ok = ok, again = d:release(), after = failure(d:query("SELECT 1")), type = sql.get("app:db"):type(),
      sqlite = sql.type.SQLITE }
  end,
  commit = function()
    local tx = db():begin()
    tx:execute("INSERT INTO items (name) VALUES (?)", { "committed" })
    local seen = tx:query("SELECT count(*) AS n FROM items WHERE name = 'committed'")[1].n
    local ok = tx:commit()
    local again = failure(tx:commit())
    return { ok = ok, seen = seen, again = again }
  end,
  rollback = function()
    local tx = db():begin()
    tx:execute("INSERT INTO items (name) VALUES (?)", { "rolled back" })
    return tx:rollback()
  end,
  forget = function()
    local tx = db():begin()
    tx:execute("INSERT INTO items (name) VALUES (?)", { "forgotten" })
  end,
  join = function()
    local d = db()
    local tx = d:begin()
    d:execute("INSERT INTO items (name) VALUES (?)", { "joined" })
    local inside = d:query("SELECT count(*) AS n FROM items WHERE name = 'joined'")[1].n
    local again = failure(d:begin())
    tx:rollback()
    return { inside = inside, again = again }
  end,
  count = function(name) return db():query("SELECT count(*) AS n FROM items WHERE name = ?", { name })[1].n end,
  builder = function(filter)
    local query = sql.builder.select("id", "name"):from("items"):order_by("id ASC"):limit(2)
    if filter then query = query:where({ name = filter }) end
    local text, params = query:to_sql()
    local rows, err = query:run_with(db()):query()
    return { sql = text, params = params, rows = rows }
  end,
  build_insert = function()
    local insert = sql.builder.insert("items"):columns("name", "price", "note"):values("lamp", 12.25, nil)
    local result = insert:run_with(db()):exec()
    local update = sql.builder.update("items"):set("price", 13):where("name = ?", "lamp"):run_with(db()):exec()
    local row = db():query("SELECT price, note FROM items WHERE name = 'lamp'")[1]
    local deleted = sql.builder.delete("items"):where({ name = "lamp" }):run_with(db()):exec()
    return { inserted = result.rows_affected, updated = update.rows_affected, price = row.price, note = row.note == nil,
      deleted = deleted.rows_affected }
  end,
  builder_in_tx = function()
    local tx = db():begin()
    sql.builder.insert("items"):set_map({ name = "via tx" }):run_with(tx):exec()
    tx:commit()
    return db():query("SELECT count(*) AS n FROM items WHERE name = 'via tx'")[1].n
  end,
  bad_column = function() return sql.builder.select("id; DROP TABLE items") end,
  bad_target = function() return failure(sql.builder.select("id"):from("items"):run_with("app:db")) end,
  no_method = function() return sql.builder.insert("items"):limit(1) end,
}`;

let services: TestServices;
let engine: LuaEngine;
const call = (method: string, args: unknown[] = []) => callLua(engine, method, args, testContext({ modules: ["sql"], services }));

before(async () => {
  services = new TestServices(["app:db"], []);
  await services.openDatabases();
  engine = await createTestEngine(source, { modules: ["sql"] });
  assert.deepEqual(await call("setup"), { value: { created: 0, inserted: { last_insert_id: 1, rows_affected: 1 }, with_null: 2 } });
});

after(async () => {
  engine.close();
  await services.close();
});

describe("lua sql module", () => {
  test("db:query returns rows as tables; NULL columns are absent; integers and floats keep their type", async () => {
    assert.deepEqual((await call("rows")).value, {
      rows: [
        { id: 1, name: "pen", price: 1.5, note: "blue" },
        { id: 2, name: "cup", price: 3 },
      ],
      count: 2,
      id_type: "integer",
      price_type: "float",
      note: true,
    });
  });

  test("sql.get of an unknown database returns nil, err of kind NOT_FOUND", async () => {
    assert.deepEqual((await call("unknown_db")).value, { value: true, message: "database app:nope not found", kind: "NOT_FOUND" });
  });

  test("params must be an array table", async () => {
    assert.deepEqual((await call("bad_params")).value, {
      value: true,
      message: 'invalid params type: expected an array table such as {1, "x"}, got number',
      kind: "INVALID",
    });
    assert.deepEqual((await call("named_params")).value, {
      value: true,
      message: 'invalid params type: expected an array table such as {1, "x"}, got a table with named keys',
      kind: "INVALID",
    });
  });

  test("a failing statement returns nil, err with SQLite's message", async () => {
    assert.deepEqual((await call("bad_sql")).value, { value: true, message: 'sql failed on app:db: near "SELEKT": syntax error', kind: "INTERNAL" });
  });

  test("db:release() returns true, may repeat, and ends the handle", async () => {
    assert.deepEqual((await call("released")).value, {
      ok: true,
      again: true,
      after: { value: true, message: "database handle for app:db was released", kind: "INVALID" },
      type: "sqlite",
      sqlite: "sqlite",
    });
  });

  test("db:begin() → tx:execute, tx:query, tx:commit; a second commit is refused", async () => {
    assert.deepEqual((await call("commit")).value, {
      ok: true,
      seen: 1,
      again: { value: true, message: "transaction already committed or rolled back", kind: "INVALID" },
    });
    assert.deepEqual(await call("count", ["committed"]), { value: 1 });
  });

  test("tx:rollback() undoes, and a transaction left open is rolled back when the handler returns", async () => {
    assert.deepEqual(await call("rollback"), { value: true });
    assert.deepEqual(await call("count", ["rolled back"]), { value: 0 });
    assert.deepEqual(await call("forget"), { value: undefined });
    assert.deepEqual(await call("count", ["forgotten"]), { value: 0 });
  });

  test("db: statements inside the handler's own open transaction join it; a second begin is refused", async () => {
    assert.deepEqual((await call("join")).value, {
      inside: 1,
      again: { value: true, message: "a transaction on app:db is already open in this handler: commit or roll it back first", kind: "INVALID" },
    });
    assert.deepEqual(await call("count", ["joined"]), { value: 0 });
  });

  test("sql.builder select: snake_case chaining, to_sql(), run_with(db):query()", async () => {
    assert.deepEqual((await call("builder")).value, {
      sql: "SELECT id, name FROM items ORDER BY id ASC LIMIT 2",
      params: [],
      rows: [
        { id: 1, name: "pen" },
        { id: 2, name: "cup" },
      ],
    });
    assert.deepEqual((await call("builder", ["pen"])).value, {
      sql: "SELECT id, name FROM items WHERE name = ? ORDER BY id ASC LIMIT 2",
      params: ["pen"],
      rows: [{ id: 1, name: "pen" }],
    });
  });

  test("sql.builder insert, update and delete run with exec(); a nil value is NULL", async () => {
    assert.deepEqual((await call("build_insert")).value, { inserted: 1, updated: 1, price: 13, note: true, deleted: 1 });
  });

  test("a builder runs inside a transaction with run_with(tx)", async () => {
    assert.deepEqual(await call("builder_in_tx"), { value: 1 });
  });

  test("builder mistakes raise Lua errors; a bad run_with target returns nil, err", async () => {
    assert.match((await call("bad_column")).error?.message ?? "", /^test\.lua:\d+: sql\.builder\.select: invalid column "id; DROP TABLE items"/);
    assert.deepEqual((await call("bad_target")).value, {
      value: true,
      message: "bad argument #1 to 'run_with' (database or transaction expected, got string)",
      kind: "INVALID",
    });
    assert.match((await call("no_method")).error?.message ?? "", /^test\.lua:\d+: sql\.builder: this insert query has no limit\(\)$/);
  });
});
