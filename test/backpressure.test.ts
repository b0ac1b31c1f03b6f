import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { getJson, startApp, waitFor, type RunningApp } from "./helpers.ts";

process.env.APP_WORK_DELAY = "20ms";

// POST /tasks publishes inside its database transaction. On the memory driver a full queue makes
// that publish wait while holding the transaction the consumers need to finish their work: without
// a bound on the wait this was a deadlock (every request hung). Now the wait ends in a 503.
describe("a full in-memory queue under overload", () => {
  let app: RunningApp;
  before(async () => {
    app = await startApp("app/_index.yaml", {
      overrides: [
        "app:tasks_queue:driver=app:memory_driver",
        "app:memory_driver:max_length=5",
        "app:memory_driver:publish_timeout=200ms",
        "app:task_consumer:concurrency=2",
      ],
    });
  });
  after(async () => {
    await app?.stop();
  });

  test("answers 503 instead of hanging, and every task that got a 202 is completed", async () => {
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
    const accepted = answers.filter((answer) => answer.status === 202);
    const refused = answers.filter((answer) => answer.status === 503);
    assert.equal(accepted.length + refused.length, answers.length, `only 202 or 503: ${JSON.stringify(answers.map((a) => a.status))}`);
    assert.ok(accepted.length >= 5, "the queue's room was used");
    for (const answer of refused) assert.deepEqual(answer.body, { error: "task store unavailable, task not accepted; retry later" });
    for (const { body } of accepted) {
      await waitFor(async () => (await getJson(`${app.url}/tasks/${body.id}`)).body.status === "completed", `task ${body.id} to complete`, 20_000);
    }
  });
});
