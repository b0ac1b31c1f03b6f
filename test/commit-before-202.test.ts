/**
 * @module test/commit-before-202 — a 202 from POST /tasks means committed: the moment the client
 * has it, another connection to the database file (a separate process's view: the read-only
 * connection opened here) already sees the task row and its queue message. Many requests at once,
 * so they share group commits; a 202 answered before its batch's COMMIT returned would find
 * them missing. Both ways the database can run its writer: on a thread and on the
 * event loop (the app's).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { startApp, type RunningApp } from "./helpers.ts";

process.env.APP_WORK_DELAY = "0";

const REQUESTS = 200;

for (const writer of ["thread", "main"] as const) {
  describe(`POST /tasks answers 202 only once its commit returned (writer: ${writer})`, () => {
    let app: RunningApp;
    let reader: BetterSqlite3.Database;
    before(async () => {
      // Consumers paused: every message stays in the queue table, where the check can find it.
      app = await startApp("app/_index.yaml", { overrides: ["app:task_consumer:lifecycle.auto_start=false", `app:db:writer=${writer}`] });
      reader = new BetterSqlite3(path.join(app.directory, "tasks.db"), { readonly: true, fileMustExist: true });
    });
    after(async () => {
      reader?.close();
      await app?.stop();
    });

    test(`each of ${REQUESTS} concurrent 202s finds its row and its message committed`, async () => {
      const taskRow = reader.prepare("SELECT status FROM tasks WHERE id = ?");
      const message = reader.prepare("SELECT COUNT(*) AS n FROM taskrt_queue_messages WHERE queue = 'tasks_queue' AND json_extract(body, '$.id') = ?");
      const missing: string[] = [];
      await Promise.all(
        Array.from({ length: REQUESTS }, async (_, index) => {
          const response = await fetch(`${app.url}/tasks`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ action: "sum", data: { numbers: [index] } }),
          });
          assert.equal(response.status, 202);
          // Read synchronously as the headers arrive, before anything else runs on this side.
          const { id } = (await response.json()) as { id: string };
          const row = taskRow.get(id) as { status: string } | undefined;
          const messages = (message.get(id) as { n: number }).n;
          if (row?.status !== "queued" || messages !== 1) missing.push(`${id}: row ${JSON.stringify(row)}, messages ${messages}`);
        }),
      );
      assert.deepEqual(missing, []);
    });
  });
}
