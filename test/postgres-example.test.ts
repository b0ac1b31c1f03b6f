/**
 * @module test/postgres-example — `taskrt run examples/postgres/_index.yaml` processes share the
 * local PostgreSQL, tasks table and queue alike, with no broker: tasks POSTed round-robin to two
 * processes are each processed once; SIGKILLing a third mid-run loses nothing (its leases are
 * taken back as soon as its connection is gone) and leaves one result per task.
 *
 * Each test has a PostgreSQL schema of its own (the database's search_path, so the queue table
 * lives there too), dropped afterwards.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { startChildApp, type ChildApp } from "./support/child-app.ts";
import { LOCAL_POSTGRES, serviceSkip } from "./support/services.ts";
import { listAll, postRoundRobin, taskProblems, waitForFinalStates, waitForSettledMessages, waitForStuckRunning, type ExpectedTask } from "./support/task-run.ts";

const skip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);

const REGISTRY = "examples/postgres/_index.yaml";
const RUN = `taskrt_pg_example_${process.pid}`;
const CONCURRENCY = 10;
const MAX_ATTEMPTS = 2;
/** The process killed mid-run "works" an hour per task, so it certainly holds leased messages when it dies. */
const VICTIM_WORK_DELAY = "1h";
/** The local server, whatever the developer's own PG* variables say. */
const SERVICES_ENV = {
  PGHOST: LOCAL_POSTGRES.host,
  PGPORT: String(LOCAL_POSTGRES.port),
  PGDATABASE: LOCAL_POSTGRES.database,
  PGUSER: LOCAL_POSTGRES.user,
};

function overrides(schema: string): string[] {
  return [
    `app:db:options.search_path=${schema}`,
    `app:tasks_queue:max_attempts=${MAX_ATTEMPTS}`,
    "app:tasks_queue:backoff.initial=50ms",
    "app:tasks_queue:backoff.jitter=0",
    `app:task_consumer:concurrency=${CONCURRENCY}`,
    `app:task_consumer:prefetch=${CONCURRENCY * 2}`,
  ];
}

describe("examples/postgres: several taskrt processes on PostgreSQL alone", { skip }, () => {
  let database: pg.Pool;
  const apps: ChildApp[] = [];
  const schemas: string[] = [];

  before(() => {
    database = new pg.Pool({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database, max: 2 });
  });

  after(async () => {
    await Promise.all(apps.map((app) => app.terminate(10_000)));
    for (const schema of schemas) await database.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await database.end();
  });

  /** Processes started together (each runs the migration and creates the queue table: they race). */
  async function startProcesses(schema: string, workDelays: string[]): Promise<ChildApp[]> {
    schemas.push(schema);
    await database.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await database.query(`CREATE SCHEMA ${schema}`);
    const starts = await Promise.allSettled(
      workDelays.map((delay) =>
        startChildApp({
          registry: REGISTRY,
          // child-app also sets app:db's `file`; PostgreSQL has none, so it is only warned about and ignored.
          databaseFile: "unused-by-postgres",
          overrides: overrides(schema),
          env: { ...SERVICES_ENV, APP_WORK_DELAY: delay },
        }),
      ),
    );
    const started: ChildApp[] = [];
    for (const start of starts) if (start.status === "fulfilled") started.push(start.value);
    apps.push(...started);
    const failed = starts.find((start) => start.status === "rejected");
    if (failed) throw failed.reason;
    return started;
  }

  function backlog(schema: string): () => Promise<string> {
    return async () => {
      const { rows } = await database.query<{ state: string; n: string }>(`SELECT state, COUNT(*) AS n FROM ${schema}.taskrt_queue_messages GROUP BY state`);
      return `the queue table holds ${rows.map((row) => `${row.n} ${row.state}`).join(", ") || "nothing"}`;
    };
  }

  test("tasks POSTed round-robin to two processes are each processed exactly once, and listed by either", { timeout: 120_000 }, async () => {
    const schema = `${RUN}_two`;
    const [first, second] = await startProcesses(schema, ["5ms", "5ms"]);
    const accepted = new Map<string, ExpectedTask>();
    await postRoundRobin([first, second], 0, 400, accepted);
    assert.equal(accepted.size, 400, "every POST is accepted");

    const rows = await waitForFinalStates(database, schema, accepted, 30_000, backlog(schema));
    assert.deepEqual(taskProblems(rows, accepted, MAX_ATTEMPTS), []);
    // No crash, no expired lease: each task that succeeds ran once (a second run would count attempt 2).
    const ranTwice = rows.filter((row) => row.status === "completed" && row.attempts !== 1).map((row) => row.id);
    assert.deepEqual(ranTwice, [], "no completed task was delivered twice");
    // Every message is settled: none waits or is leased (each ack follows its task's final row).
    await waitForSettledMessages(database, schema, 10_000);

    const listed = await listAll(second);
    assert.deepEqual(listed, [...accepted.keys()].sort().reverse(), "GET /tasks lists every task once, id DESC across pages");
  });

  test("SIGKILLing one of three processes mid-run loses no task and leaves one result per task", { timeout: 120_000 }, async (t) => {
    const schema = `${RUN}_kill`;
    const [steady1, steady2, victim] = await startProcesses(schema, ["5ms", "5ms", VICTIM_WORK_DELAY]);
    const accepted = new Map<string, ExpectedTask>();
    await postRoundRobin([steady1, steady2, victim], 0, 300, accepted);
    assert.equal(accepted.size, 300, "every POST before the kill is accepted");

    // The victim's handlers never finish: rows it marked running stay so.
    const held = await waitForStuckRunning(database, schema, CONCURRENCY, 15_000);
    const killed = await victim.kill();
    assert.equal(killed.signal, "SIGKILL");

    await postRoundRobin([steady1, steady2], 300, 300, accepted);
    assert.equal(accepted.size, 600, "every POST after the kill is accepted by the survivors");

    const rows = await waitForFinalStates(database, schema, accepted, 30_000, backlog(schema));
    // A delivery to the killed process counts as an attempt (as on SQLite: a message that kills
    // every process it reaches must not loop forever), so a fail task it held runs once more.
    assert.deepEqual(taskProblems(rows, accepted, MAX_ATTEMPTS, true), []);
    const finished = new Set(rows.filter((row) => row.status === "completed" || row.status === "failed").map((row) => row.id));
    assert.deepEqual(held.filter((id) => !finished.has(id)), [], "the tasks the killed process was running were finished by the others");

    const survivorsLog = [steady1, steady2].flatMap((app) => app.logRecords());
    assert.ok(
      survivorsLog.some((record) => record.entry === "app:queue_driver" && record.msg === "took back the leases of a process that died"),
      "a survivor took back the victim's leases (not waiting out ack_timeout)",
    );
    assert.ok(steady1.isRunning() && steady2.isRunning(), "the surviving processes are still running");
    t.diagnostic(`600 tasks, ${held.length} held by the killed process and finished by the others`);
  });
});
