import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { getJson, postJson, startApp, waitFor, type RunningApp } from "./helpers.ts";

describe("the task-queue app (app/_index.yaml)", () => {
  let app: RunningApp;
  before(async () => {
    app = await startApp("app/_index.yaml");
  });
  after(async () => {
    await app?.stop();
  });

  test("runs the tutorial's curl flow: queued, then completed with the right outputs", async () => {
    const upper = await postJson(`${app.url}/tasks`, { action: "uppercase", data: { text: "hello world" } });
    assert.equal(upper.status, 202);
    assert.equal(upper.body.status, "queued");
    assert.match(upper.body.id, /^[0-9a-f-]{36}$/);
    const sum = await postJson(`${app.url}/tasks`, { action: "sum", data: { numbers: [1, 2, 3, 4, 5] } });
    const other = await postJson(`${app.url}/tasks`, { action: "shrug" });
    assert.deepEqual([sum.status, other.status], [202, 202]);

    const listed = await waitFor(async () => {
      const { body } = await getJson(`${app.url}/tasks?status=completed`);
      return body.count === 3 ? body : undefined;
    }, "three completed tasks");
    const byId = new Map(listed.tasks.map((task: any) => [task.id, task]));
    assert.deepEqual((byId.get(upper.body.id) as any).result, { output: "HELLO WORLD" });
    assert.deepEqual((byId.get(sum.body.id) as any).result, { output: 15 });
    assert.deepEqual((byId.get(other.body.id) as any).result, { output: "processed" });
    assert.deepEqual((byId.get(sum.body.id) as any).payload.data, { numbers: [1, 2, 3, 4, 5] });
  });

  test("lists tasks newest first, with count, and filters by status", async () => {
    const all = await getJson(`${app.url}/tasks`);
    assert.equal(all.status, 200);
    assert.equal(all.body.count, all.body.tasks.length);
    const created = all.body.tasks.map((task: any) => task.created_at);
    assert.deepEqual(created, [...created].sort((a, b) => b - a));
    const pending = await getJson(`${app.url}/tasks?status=pending`);
    assert.deepEqual(pending.body, { tasks: [], count: 0 });
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
    const huge = JSON.stringify({ action: "uppercase", data: { text: "x".repeat(1_100_000) } });
    const response = await fetch(`${app.url}/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: huge });
    assert.equal(response.status, 413);
    assert.match((await response.json()).error, /request body too large/);
  });
});
