import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import functionLua from "../../kinds/function-lua.ts";
import processLua from "../../kinds/process-lua.ts";
import type { Component } from "../../contracts/component.ts";
import type { CallableComponent, CallScope } from "../handler.ts";
import { TestServices, buildContext, fakeDelivery, fakeExchange, luaEntry, responseText } from "./test-support.ts";

// The Wippy tutorial's four Lua files, verbatim (docs: tutorials/task-queue), with its entries' fields.
// The tutorial's own files (test/wippy-tutorial.test.ts checks they are the seed's, byte for byte).
const root = path.resolve("examples/wippy-tutorial/src");
const entries = {
  migrate: luaEntry("process.lua", "migrate", root, { source: "file://migrate.lua", method: "main", modules: ["sql", "logger"] }),
  create_task: luaEntry("function.lua", "create_task", root, { source: "file://create_task.lua", method: "handler", modules: ["http", "queue", "uuid"] }),
  list_tasks: luaEntry("function.lua", "list_tasks", root, { source: "file://list_tasks.lua", method: "handler", modules: ["http", "sql"] }),
  process_task: luaEntry("function.lua", "process_task", root, {
    source: "file://process_task.lua",
    method: "main",
    modules: ["queue", "sql", "logger", "time", "json"],
  }),
};

type Started = Component & CallableComponent;
let services: TestServices;
const logLines: string[] = [];
const components: Record<string, Started> = {};

function call(name: keyof typeof entries, args: unknown[] = [], scope?: CallScope) {
  return components[name].callable().call(args, scope);
}

async function rows(): Promise<Record<string, unknown>[]> {
  return services.database("app:db").query("SELECT * FROM tasks ORDER BY created_at, id");
}

before(async () => {
  services = new TestServices(["app:db"], ["app:tasks_queue"]);
  await services.openDatabases();
  for (const [name, entry] of Object.entries(entries)) {
    const kind = entry.kind === "process.lua" ? processLua : functionLua;
    components[name] = kind.create(entry, buildContext(root, services, logLines)) as Started;
    await components[name].start!();
  }
});

after(async () => {
  for (const component of Object.values(components)) await component.stop!();
  await services.close();
});

describe("the Wippy tutorial's Lua files", () => {
  test("each file passes the kind's check", async () => {
    const registry = { root, entries: [], byId: new Map() };
    for (const entry of Object.values(entries)) {
      assert.deepEqual(await (entry.kind === "process.lua" ? processLua : functionLua).check!(entry, registry), [], entry.id);
    }
  });

  test("migrate.lua creates the tasks table and returns 0, twice over", async () => {
    assert.deepEqual(await call("migrate"), { value: 0 });
    assert.deepEqual(await call("migrate"), { value: 0 });
    assert.deepEqual(await rows(), []);
    assert.ok(logLines.some((line) => JSON.parse(line).msg === "migration complete"));
  });

  test("list_tasks.lua answers an empty list as {tasks: [], count: 0}", async () => {
    const exchange = fakeExchange({ url: "http://localhost/tasks" });
    assert.deepEqual(await call("list_tasks", [], { http: exchange }), { value: undefined });
    assert.equal(exchange.response.status, 200);
    assert.deepEqual(JSON.parse(responseText(exchange)), { tasks: [], count: 0 });
  });

  test("create_task.lua publishes {id, action, data, created_at} and answers 202 {id, status: queued}", async () => {
    const before = Math.floor(Date.now() / 1000);
    const exchange = fakeExchange({ method: "POST", body: JSON.stringify({ action: "uppercase", data: { text: "hello world" } }) });
    assert.deepEqual(await call("create_task", [], { http: exchange }), { value: undefined });
    assert.equal(exchange.response.status, 202);
    const answer = JSON.parse(responseText(exchange));
    assert.deepEqual(Object.keys(answer).sort(), ["id", "status"]);
    assert.equal(answer.status, "queued");
    assert.match(answer.id, /^[0-9a-f-]{36}$/);
    const published = services.published.at(-1)!;
    assert.equal(published.queueId, "app:tasks_queue");
    const task = published.body as Record<string, unknown>;
    assert.deepEqual({ ...task, created_at: 0 }, { id: answer.id, action: "uppercase", data: { text: "hello world" }, created_at: 0 });
    assert.ok((task.created_at as number) >= before);
  });

  test("create_task.lua answers 400 for a missing action or invalid JSON", async () => {
    const missing = fakeExchange({ method: "POST", body: JSON.stringify({ data: {} }) });
    await call("create_task", [], { http: missing });
    assert.equal(missing.response.status, 400);
    assert.deepEqual(JSON.parse(responseText(missing)), { error: "action required" });

    const invalid = fakeExchange({ method: "POST", body: "{not json" });
    await call("create_task", [], { http: invalid });
    assert.equal(invalid.response.status, 400);
    assert.deepEqual(JSON.parse(responseText(invalid)), { error: "invalid JSON" });
  });

  test("create_task.lua answers 500 when the publish fails", async () => {
    const component = functionLua.create(entries.create_task, buildContext(root, new TestServices([], []))) as Started;
    await component.start!();
    try {
      const exchange = fakeExchange({ method: "POST", body: JSON.stringify({ action: "sum" }) });
      await component.callable().call([], { http: exchange });
      assert.equal(exchange.response.status, 500);
      assert.deepEqual(JSON.parse(responseText(exchange)), { error: "failed to queue task" });
    } finally {
      await component.stop!();
    }
  });

  test("process_task.lua, given tasks as a consumer delivers them, inserts each result and returns true", async () => {
    const tasks = [
      { id: "t-upper", action: "uppercase", data: { text: "hello world" }, created_at: 1_700_000_001 },
      { id: "t-sum", action: "sum", data: { numbers: [1, 2, 3.5] }, created_at: 1_700_000_002 },
      { id: "t-other", action: "resize", data: {}, created_at: 1_700_000_003 },
    ];
    const before = Math.floor(Date.now() / 1000);
    const results = await Promise.all(tasks.map((task) => call("process_task", [task], { message: fakeDelivery({ id: task.id, body: task }) })));
    assert.deepEqual(results, [{ value: true }, { value: true }, { value: true }]);
    const stored = await rows();
    assert.deepEqual(
      stored.map(({ processed_at: _processedAt, payload, ...row }) => ({ ...row, payload: JSON.parse(payload as string) })),
      [
        { id: "t-upper", status: "completed", result: '{"output":"HELLO WORLD"}', created_at: 1_700_000_001, payload: tasks[0] },
        { id: "t-sum", status: "completed", result: '{"output":6.5}', created_at: 1_700_000_002, payload: tasks[1] },
        // Wippy's rule: an empty table encodes as [], so the task's `data: {}` is stored as [].
        { id: "t-other", status: "completed", result: '{"output":"processed"}', created_at: 1_700_000_003, payload: { ...tasks[2], data: [] } },
      ],
    );
    for (const row of stored) assert.ok(Number.isInteger(row.processed_at) && (row.processed_at as number) >= before);
  });

  test("list_tasks.lua lists the stored tasks, newest first, and filters by ?status=", async () => {
    const all = fakeExchange({ url: "http://localhost/tasks" });
    await call("list_tasks", [], { http: all });
    const listed = JSON.parse(responseText(all));
    assert.equal(listed.count, 3);
    assert.deepEqual(listed.tasks.map((task: { id: string }) => task.id), ["t-other", "t-sum", "t-upper"]);
    assert.deepEqual(Object.keys(listed.tasks[0]).sort(), ["created_at", "id", "payload", "processed_at", "result", "status"]);

    const none = fakeExchange({ url: "http://localhost/tasks?status=pending" });
    await call("list_tasks", [], { http: none });
    assert.deepEqual(JSON.parse(responseText(none)), { tasks: [], count: 0 });
  });

  test("process_task.lua outside a delivery logs the error and returns false", async () => {
    assert.deepEqual(await call("process_task", [{ id: "x", action: "sum", data: {} }]), { value: false });
    assert.ok(logLines.some((line) => JSON.parse(line).msg === "failed to get message"));
  });
});
