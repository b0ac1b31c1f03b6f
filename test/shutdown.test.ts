/**
 * @module test/shutdown — graceful shutdown and leases of the app, run as a child process:
 * SIGTERM lets running handlers finish and hands waiting messages back unattempted; a live
 * process's leases are extended, and a SIGKILLed one's task runs again on the next start.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { startChildApp, type ChildApp } from "./support/child-app.ts";
import { getJson, postJson, waitFor } from "./helpers.ts";

const MESSAGES_TABLE = "taskrt_queue_messages";

interface TaskRow {
  id: string;
  status: string;
  result: string | null;
  error: string | null;
  attempts: number;
}

interface MessageRow {
  task_id: string;
  state: string;
  attempts: number;
  lease_owner: string | null;
}

const temporary = mkdtempSync(path.join(tmpdir(), "taskrt-shutdown-"));
const children: ChildApp[] = [];
let databaseCount = 0;

after(async () => {
  for (const child of children) if (child.isRunning()) await child.kill();
  rmSync(temporary, { recursive: true, force: true });
});

function freshDatabase(): string {
  return path.join(temporary, `tasks-${++databaseCount}.db`);
}

async function start(databaseFile: string, overrides: string[], workDelay: string): Promise<ChildApp> {
  const child = await startChildApp({ databaseFile, overrides, env: { APP_WORK_DELAY: workDelay } });
  children.push(child);
  return child;
}

/** Reads the tasks and the queue's messages straight from the file, once no process holds it. */
function readDatabase(databaseFile: string): { tasks: Map<string, TaskRow>; messages: MessageRow[] } {
  const database = new Database(databaseFile, { readonly: true, fileMustExist: true });
  try {
    const tasks = database.prepare<[], TaskRow>("SELECT id, status, result, error, attempts FROM tasks").all();
    const messages = database
      .prepare<[], MessageRow>(`SELECT json_extract(body, '$.id') AS task_id, state, attempts, lease_owner FROM ${MESSAGES_TABLE} ORDER BY seq`)
      .all();
    return { tasks: new Map(tasks.map((task) => [task.id, task])), messages };
  } finally {
    database.close();
  }
}

async function postTasks(url: string, count: number): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (let index = 0; index < count; index++) {
    const text = `shutdown task ${index}`;
    const response = await postJson(`${url}/tasks`, { action: "uppercase", data: { text } });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    texts.set(response.body.id, text);
  }
  return texts;
}

async function tasksWithStatus(url: string, status: string): Promise<string[]> {
  const { body } = await getJson(`${url}/tasks?status=${status}&limit=1000`);
  return body.tasks.map((task: { id: string }) => task.id);
}

function consumerLog(child: ChildApp, entry: string, pattern: RegExp): string | undefined {
  return child
    .logRecords()
    .filter((record) => record.entry === entry)
    .map((record) => String(record.msg))
    .find((message) => pattern.test(message));
}

describe("graceful shutdown (SIGTERM)", () => {
  test("running handlers finish, waiting messages go back unattempted, and a restart completes the rest", { timeout: 90_000 }, async () => {
    const databaseFile = freshDatabase();
    const overrides = ["app:task_consumer:concurrency=5", "app:task_consumer:prefetch=20"];
    // Each handler works far longer than posting the tasks, seeing five run and signalling take on a
    // busy machine: SIGTERM then finds the first five still running and the other fifteen waiting.
    const first = await start(databaseFile, overrides, "3s");
    const texts = await postTasks(first.url, 20);

    const running = await waitFor(async () => {
      const ids = await tasksWithStatus(first.url, "running");
      return ids.length === 5 ? ids : undefined;
    }, "five tasks to be running", 30_000);
    const exit = await first.terminate();

    assert.deepEqual(exit, { code: 0, signal: null }, first.stderr());
    assert.match(first.stderr(), /^received SIGTERM: stopping — no new requests or messages; in-flight work gets its stop_timeout; SIGTERM again forces exit$/m);
    assert.match(first.stderr(), /^stopped cleanly$/m);

    const { tasks, messages } = readDatabase(databaseFile);
    assert.equal(tasks.size, 20);
    for (const id of running) assert.equal(tasks.get(id)?.status, "completed", `task ${id} was running at SIGTERM and finished`);
    const completed = [...tasks.values()].filter((task) => task.status === "completed");
    const queued = [...tasks.values()].filter((task) => task.status === "queued");
    assert.equal(completed.length + queued.length, 20, `every task is completed or queued: ${JSON.stringify([...tasks.values()])}`);
    assert.ok(queued.length > 0, "some tasks had not started when SIGTERM came");
    for (const task of completed) {
      assert.equal(task.attempts, 1);
      assert.deepEqual(JSON.parse(task.result!), { output: texts.get(task.id)!.toUpperCase() });
    }
    for (const task of queued) assert.equal(task.attempts, 0, `task ${task.id} never started`);
    // Completed tasks were acked; the rest are back in the queue, unleased, with no attempt counted.
    assert.deepEqual(
      messages.map((message) => message.task_id).sort(),
      queued.map((task) => task.id).sort(),
    );
    for (const message of messages) assert.deepEqual({ state: message.state, attempts: message.attempts, lease_owner: message.lease_owner }, { state: "ready", attempts: 0, lease_owner: null });
    // Released: the messages leased ahead of the handlers. A message committed just before SIGTERM may
    // not have been leased yet; it stayed ready and is checked above like the others.
    const stopping = consumerLog(first, "app:task_consumer", /^stopping: /) ?? "";
    const released = /^stopping: stopped taking messages, released (\d+) waiting messages?, waiting up to 10s for 5 running handlers$/.exec(stopping);
    assert.ok(released, stopping);
    assert.ok(Number(released[1]) >= 1 && Number(released[1]) <= queued.length, stopping);

    const second = await start(databaseFile, overrides, "10ms");
    await waitFor(async () => ((await tasksWithStatus(second.url, "completed")).length === 20 ? true : undefined), "all 20 tasks to complete after the restart", 30_000);
    assert.deepEqual(await second.terminate(), { code: 0, signal: null }, second.stderr());

    const final = readDatabase(databaseFile);
    assert.deepEqual(final.messages, []);
    for (const [id, task] of final.tasks) {
      assert.equal(task.status, "completed");
      assert.equal(task.attempts, 1, `task ${id} was delivered once: the release did not count an attempt`);
      assert.deepEqual(JSON.parse(task.result!), { output: texts.get(id)!.toUpperCase() });
    }
  });

  test("a handler still running after stop_timeout is aborted, the process exits 0, and its task runs again after a restart", { timeout: 90_000 }, async () => {
    const databaseFile = freshDatabase();
    const overrides = ["app:task_consumer:concurrency=2", "app:task_consumer:lifecycle.stop_timeout=200ms"];
    const first = await start(databaseFile, overrides, "20s");
    const texts = await postTasks(first.url, 3);
    const running = await waitFor(async () => {
      const ids = await tasksWithStatus(first.url, "running");
      return ids.length === 2 ? ids : undefined;
    }, "two tasks to be running", 30_000);

    // Far less than the 20s the handlers would take: the process must not wait for them, nor hang.
    const exit = await first.terminate(15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `the process exits by itself after stop_timeout:\n${first.stderr()}`);
    assert.match(first.stderr(), /^stopped cleanly$/m);
    assert.ok(consumerLog(first, "app:task_consumer", /^2 handlers still running after 200ms: aborted; their messages stay unsettled$/));

    // The aborted deliveries were handed back at stop, as the not-started one was.
    const { messages } = readDatabase(databaseFile);
    assert.deepEqual(messages.map((message) => message.task_id).sort(), [...texts.keys()].sort());
    for (const message of messages) assert.deepEqual([message.state, message.lease_owner], ["ready", null]);

    const second = await start(databaseFile, overrides, "10ms");
    for (const id of running) {
      const task = await waitFor(async () => {
        const { body } = await getJson(`${second.url}/tasks/${id}`);
        return body.status === "completed" ? body : undefined;
      }, `task ${id} to complete after the restart`, 30_000);
      assert.deepEqual(task.result, { output: texts.get(id)!.toUpperCase() });
    }
    assert.deepEqual(await second.terminate(), { code: 0, signal: null }, second.stderr());
  });
});

describe("leases", () => {
  test("a task running in a process that is SIGKILLed is delivered again once it restarts, as attempt 2, and completes", { timeout: 90_000 }, async () => {
    const databaseFile = freshDatabase();
    const overrides = ["app:queue_driver:ack_timeout=1s"];
    const first = await start(databaseFile, overrides, "5s");
    const posted = await postJson(`${first.url}/tasks`, { action: "uppercase", data: { text: "survive" } });
    assert.equal(posted.status, 202);
    const id: string = posted.body.id;
    await waitFor(async () => ((await getJson(`${first.url}/tasks/${id}`)).body.status === "running" ? true : undefined), "the task to run", 30_000);

    // While the process lives, its lease is extended: past two ack_timeouts the task has not been delivered again.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const stillFirst = (await getJson(`${first.url}/tasks/${id}`)).body;
    assert.deepEqual([stillFirst.status, stillFirst.attempts], ["running", 1]);
    assert.equal(consumerLog(first, "app:queue_driver", /had no effect/), undefined);

    assert.equal((await first.kill()).signal, "SIGKILL");
    const leased = readDatabase(databaseFile).messages;
    assert.equal(leased.length, 1);
    assert.deepEqual([leased[0].task_id, leased[0].state, leased[0].attempts], [id, "leased", 1]);

    const second = await start(databaseFile, overrides, "10ms");
    const done = await waitFor(async () => {
      const { body } = await getJson(`${second.url}/tasks/${id}`);
      return body.status === "completed" ? body : undefined;
    }, "the task to complete after the restart", 30_000);
    assert.equal(done.attempts, 2);
    assert.deepEqual(done.result, { output: "SURVIVE" });
    assert.equal(done.error, null);
    assert.deepEqual(await second.terminate(), { code: 0, signal: null }, second.stderr());
    assert.deepEqual(readDatabase(databaseFile).messages, []);
  });
});
