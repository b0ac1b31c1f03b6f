import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { TaskrtError } from "../../../errors.ts";
import { ALL_MODULES, TestServices, fakeExchange, responseText, testContext } from "../test-support.ts";
import { LuaWorkerPool, workerCount } from "./pool.ts";
import type { EntrySpec } from "./protocol.ts";

const source = `local sql = require("sql")
local json = require("json")
counter = 0
return {
  add = function(a, b) return a + b end,
  count = function() counter = counter + 1; return counter end,
  yield_forever = function() while true do coroutine.yield() end end,
  pattern = function() return string.find(string.rep("a", 250), ".-.-.-.-b") end,
  sleep = function() require("time").sleep("300ms"); return "slept" end,
  values = function()
    local db = assert(sql.get("app:db"))
    db:execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, note TEXT)")
    db:execute("INSERT INTO t (note) VALUES (?)", { sql.NULL })
    local rows = db:query("SELECT id, note FROM t")
    local decoded, err = json.decode("{bad")
    local unknown, missing = sql.get("app:nope")
    return { rows = #rows, note_is_nil = rows[1].note == nil, decoded = decoded == nil, kind = err:kind(),
      missing = missing:message(), empty = json.encode({}), object = json.encode({ a = { 1, 2 } }) }
  end,
  echo = function()
    local http = require("http")
    local req, res = http.request(), http.response()
    local body, err = req:body_json()
    res:set_header("X-Path", req:path())
    if err then
      res:set_status(http.STATUS.BAD_REQUEST)
      return res:write_json({ error = err:message() })
    end
    res:set_status(http.STATUS.ACCEPTED)
    res:write_json({ got = body, trace = req:header("x-trace"), bad = tostring(res:set_status(999)) })
    require("logger"):info("echoed", { n = body.n })
  end,
  dot_call = function()
    local db = assert(sql.get("app:db"))
    return db.query("SELECT 1")
  end,
}`;

let services: TestServices;
let logLines: string[];

function spec(overrides: Partial<EntrySpec> = {}): Omit<EntrySpec, "key"> {
  return { entryId: "app:test", code: source, fileName: "test.lua", modules: ALL_MODULES, method: "add", maxRunMs: 1000, memoryLimit: 64 * 1024 * 1024, ...overrides };
}

function base() {
  return testContext({ services, logLines });
}

before(async () => {
  services = new TestServices(["app:db"], []);
  await services.openDatabases();
  logLines = [];
});

after(async () => {
  await services.close();
});

describe("the Lua worker pool", () => {
  let pool: LuaWorkerPool;
  before(() => (pool = new LuaWorkerPool(2)));
  after(() => pool.close());

  test("a call runs in a worker and returns its value", async () => {
    const entry = pool.register(spec(), base());
    await pool.load(entry);
    assert.deepEqual(await pool.call(entry, [2, 3], undefined), { value: 5 });
  });

  test("module calls cross to the main thread keeping their semantics: sql.NULL, value-err pairs, {} as []", async () => {
    const entry = pool.register(spec({ method: "values" }), base());
    assert.deepEqual(await pool.call(entry, [], undefined), {
      value: { rows: 1, note_is_nil: true, decoded: true, kind: "INTERNAL", missing: "database app:nope not found", empty: "[]", object: '{"a":[1,2]}' },
    });
  });

  test("an endpoint call: the request travels with the call, the response writes come back, logger lines reach the log", async () => {
    const entry = pool.register(spec({ method: "echo", entryId: "app:echo" }), base());
    const exchange = fakeExchange({ method: "POST", url: "http://example.test/echo", headers: { "X-Trace": "t1" }, body: '{"n":3}' });
    assert.deepEqual(await pool.call(entry, [], { http: exchange }), { value: undefined });
    assert.equal(exchange.response.status, 202);
    assert.equal(exchange.response.headers["x-path"], "/echo");
    assert.deepEqual(JSON.parse(responseText(exchange)), { got: { n: 3 }, trace: "t1", bad: "invalid HTTP status 999: expected an integer from 100 to 599" });
    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === "echoed");
    assert.equal(logged?.n, 3);
    const broken = fakeExchange({ method: "POST", body: "{nope" });
    await pool.call(entry, [], { http: broken });
    assert.equal(broken.response.status, 400);
    assert.match(JSON.parse(responseText(broken)).error, /^request body is not valid JSON: /);
  });

  test("a method called with a dot raises an error at the caller's line, as in the main thread", async () => {
    const entry = pool.register(spec({ method: "dot_call" }), base());
    const result = await pool.call(entry, [], undefined);
    assert.ok(result.error instanceof TaskrtError);
    assert.match(result.error.message, /^test\.lua:35: sql\.DB\.query needs its object: call it as db:query\(\.\.\.\), with a colon/);
  });

  test("a source that does not compile fails its load with the compiler's message", async () => {
    const entry = pool.register(spec({ code: "return {" }), base());
    await assert.rejects(pool.load(entry), (error: TaskrtError) => error.code === "E_SOURCE_INVALID" && error.message === "app:test: test.lua:1:9: unexpected symbol near <eof>");
  });

  test("cancelling a call that yields forever ends it in its worker, not only for the caller", async () => {
    const entry = pool.register(spec({ method: "yield_forever", maxRunMs: 3_600_000 }), base());
    await pool.load(entry);
    const controller = new AbortController();
    const calling = pool.call(entry, [], { signal: controller.signal });
    controller.abort();
    const result = await calling;
    assert.equal((result.error as TaskrtError).code, "E_CANCELED");
    const deadline = Date.now() + 10_000;
    while (pool.inFlight() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(pool.inFlight(), 0, "the worker still runs the cancelled call");
  });
});

describe("a worker stuck in C code", () => {
  let pool: LuaWorkerPool;
  before(() => (pool = new LuaWorkerPool(1)));
  after(() => pool.close());

  test("is replaced: the runaway gets a timeout, the call beside it fails as lost, and the entry works again with fresh globals", async () => {
    const runaway = pool.register(spec({ method: "pattern" }), base());
    const counter = pool.register(spec({ method: "count" }), base());
    const sleeper = pool.register(spec({ method: "sleep", maxRunMs: 60_000 }), base());
    await pool.load(runaway);
    assert.deepEqual(await pool.call(counter, [], undefined), { value: 1 });
    assert.deepEqual(await pool.call(counter, [], undefined), { value: 2 });
    const sleeping = pool.call(sleeper, [], undefined);
    const stuck = await pool.call(runaway, [], undefined);
    assert.equal((stuck.error as TaskrtError).code, "E_LUA_TIMEOUT");
    assert.match(stuck.error!.message, /lua handler app:test exceeded 1000ms and could not be stopped where it was .*its worker was replaced/);
    const lost = await sleeping;
    assert.equal((lost.error as TaskrtError).code, "E_LUA_WORKER_LOST");
    assert.match(lost.error!.message, /app:test: the call was lost: its Lua worker was replaced because lua handler app:test could not be stopped/);
    // The replacement worker loads the entry again: its globals start over.
    assert.deepEqual(await pool.call(counter, [], undefined), { value: 1 });
  });
});

describe("TASKRT_LUA_WORKERS", () => {
  test("sets the number of workers (unset: a core per worker but one for the main thread, at least two); a bad value is refused with a clear message", () => {
    assert.equal(workerCount({ TASKRT_LUA_WORKERS: "3" }), 3);
    assert.equal(workerCount({}, 8), 7);
    assert.equal(workerCount({}, 2), 2);
    assert.equal(workerCount({}, 1), 2);
    assert.throws(() => workerCount({ TASKRT_LUA_WORKERS: "two" }), /^TaskrtError: TASKRT_LUA_WORKERS must be an integer from 1 to 256, got "two"$/);
  });
});

describe("a pool whose workers cannot start", () => {
  test("fails calls and loads with the reason, instead of leaving them waiting", async () => {
    const pool = new LuaWorkerPool(1, new URL("./no-such-worker.js", import.meta.url));
    try {
      const entry = pool.register(spec(), base());
      await assert.rejects(pool.load(entry), /its Lua worker ended while loading the source/);
      const result = await pool.call(entry, [1, 2], undefined);
      assert.equal((result.error as TaskrtError).code, "E_LUA_UNAVAILABLE");
      assert.match(result.error!.message, /^a Lua worker failed to start: it failed: Cannot find module/);
    } finally {
      await pool.close();
    }
  });
});
