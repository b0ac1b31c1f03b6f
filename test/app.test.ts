import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { getJson, postJson, startApp, waitFor, type RunningApp } from "./helpers.ts";
import type { SqlDatabase } from "../runtime/drivers/sql/driver.ts";

process.env.APP_WORK_DELAY = "0";

describe("the task-queue app (app/_index.yaml)", () => {
  let app: RunningApp;
  before(async () => {
    app = await startApp("app/_index.yaml", {
      overrides: ["app:tasks_queue:backoff.initial=10ms", "app:tasks_queue:max_attempts=3", "app:task_consumer:concurrency=4"],
    });
  });
  after(async () => {
    await app?.stop();
  });

  test("runs the tutorial's curl flow: queued, then completed with the right outputs", async () => {
    const upper = await postJson(`${app.url}/tasks`, { action: "uppercase", data: { text: "hello world" } });
    assert.equal(upper.status, 202);
    assert.deepEqual(Object.keys(upper.body), ["id", "status"]);
    assert.equal(upper.body.status, "queued");
    assert.match(upper.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const sum = await postJson(`${app.url}/tasks`, { action: "sum", data: { numbers: [1, 2, 3, 4, 5] } });
    const other = await postJson(`${app.url}/tasks`, { action: "shrug" });
    assert.deepEqual([sum.status, other.status], [202, 202]);

    for (const [id, output] of [[upper.body.id, "HELLO WORLD"], [sum.body.id, 15], [other.body.id, "processed"]]) {
      const task = await waitFor(async () => {
        const { body } = await getJson(`${app.url}/tasks/${id}`);
        return body.status === "completed" ? body : undefined;
      }, `task ${id} to complete`);
      assert.deepEqual(task.result, { output });
      assert.equal(task.attempts, 1);
      assert.equal(task.error, null);
    }
    const completed = await getJson(`${app.url}/tasks?status=completed`);
    assert.ok(completed.body.count >= 3);
    assert.ok(completed.body.tasks.every((task: { status: string }) => task.status === "completed"));
    const sumTask = completed.body.tasks.find((task: { id: string }) => task.id === sum.body.id);
    assert.deepEqual(sumTask.payload.data, { numbers: [1, 2, 3, 4, 5] });
  });

  test("a task whose action keeps failing is retried, then marked failed with its last error", async () => {
    const { body } = await postJson(`${app.url}/tasks`, { action: "fail" });
    const task = await waitFor(async () => {
      const { body: current } = await getJson(`${app.url}/tasks/${body.id}`);
      return current.status === "failed" ? current : undefined;
    }, "the failing task to be marked failed");
    assert.equal(task.attempts, 3);
    assert.equal(task.error, "action 'fail' always fails (attempt 3)");
    assert.equal(task.result, null);
  });

  test("GET /tasks/:id answers 404 for an unknown id", async () => {
    const response = await getJson(`${app.url}/tasks/0190b6c4-0000-7000-8000-000000000000`);
    assert.equal(response.status, 404);
    assert.deepEqual(response.body, { error: "task not found" });
  });

  test("lists newest first, in pages that follow next_cursor to the end", async () => {
    for (let index = 0; index < 5; index++) await postJson(`${app.url}/tasks`, { action: "page", data: { index } });
    const all = await getJson(`${app.url}/tasks?limit=1000`);
    const ids = all.body.tasks.map((task: { id: string }) => task.id);
    assert.deepEqual(ids, [...ids].sort().reverse(), "newest (largest UUIDv7) first");

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await getJson(`${app.url}/tasks?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      assert.ok(page.body.count <= 2);
      seen.push(...page.body.tasks.map((task: { id: string }) => task.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, ids);
  });

  test("rejects an unknown status, listing the valid ones", async () => {
    const response = await getJson(`${app.url}/tasks?status=done`);
    assert.equal(response.status, 400);
    assert.deepEqual(response.body, { error: "unknown status 'done'", valid: ["queued", "running", "completed", "failed"] });
  });

  test("rejects a limit out of range and a cursor that is not ours", async () => {
    const limit = await getJson(`${app.url}/tasks?limit=0`);
    assert.deepEqual([limit.status, limit.body], [400, { error: "limit must be a whole number from 1 to 1000" }]);
    const cursor = await getJson(`${app.url}/tasks?cursor=bogus`);
    assert.deepEqual([cursor.status, cursor.body], [400, { error: "invalid cursor" }]);
  });

  test("answers 400 for a body that is not JSON", async () => {
    const response = await postJson(`${app.url}/tasks`, "{not json");
    assert.equal(response.status, 400);
    assert.deepEqual(response.body, { error: "invalid JSON" });
  });

  test("answers 400 when the action is missing", async () => {
    const response = await postJson(`${app.url}/tasks`, { data: { text: "x" } });
    assert.equal(response.status, 400);
    assert.deepEqual(response.body, { error: "action required" });
  });

  test("answers 413 for a body over the server's limit, without queueing it", async () => {
    const before = (await getJson(`${app.url}/tasks?limit=1000`)).body.count;
    const huge = JSON.stringify({ action: "uppercase", data: { text: "x".repeat(1_100_000) } });
    const response = await fetch(`${app.url}/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: huge });
    assert.equal(response.status, 413);
    assert.match((await response.json()).error, /^request body too large/);
    assert.equal((await getJson(`${app.url}/tasks?limit=1000`)).body.count, before);
  });

  test("a database that cannot be written answers 503, keeps serving reads, and recovers", async () => {
    // Through the driver, so it reaches the write connection wherever it runs (the event loop or a writer thread).
    const database = app.runtime.component<SqlDatabase>("app:db");
    await database.execute("PRAGMA query_only = 1");
    try {
      const refused = await postJson(`${app.url}/tasks`, { action: "uppercase", data: { text: "later" } });
      assert.equal(refused.status, 503);
      assert.deepEqual(refused.body, { error: "task store unavailable, task not accepted; retry later" });
      assert.equal((await getJson(`${app.url}/tasks?limit=1`)).status, 200);
    } finally {
      await database.execute("PRAGMA query_only = 0");
    }
    const accepted = await postJson(`${app.url}/tasks`, { action: "uppercase", data: { text: "now" } });
    assert.equal(accepted.status, 202);
  });
});
