import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { getJson, startApp, waitFor, type RunningApp } from "./helpers.ts";

process.env.APP_WORK_DELAY = "20ms";

// POST /tasks publishes inside its database transaction. On the memory driver a full queue used to
// make that publish wait while holding the transaction (and the group commit) the consumers need to
// finish their work and make room: a deadlock that only publish_timeout ended, in 503s. The message
// is now admitted after the commit, so the request waits for room holding nothing: with no timeout
// at all (publish_timeout 0) every request is answered and every task completes.
describe("a full in-memory queue with the tasks table in a file", () => {
  let app: RunningApp;
  before(async () => {
    app = await startApp("app/_index.yaml", {
      overrides: [
        "app:tasks_queue:driver=app:memory_driver",
        "app:memory_driver:max_length=5",
        "app:memory_driver:publish_timeout=0",
        "app:task_consumer:concurrency=2",
      ],
    });
  });
  after(async () => {
    await app?.stop();
  });

  test("keeps flowing: every request gets its 202 and every task completes", async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, async (_, index) => {
        const response = await fetch(`${app.url}/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ action: "sum", data: { numbers: [index] } }),
        });
        return { status: response.status, body: await response.json() };
      }),
    );
    assert.deepEqual(
      answers.map((answer) => answer.status),
      answers.map(() => 202),
      JSON.stringify(answers.filter((answer) => answer.status !== 202)),
    );
    for (const { body } of answers) {
      await waitFor(async () => (await getJson(`${app.url}/tasks/${body.id}`)).body.status === "completed", `task ${body.id} to complete`, 20_000);
    }
  });
});
