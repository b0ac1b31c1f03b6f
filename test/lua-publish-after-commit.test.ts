/**
 * @module test/lua-publish-after-commit — a Lua handler's `queue.publish` made while it has a
 * transaction open (`db:begin()`) belongs to that transaction, as a TypeScript handler's inside
 * `transaction(fn)` does: on a memory queue the message is admitted once `tx:commit()` committed,
 * so a full queue never holds the commit its consumers need; a rollback (or the call ending with
 * the transaction open) discards it and frees its unique key. On a SQLite queue in the same
 * database the message is written inside the transaction.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { luaAppsStoppedPerTest } from "./support/lua-apps.ts";
import type { StartedSnippet } from "./support/registry.ts";
import { waitUntil } from "./support/wait.ts";
import type { CallableComponent } from "../runtime/handlers/handler.ts";
import type { SqlDatabase } from "../runtime/drivers/sql/driver.ts";
import type { QueueEntry } from "../runtime/kinds/queue-queue.ts";
import type { Delivery } from "../runtime/drivers/queue/driver.ts";

const start = luaAppsStoppedPerTest();
/** Generous: these waits end on an event (a commit, a delivery), the bound only catches a hang. */
const WAIT_MS = 20_000;

const FUNCTIONS = `
- name: create
  kind: function.lua
  source: file://create.lua
  method: main
  modules: [sql, queue]
- name: two
  kind: function.lua
  source: file://create.lua
  method: two
  modules: [sql, queue]
- name: publish_outside
  kind: function.lua
  source: file://create.lua
  method: outside
  modules: [sql, queue]
`;

// POST /tasks as the tutorial's gateway would write it with a transaction: the row and its message.
const CREATE_LUA = `
local sql = require("sql")
local queue = require("queue")

local function main(id, mode, key)
  local db = sql.get("app:db")
  local tx = db:begin()
  tx:execute("INSERT INTO tasks (id, status) VALUES (?, 'queued')", { id })
  local headers = nil
  if key then headers = { unique_key = key } end
  local published, err = queue.publish("app:tasks", { id = id }, headers)
  if err then error(err) end
  local result = { published = published }
  if mode == "twice" then result.again = queue.publish("app:tasks", { id = id .. "-again" }, headers) end
  if mode == "rollback" then
    result.rolled_back = tx:rollback()
    return result
  end
  if mode == "fail" then error("the handler failed after publishing") end
  if mode == "leave" then return result end
  local committed, commit_err = tx:commit()
  if commit_err then error(commit_err) end
  result.committed = committed
  return result
end

-- Transactions on two databases: the publish belongs to the one begun last.
local function two(id, last_outcome)
  local first = sql.get("app:db"):begin()
  local last = sql.get("app:other"):begin()
  first:execute("INSERT INTO tasks (id, status) VALUES (?, 'queued')", { id })
  queue.publish("app:tasks", { id = id })
  if last_outcome == "rollback" then last:rollback() else last:commit() end
  first:commit()
  return true
end

local function outside(id, key)
  local published, err = queue.publish("app:tasks", { id = id }, { unique_key = key })
  if err then error(err) end
  return published
end

return { main = main, two = two, outside = outside }
`;

const MEMORY_APP = `
- name: db
  kind: db.sql.sqlite
  file: "{dir}/app.db"
  lifecycle: { auto_start: true }
- name: driver
  kind: queue.driver.memory
  max_length: 1
  publish_timeout: 0
- name: tasks
  kind: queue.queue
  driver: app:driver
${FUNCTIONS}`;

const TWO_DATABASES_APP = `${MEMORY_APP.replace("max_length: 1", "max_length: 10")}
- name: other
  kind: db.sql.sqlite
  file: "{dir}/other.db"
  lifecycle: { auto_start: true }
`;

/** Room for every message these tests publish without consuming. */
const ROOMY_MEMORY_APP = MEMORY_APP.replace("max_length: 1", "max_length: 10");

const SQLITE_QUEUE_APP = `
- name: db
  kind: db.sql.sqlite
  file: "{dir}/app.db"
  lifecycle: { auto_start: true }
- name: driver
  kind: queue.driver.sqlite
  db: app:db
  lifecycle: { auto_start: true }
- name: tasks
  kind: queue.queue
  driver: app:driver
${FUNCTIONS}`;

async function startApp(yaml: string) {
  const { snippet } = await start(yaml, { "create.lua": CREATE_LUA });
  const db = snippet.supervisor.component<SqlDatabase>("app:db");
  await db.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT NOT NULL)");
  const tasks = snippet.supervisor.component<QueueEntry>("app:tasks");
  const call = (id: string, ...args: unknown[]) => callLua(snippet, id, args);
  const rows = async () => (await db.query("SELECT id FROM tasks ORDER BY id")).map((row) => row.id);
  const waiting = async () => (await tasks.browse({ state: "waiting", order: "oldest", limit: 10, offset: 0 })).messages.map((message) => message.body);
  return { db, tasks, call, rows, waiting };
}

async function callLua(snippet: StartedSnippet, id: string, args: unknown[]): Promise<unknown> {
  const result = await snippet.supervisor.component<CallableComponent>(`app:${id}`).callable().call(args);
  if (result.error) throw result.error;
  return result.value;
}

describe("a Lua publish to a memory queue inside a transaction", () => {
  test("to a full queue: tx:commit() commits, then waits for room while a consumer's own writes go through", async () => {
    const { db, tasks, call, waiting } = await startApp(MEMORY_APP);
    assert.deepEqual(await call("create", "first"), { published: true, committed: true }); // fills the queue (max_length 1)

    let secondSettled = false;
    const second = call("create", "second").finally(() => (secondSettled = true));
    // Before, the publish waited for room inside the transaction: this row never committed.
    await waitUntil(async () => (await db.query("SELECT id FROM tasks WHERE id = 'second'")).length === 1, "the second row to commit", WAIT_MS);
    assert.equal(secondSettled, false, "tx:commit() returns once the message is in the queue");
    assert.deepEqual(await waiting(), [{ id: "first" }]);

    // A consumer writes to the same database before it acks, as the tutorial's does.
    const received: Delivery[] = [];
    await tasks.consume({ prefetch: 1 }, (delivery) => received.push(delivery));
    await waitUntil(() => received.length === 1, "the first delivery", WAIT_MS);
    assert.equal((await db.execute("UPDATE tasks SET status = 'completed' WHERE id = 'first'")).rowsAffected, 1);
    await received[0].ack();

    assert.deepEqual(await second, { published: true, committed: true });
    await waitUntil(() => received.length === 2, "the second delivery", WAIT_MS);
    assert.deepEqual(received[1].message.body, { id: "second" });
    await received[1].ack();
  });

  test("a unique publish to a full queue: its key is held from the publish, the message enters after the commit", async () => {
    const { db, tasks, call } = await startApp(MEMORY_APP);
    await call("create", "first");
    const second = call("create", "second", "commit", "report:2");
    await waitUntil(async () => (await db.query("SELECT id FROM tasks WHERE id = 'second'")).length === 1, "the second row to commit", WAIT_MS);
    assert.equal(await call("publish_outside", "meanwhile", "report:2"), false, "the key is held while the message waits for room");

    const received: Delivery[] = [];
    await tasks.consume({ prefetch: 1 }, (delivery) => received.push(delivery));
    await waitUntil(() => received.length === 1, "the first delivery", WAIT_MS);
    await received[0].ack();
    assert.deepEqual(await second, { published: true, committed: true });
    await waitUntil(() => received.length === 2, "the second delivery", WAIT_MS);
    assert.deepEqual(received[1].message.body, { id: "second" });
  });

  test("tx:commit() admits the message exactly once, and a second publish with its key in the transaction is a duplicate", async () => {
    const { tasks, call, rows, waiting } = await startApp(ROOMY_MEMORY_APP);
    assert.deepEqual(await call("create", "plain"), { published: true, committed: true });
    assert.deepEqual(await call("create", "keyed", "twice", "report:1"), { published: true, again: false, committed: true });
    assert.deepEqual(await rows(), ["keyed", "plain"]);
    assert.deepEqual(await waiting(), [{ id: "plain" }, { id: "keyed" }]);
    assert.equal(await call("publish_outside", "after", "report:1"), false, "the committed message holds its key");
    assert.deepEqual(await tasks.stats(), { ready: 2, inFlight: 0, delayed: 0, dead: 0 });
  });

  test("tx:rollback() discards the message and frees its unique key", async () => {
    const { tasks, call, rows, waiting } = await startApp(ROOMY_MEMORY_APP);
    assert.deepEqual(await call("create", "plain", "rollback"), { published: true, rolled_back: true });
    assert.deepEqual(await call("create", "keyed", "rollback", "report:3"), { published: true, rolled_back: true });
    assert.deepEqual(await rows(), []);
    assert.deepEqual(await tasks.stats(), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    assert.equal(await call("publish_outside", "after the rollback", "report:3"), true, "the rollback freed the key");
    assert.deepEqual(await waiting(), [{ id: "after the rollback" }]);
  });

  test("a call that fails or returns with its transaction open rolls it back, and its publish with it", async () => {
    const { tasks, call, rows } = await startApp(ROOMY_MEMORY_APP);
    await assert.rejects(call("create", "failed", "fail", "report:4"), /the handler failed after publishing/);
    assert.deepEqual(await call("create", "left open", "leave", "report:5"), { published: true });
    assert.deepEqual(await rows(), []);
    assert.deepEqual(await tasks.stats(), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    assert.equal(await call("publish_outside", "again", "report:4"), true, "the failed call's key was freed");
    assert.equal(await call("publish_outside", "again", "report:5"), true, "the open transaction's key was freed");
  });

  test("with transactions open on two databases, a publish belongs to the one begun last", async () => {
    const { call, rows, waiting } = await startApp(TWO_DATABASES_APP);
    assert.equal(await call("two", "discarded", "rollback"), true);
    assert.deepEqual(await rows(), ["discarded"], "the first transaction committed its row");
    assert.deepEqual(await waiting(), [], "the last one's rollback discarded the message");
    assert.equal(await call("two", "admitted", "commit"), true);
    assert.deepEqual(await waiting(), [{ id: "admitted" }]);
  });
});

describe("a Lua publish to a SQLite queue in the same database inside a transaction", () => {
  test("is written in the transaction: a rollback takes it back, a commit keeps it with the row", async () => {
    const { call, rows, waiting } = await startApp(SQLITE_QUEUE_APP);
    assert.deepEqual(await call("create", "rolled back", "rollback", "report:6"), { published: true, rolled_back: true });
    assert.deepEqual(await waiting(), []);
    assert.deepEqual(await call("create", "kept", "commit", "report:6"), { published: true, committed: true });
    assert.deepEqual(await rows(), ["kept"]);
    assert.deepEqual(await waiting(), [{ id: "kept" }]);
  });
});
