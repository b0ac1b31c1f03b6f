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
import pg from "pg";
import { RABBITMQ_HOST, RABBITMQ_PORT, RABBITMQ_URL, withRawChannel } from "../runtime/drivers/queue/amqp-test-support.ts";
import { startChildApp, type ChildApp } from "./support/child-app.ts";
import { LOCAL_POSTGRES, serviceSkip } from "./support/services.ts";
import { listAll, postRoundRobin, taskProblems, waitForFinalStates, waitForStuckRunning, type ExpectedTask } from "./support/task-run.ts";

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

    const accepted = new Map<string, ExpectedTask>();
    await postRoundRobin([steady1, steady2, victim], 0, TASKS_BEFORE_KILL, accepted);
    assert.equal(accepted.size, TASKS_BEFORE_KILL, "every POST before the kill is accepted");

    // The victim's handlers never finish: rows it marked running stay so. Wait until it is busy
    // with a full set of them (the steady processes finish theirs in milliseconds).
    const held = await waitForStuckRunning(database, SCHEMA, CONCURRENCY, 15_000);
    const killed = await victim.kill();
    assert.equal(killed.signal, "SIGKILL");

    await postRoundRobin([steady1, steady2], TASKS_BEFORE_KILL, TASKS_AFTER_KILL, accepted);
    assert.equal(accepted.size, TASKS_BEFORE_KILL + TASKS_AFTER_KILL, "every POST after the kill is accepted by the survivors");

    const rows = await waitForFinalStates(database, SCHEMA, accepted, 30_000, async () => {
      const waiting = await withRawChannel(async (channel) => (await channel.checkQueue(TASKS_QUEUE)).messageCount);
      return `${waiting} messages wait in ${TASKS_QUEUE}`;
    });
    assert.equal(rows.length, accepted.size, "one row per accepted task, and no other rows");
    const problems = taskProblems(rows, accepted, 2);
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
});

/** Deletes this run's queues (a missing one is not an error: RabbitMQ's delete is idempotent). */
async function deleteBrokerQueues(): Promise<void> {
  await withRawChannel(async (channel) => {
    for (const name of BROKER_QUEUES) await channel.deleteQueue(name);
  });
}
