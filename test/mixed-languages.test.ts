import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { getJson, postJson, startApp, waitFor, type RunningApp } from "./helpers.ts";

const EXAMPLE = "examples/mixed-languages";

describe("a registry mixing Lua and TypeScript handlers (examples/mixed-languages)", () => {
  let app: RunningApp;
  before(async () => {
    app = await startApp(EXAMPLE);
  });
  after(async () => {
    await app?.stop();
  });


  test("a task POSTed to the Lua endpoint is processed by the TypeScript consumer and listed by the TypeScript endpoint", async () => {
    const created = await postJson(`${app.url}/tasks`, { action: "sum", data: { numbers: [1, 2, 3, 4, 5] } });
    assert.equal(created.status, 202);
    assert.equal(created.body.status, "queued");

    const listed = await waitFor(
      async () => {
        const { body } = await getJson(`${app.url}/tasks?status=completed`);
        return body.tasks?.find((task: { id: string }) => task.id === created.body.id);
      },
      "the task listed as completed",
      20_000,
    );
    // Decoded by list_tasks.ts: objects, not the JSON strings the Lua tutorial lists.
    assert.deepEqual(listed.result, { output: 15 });
    assert.deepEqual(listed.payload, { id: created.body.id, action: "sum", data: { numbers: [1, 2, 3, 4, 5] }, created_at: listed.created_at });
    assert.ok(Number.isInteger(listed.created_at), "os.time() crossed from Lua as an integer");
    const done = app.logs.map((line) => JSON.parse(line)).find((line) => line.msg === "task completed" && line.id === created.body.id);
    assert.deepEqual({ entry: done?.entry, by: done?.by }, { entry: "app:process_task", by: "typescript" });
  });

  test("Lua's empty table for missing data reaches the TypeScript worker as [], which it treats as no data", async () => {
    const created = await postJson(`${app.url}/tasks`, { action: "uppercase" });
    assert.equal(created.status, 202);
    const listed = await waitFor(
      async () => (await getJson(`${app.url}/tasks`)).body.tasks?.find((task: { id: string }) => task.id === created.body.id),
      "the task listed",
      20_000,
    );
    assert.deepEqual(listed.payload.data, []);
    assert.deepEqual(listed.result, { output: "" });
  });

  test("the Lua endpoint's 400s come back through the same router", async () => {
    assert.deepEqual(await postJson(`${app.url}/tasks`, "{not json"), { status: 400, body: { error: "invalid JSON" } });
    assert.deepEqual(await postJson(`${app.url}/tasks`, { data: {} }), { status: 400, body: { error: "action required" } });
  });

  test("the TypeScript list endpoint filters by status", async () => {
    assert.deepEqual(await getJson(`${app.url}/tasks?status=pending`), { status: 200, body: { tasks: [], count: 0 } });
  });
});

describe("examples/mixed-languages with create_task swapped to its TypeScript twin (create_task.ts)", () => {
  let app: RunningApp;
  before(async () => {
    app = await startApp(EXAMPLE, {
      overrides: ["app:create_task:kind=function.ts", `app:create_task:source=file://${path.resolve(EXAMPLE, "create_task.ts")}`],
    });
  });
  after(async () => {
    await app?.stop();
  });

  test("answers as create_task.lua does: 202 {id, status}, the task processed; the same 400s", async () => {
    const created = await postJson(`${app.url}/tasks`, { action: "uppercase", data: { text: "twin" } });
    assert.equal(created.status, 202);
    assert.deepEqual(Object.keys(created.body).sort(), ["id", "status"]);
    assert.equal(created.body.status, "queued");
    const listed = await waitFor(
      async () => (await getJson(`${app.url}/tasks?status=completed`)).body.tasks?.find((task: { id: string }) => task.id === created.body.id),
      "the task listed as completed",
      20_000,
    );
    assert.deepEqual(listed.result, { output: "TWIN" });
    assert.ok(Number.isInteger(listed.created_at));
    assert.deepEqual(await postJson(`${app.url}/tasks`, "{not json"), { status: 400, body: { error: "invalid JSON" } });
    assert.deepEqual(await postJson(`${app.url}/tasks`, { data: {} }), { status: 400, body: { error: "action required" } });
  });
});
