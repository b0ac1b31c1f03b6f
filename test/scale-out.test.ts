/**
 * @module test/scale-out — three `taskrt run examples/scale-out/_index.yaml` processes share the
 * local PostgreSQL and RabbitMQ: tasks POSTed round-robin to all of them are each processed once
 * into one table, and SIGKILLing one of them mid-run loses nothing (RabbitMQ hands its
 * unacknowledged messages to the others).
 *
 * Each run has a PostgreSQL schema and RabbitMQ queue names of its own (set with `-o` overrides),
 * dropped and deleted afterwards. SCALE_OUT_REGISTRY runs the same test against a variant of the
 * registry (it must take the same overrides).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { RABBITMQ_HOST, RABBITMQ_PORT, RABBITMQ_URL, withRawChannel } from "../runtime/drivers/queue/amqp-test-support.ts";
import { startChildApp, type ChildApp } from "./support/child-app.ts";
import { LOCAL_POSTGRES, serviceSkip } from "./support/services.ts";

const postgresSkip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);
const rabbitmqSkip = await serviceSkip("rabbitmq", RABBITMQ_HOST, RABBITMQ_PORT);

const REGISTRY = process.env.SCALE_OUT_REGISTRY ?? "examples/scale-out/_index.yaml";
const RUN = `taskrt_scale_${process.pid}`;
const SCHEMA = RUN;
const TASKS_QUEUE = `${RUN}_tasks`;
const DEAD_QUEUE = `${RUN}_dead_tasks`;
/** With backoff.jitter=0 every retry waits exactly backoff.initial, so its delay queue has one known name. */
const RETRY_DELAY_MS = 50;
const BROKER_QUEUES = [TASKS_QUEUE, `${TASKS_QUEUE}.dead`, `${TASKS_QUEUE}.delay.${RETRY_DELAY_MS}`, DEAD_QUEUE, `${DEAD_QUEUE}.dead`];

const TASKS_BEFORE_KILL = 300;
const TASKS_AFTER_KILL = 300;
const POSTS_IN_FLIGHT = 15;
const CONCURRENCY = 10;
/** The process killed mid-run "works" an hour per task, so it certainly holds unacknowledged messages when it dies. */
const VICTIM_WORK_DELAY = "1h";

const OVERRIDES = [
  `app:db:options.search_path=${SCHEMA}`,
  `app:tasks_queue:queue_name=${TASKS_QUEUE}`,
  `app:dead_tasks:queue_name=${DEAD_QUEUE}`,
  "app:tasks_queue:max_attempts=2",
  `app:tasks_queue:backoff.initial=${RETRY_DELAY_MS}ms`,
  "app:tasks_queue:backoff.jitter=0",
  `app:task_consumer:concurrency=${CONCURRENCY}`,
  `app:task_consumer:prefetch=${CONCURRENCY * 2}`,
];
/** The local services, whatever the developer's own PG* variables say. */
const SERVICES_ENV = {
  PGHOST: LOCAL_POSTGRES.host,
  PGPORT: String(LOCAL_POSTGRES.port),
  PGDATABASE: LOCAL_POSTGRES.database,
  PGUSER: LOCAL_POSTGRES.user,
  AMQP_URL: RABBITMQ_URL,
};

interface Expected {
  action: string;
  data: Record<string, unknown>;
  /** The result's output, or undefined for a task that must end failed. */
  output?: unknown;
}

/** Task i of the run: mostly work that succeeds, every tenth one a task that always fails. */
function expectedTask(index: number): Expected {
  switch (index % 10) {
    case 0:
      return { action: "fail", data: {} };
    case 1:
    case 4:
    case 7:
      return { action: "sum", data: { numbers: [index, 1, 2] }, output: index + 3 };
    case 5:
      return { action: "echo", data: { index }, output: "processed" };
    default:
      return { action: "uppercase", data: { text: `task ${index}` }, output: `TASK ${index}` };
  }
}

interface TaskRow {
  id: string;
  action: string;
  status: string;
  result: string | null;
  error: string | null;
  attempts: number;
}

describe("scale-out: several taskrt processes on one PostgreSQL and one RabbitMQ", { skip: postgresSkip || rabbitmqSkip }, () => {
  let database: pg.Pool;
  const apps: ChildApp[] = [];

  before(async () => {
    database = new pg.Pool({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database, max: 2 });
    await database.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await database.query(`CREATE SCHEMA ${SCHEMA}`);
    await deleteBrokerQueues();
  });

  after(async () => {
    await Promise.all(apps.map((app) => app.terminate(10_000)));
    await deleteBrokerQueues();
    await database.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await database.end();
  });

  test("tasks POSTed round-robin to three processes are each processed once, and SIGKILLing one mid-run loses none", { timeout: 120_000 }, async (t) => {
    // Started together: each runs the migration, and the three race to create the table.
    const starts = await Promise.allSettled(
      ["steady 1", "steady 2", "victim"].map((role) =>
        startChildApp({
          registry: REGISTRY,
          // child-app also sets app:db's `file`; PostgreSQL has none, so it is only warned about and ignored.
          databaseFile: "unused-by-postgres",
          overrides: OVERRIDES,
          env: { ...SERVICES_ENV, APP_WORK_DELAY: role === "victim" ? VICTIM_WORK_DELAY : "5ms" },
        }),
      ),
    );
    // The ones that did start are stopped by `after` even when another one failed to.
    for (const start of starts) if (start.status === "fulfilled") apps.push(start.value);
    const failedStart = starts.find((start) => start.status === "rejected");
    if (failedStart) throw failedStart.reason;
    const started = [...apps];
    const [steady1, steady2, victim] = started;

    const accepted = new Map<string, Expected>();
    await postRoundRobin([steady1, steady2, victim], 0, TASKS_BEFORE_KILL, accepted);
    assert.equal(accepted.size, TASKS_BEFORE_KILL, "every POST before the kill is accepted");

    // The victim's handlers never finish: rows it marked running stay so. Wait until it is busy
    // with a full set of them (the steady processes finish theirs in milliseconds).
    const held = await waitForStuckRunning(CONCURRENCY, 15_000);
    const killed = await victim.kill();
    assert.equal(killed.signal, "SIGKILL");

    await postRoundRobin([steady1, steady2], TASKS_BEFORE_KILL, TASKS_AFTER_KILL, accepted);
    assert.equal(accepted.size, TASKS_BEFORE_KILL + TASKS_AFTER_KILL, "every POST after the kill is accepted by the survivors");

    const rows = await waitForFinalStates(accepted, 30_000);
    assert.equal(rows.length, accepted.size, "one row per accepted task, and no other rows");
    const problems: string[] = [];
    for (const row of rows) {
      const expected = accepted.get(row.id);
      if (!expected) {
        problems.push(`${row.id}: a row no POST was answered for`);
        continue;
      }
      if (row.action !== expected.action) problems.push(`${row.id}: action ${row.action}, expected ${expected.action}`);
      if (expected.output === undefined) {
        if (row.status !== "failed") problems.push(`${row.id} (fail): status ${row.status}, expected failed`);
        if (!/^action 'fail' always fails \(attempt 2\)$/.test(row.error ?? "")) problems.push(`${row.id} (fail): error ${JSON.stringify(row.error)}`);
        if (row.attempts !== 2) problems.push(`${row.id} (fail): ${row.attempts} attempts recorded, expected 2`);
      } else {
        if (row.status !== "completed") problems.push(`${row.id} (${expected.action}): status ${row.status}, expected completed`);
        const result = row.result === null ? null : (JSON.parse(row.result) as unknown);
        if (JSON.stringify(result) !== JSON.stringify({ output: expected.output })) {
          problems.push(`${row.id} (${expected.action}): result ${row.result}, expected ${JSON.stringify({ output: expected.output })}`);
        }
        if (row.error !== null) problems.push(`${row.id} (${expected.action}): error ${row.error} left on a completed task`);
      }
    }
    assert.deepEqual(problems, [], `${problems.length} tasks are not as expected`);

    const finished = new Set(rows.filter((row) => row.status === "completed" || row.status === "failed").map((row) => row.id));
    assert.deepEqual(
      held.filter((id) => !finished.has(id)),
      [],
      "the tasks the killed process was running were finished by the others",
    );

    // GET /tasks pages through the shared table from any process: newest (highest UUIDv7) first.
    const listed = await listAll(steady2);
    assert.equal(listed.length, accepted.size);
    assert.deepEqual(listed, [...accepted.keys()].sort().reverse(), "GET /tasks lists every task once, id DESC across pages");

    assert.ok(steady1.isRunning() && steady2.isRunning(), "the surviving processes are still running");
    const migrationRetries = started.reduce((total, app) => total + app.logRecords().filter((record) => record.entry === "app:migrate-service" && record.msg === "process failed, restarting").length, 0);
    t.diagnostic(`${accepted.size} tasks, ${held.length} held by the killed process and finished by the others; ${migrationRetries} migration retries at start`);
  });

  /** POSTs tasks first..first+count-1, each to the next process in turn, a few at a time; records every 202. */
  async function postRoundRobin(targets: ChildApp[], first: number, count: number, accepted: Map<string, Expected>): Promise<void> {
    let next = first;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < first + count) {
        const index = next++;
        const expected = expectedTask(index);
        const target = targets[index % targets.length];
        const response = await fetch(`${target.url}/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ action: expected.action, data: expected.data }),
        });
        const body = (await response.json()) as { id?: string; status?: string };
        if (response.status === 202 && typeof body.id === "string" && body.status === "queued") accepted.set(body.id, expected);
        else failures.push(`task ${index} to ${target.url}: ${response.status} ${JSON.stringify(body)}`);
      }
    };
    await Promise.all(Array.from({ length: POSTS_IN_FLIGHT }, worker));
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} POSTs were not accepted`);
  }

  /** Ids of at least `minimum` rows that have been running for over a second. */
  async function waitForStuckRunning(minimum: number, timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await database.query<{ id: string }>(`SELECT id FROM ${SCHEMA}.tasks WHERE status = 'running' AND updated_at < $1`, [Date.now() - 1000]);
      if (rows.length >= minimum) return rows.map((row) => row.id);
      if (Date.now() > deadline) throw new Error(`after ${timeoutMs}ms only ${rows.length} tasks had been running for over a second; expected the victim to hold ${minimum}`);
      await sleep(100);
    }
  }

  /** Every row once none is queued or running any more (a fail task is failed only once dead-lettered). */
  async function waitForFinalStates(accepted: Map<string, Expected>, timeoutMs: number): Promise<TaskRow[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await database.query<TaskRow>(`SELECT id, action, status, result, error, attempts FROM ${SCHEMA}.tasks`);
      const open = rows.filter((row) => row.status !== "completed" && !(row.status === "failed" && accepted.get(row.id)?.output === undefined));
      if (open.length === 0 && rows.length >= accepted.size) return rows;
      if (Date.now() > deadline) {
        const byStatus = new Map<string, number>();
        for (const row of open) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1);
        const summary = [...byStatus].map(([status, count]) => `${count} ${status}`).join(", ");
        const waiting = await withRawChannel(async (channel) => (await channel.checkQueue(TASKS_QUEUE)).messageCount);
        throw new Error(
          `after ${timeoutMs}ms, ${open.length} of ${accepted.size} accepted tasks are not finished (${summary}) while ${waiting} messages wait in ${TASKS_QUEUE}; ${rows.length} rows; e.g. ${JSON.stringify(open.slice(0, 3))}`,
        );
      }
      await sleep(100);
    }
  }

  /** Every task id through GET /tasks, following next_cursor. */
  async function listAll(app: ChildApp): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const response: Response = await fetch(`${app.url}/tasks?limit=250${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(response.status, 200);
      const page = (await response.json()) as { tasks: { id: string }[]; next_cursor: string | null };
      ids.push(...page.tasks.map((task) => task.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    return ids;
  }
});

/** Deletes this run's queues (a missing one is not an error: RabbitMQ's delete is idempotent). */
async function deleteBrokerQueues(): Promise<void> {
  await withRawChannel(async (channel) => {
    for (const name of BROKER_QUEUES) await channel.deleteQueue(name);
  });
}
