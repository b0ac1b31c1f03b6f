/**
 * @module test/lease-recovery — the app killed with tasks in flight and restarted on the same
 * database: the restarted process takes back the dead one's leases at once (its lock next to the
 * database died with it) instead of waiting out `ack_timeout`, and every in-flight task completes.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Database from "better-sqlite3";
import { startChildApp, type ChildApp } from "./support/child-app.ts";
import { postJson, temporaryDirectory, waitFor } from "./helpers.ts";

const TASKS = 8;
const MESSAGES_TABLE = "taskrt_queue_messages";
// A minute of lease: the restarted app must not wait it out. Every task in flight at once.
const OVERRIDES = ["app:queue_driver:ack_timeout=60s", `app:task_consumer:concurrency=${TASKS}`, `app:task_consumer:prefetch=${TASKS}`];
/** Well under the minute a lease lasts: a behaviour bound, not a speed benchmark. */
const RECOVERY_BOUND_MS = 20_000;

const temporary = temporaryDirectory("taskrt-lease-recovery-");
const children: ChildApp[] = [];
after(async () => {
  for (const child of children) if (child.isRunning()) await child.kill();
  temporary.remove();
});

test("tasks in flight when the app is killed complete soon after the restart, long before their leases would expire", { timeout: 120_000 }, async (t) => {
  const databaseFile = path.join(temporary.directory, "tasks.db");
  // The first app's work never finishes: its tasks are all in flight when it is killed.
  const first = await startChildApp({ databaseFile, overrides: OVERRIDES, env: { APP_WORK_DELAY: "10m" } });
  children.push(first);
  const ids: string[] = [];
  for (let index = 0; index < TASKS; index++) {
    const { status, body } = await postJson(`${first.url}/tasks`, { action: "sum", data: { numbers: [index, 1] } });
    assert.equal(status, 202);
    ids.push(body.id);
  }
  const observer = new Database(databaseFile, { readonly: true, fileMustExist: true, timeout: 5_000 });
  t.after(() => observer.close());
  const leased = observer.prepare<[], { count: number }>(`SELECT COUNT(*) AS count FROM ${MESSAGES_TABLE} WHERE state = 'leased'`);
  const statuses = observer.prepare<[], { status: string; attempts: number; result: string | null }>("SELECT status, attempts, result FROM tasks ORDER BY id");
  await waitFor(async () => leased.get()!.count === TASKS && statuses.all().every((row) => row.status === "running"), `all ${TASKS} tasks to be running`, 30_000);

  assert.equal((await first.kill()).signal, "SIGKILL");
  const second = await startChildApp({ databaseFile, overrides: OVERRIDES, env: { APP_WORK_DELAY: "0" } });
  children.push(second);
  const restarted = performance.now();
  const unsettled = observer.prepare<[], { count: number }>(`SELECT COUNT(*) AS count FROM ${MESSAGES_TABLE} WHERE state <> 'dead'`);
  // A task is marked completed by its handler; its message is acked in the commit after that.
  await waitFor(
    async () => statuses.all().every((row) => row.status === "completed") && unsettled.get()!.count === 0,
    `the ${TASKS} tasks to complete and their messages to be acked after the restart`,
    RECOVERY_BOUND_MS,
  );
  t.diagnostic(`in-flight tasks completed ${Math.round(performance.now() - restarted)}ms after the restarted app was ready (ack_timeout 60s)`);

  const rows = statuses.all();
  assert.equal(rows.length, TASKS);
  rows.forEach((row, index) => {
    assert.equal(row.attempts, 2, "the killed process's attempt stays counted");
    assert.deepEqual(JSON.parse(row.result!), { output: index + 1 });
  });
  assert.equal(unsettled.get()!.count, 0, "every message acked");
  assert.deepEqual(await second.terminate(), { code: 0, signal: null });
});
