/**
 * @module bench/baselines/postgres-queues — one measurement of one PostgreSQL queue, run in a child
 * process of its own: taskrt's `queue.driver.postgres` (the driver, no HTTP), graphile-worker or
 * pg-boss, each in a schema of its own on the local PostgreSQL, each with a pool of 10 connections
 * for the queue and another 10 for the handlers' INSERTs.
 *
 *   node --import tsx bench/baselines/postgres-queues.ts <taskrt|graphile-worker|pg-boss> <intake|drain> <schema> <jobs>
 *
 * - intake: `jobs` enqueues, one job per call, 50 callers at once; jobs/s from first call to last answer.
 * - drain: `jobs` jobs enqueued first (untimed), then workers with concurrency 50 started and timed
 *   until every job's work is done. The work per job is the same for all three: the tutorial's
 *   action, then an INSERT of its result into a `results` table of the same database.
 *
 * Prints one JSON line: {"jobsPerSecond": …, "ms": …}.
 */
import pg from "pg";
import { run as runGraphile, makeWorkerUtils } from "graphile-worker";
import PgBoss from "pg-boss";
import { PostgresDatabase } from "../../runtime/drivers/sql/postgres.ts";
import { PostgresQueueDriver } from "../../runtime/drivers/queue/postgres.ts";
import { createLogger } from "../../runtime/logger.ts";
import { LOCAL_POSTGRES } from "../../test/support/services.ts";
import { perform, timeOrderedId, type Task } from "./task-request.ts";

const [system, mode, schema, jobsText] = process.argv.slice(2);
const jobs = Number(jobsText);
const CALLERS = 50;
const CONCURRENCY = 50;
const POOL = 10;
const QUEUE = "tasks";
const connectionString = `postgres://${LOCAL_POSTGRES.user}@${LOCAL_POSTGRES.host}:${LOCAL_POSTGRES.port}/${LOCAL_POSTGRES.database}`;

function task(): Task {
  return { id: timeOrderedId(), action: "uppercase", data: { text: "hello world" }, created_at: Date.now() };
}

const INSERT_RESULT = `INSERT INTO ${schema}.results (id, result, processed_at) VALUES ($1, $2, $3)`;

/** `count` calls of `enqueue`, `callers` at a time. */
async function enqueueAll(count: number, callers: number, enqueue: () => Promise<unknown>): Promise<number> {
  let started = 0;
  const begin = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (started < count) {
        started++;
        await enqueue();
      }
    }),
  );
  return performance.now() - begin;
}

/** Resolves when `done()` reaches `target`. */
function doneWhen(target: number): { count(): void; finished: Promise<void> } {
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((settle) => (resolve = settle));
  return {
    count() {
      if (++done === target) resolve();
    },
    finished,
  };
}

interface System {
  enqueue(): Promise<unknown>;
  /** Starts workers; `onDone` after each job's result is committed. */
  work(onDone: () => void): Promise<void>;
  close(): Promise<void>;
}

async function taskrt(results: pg.Pool): Promise<System> {
  const database = new PostgresDatabase({
    id: "bench:db",
    connection: () => ({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, database: LOCAL_POSTGRES.database, user: LOCAL_POSTGRES.user, ssl: false, searchPath: schema, connectTimeoutMs: 10_000 }),
    pool: { maxOpen: POOL, maxIdle: POOL, maxLifetimeMs: 0 },
    closeTimeoutMs: 5000,
  });
  await database.open();
  const driver = new PostgresQueueDriver({ id: "bench:queue", database, ackTimeoutMs: 30_000, pollIntervalMs: 1000, logger: createLogger({ level: "error" }) });
  await driver.start();
  return {
    enqueue: () => driver.publish(QUEUE, task(), {}),
    async work(onDone) {
      await driver.consume(QUEUE, { prefetch: CONCURRENCY }, (delivery) => {
        const job = delivery.message.body as Task;
        void results
          .query(INSERT_RESULT, [job.id, JSON.stringify(perform(job)), Date.now()])
          .then(() => delivery.ack())
          .then(onDone, (error: unknown) => console.error(error));
      });
    },
    async close() {
      await driver.stop();
      await database.close();
    },
  };
}

async function graphile(results: pg.Pool): Promise<System> {
  const pgPool = new pg.Pool({ connectionString, max: POOL });
  const utils = await makeWorkerUtils({ pgPool, schema: `${schema}_graphile` });
  await utils.migrate();
  let runner: Awaited<ReturnType<typeof runGraphile>> | undefined;
  return {
    enqueue: () => utils.addJob("task", task()),
    async work(onDone) {
      runner = await runGraphile({
        pgPool,
        schema: `${schema}_graphile`,
        concurrency: CONCURRENCY,
        noHandleSignals: true,
        pollInterval: 1000,
        taskList: {
          task: async (payload) => {
            const job = payload as Task;
            await results.query(INSERT_RESULT, [job.id, JSON.stringify(perform(job)), Date.now()]);
            onDone();
          },
        },
      });
    },
    async close() {
      await runner?.stop();
      await utils.release();
      await pgPool.end();
    },
  };
}

async function pgBoss(results: pg.Pool): Promise<System> {
  const boss = new PgBoss({ connectionString, schema: `${schema}_pgboss`, max: POOL, supervise: false, schedule: false });
  boss.on("error", (error) => console.error(error));
  await boss.start();
  await boss.createQueue(QUEUE);
  return {
    enqueue: () => boss.send(QUEUE, task()),
    async work(onDone) {
      // pg-boss hands a worker a batch and completes it when the handler resolves: a batch of 50,
      // worked at once, is its nearest equivalent to concurrency 50.
      await boss.work<Task>(QUEUE, { batchSize: CONCURRENCY, pollingIntervalSeconds: 0.5 }, async (batch) => {
        await Promise.all(
          batch.map(async ({ data }) => {
            await results.query(INSERT_RESULT, [data.id, JSON.stringify(perform(data)), Date.now()]);
            onDone();
          }),
        );
      });
    },
    async close() {
      await boss.stop({ graceful: false, wait: true });
    },
  };
}

async function main(): Promise<void> {
  if (!["intake", "drain"].includes(mode) || !Number.isInteger(jobs) || jobs < 1 || !/^[a-z0-9_]+$/.test(schema ?? "")) {
    throw new Error("usage: postgres-queues.ts <taskrt|graphile-worker|pg-boss> <intake|drain> <schema> <jobs>");
  }
  // Every system's handlers write their results through this pool; the queue has a pool of its own.
  const results = new pg.Pool({ connectionString, max: POOL });
  await results.query(`CREATE TABLE IF NOT EXISTS ${schema}.results (id TEXT PRIMARY KEY, result TEXT NOT NULL, processed_at BIGINT NOT NULL)`);
  const make = { taskrt, "graphile-worker": graphile, "pg-boss": pgBoss }[system];
  if (!make) throw new Error(`unknown system ${system}: taskrt, graphile-worker or pg-boss`);
  const queue = await make(results);
  try {
    let ms: number;
    if (mode === "intake") {
      ms = await enqueueAll(jobs, CALLERS, queue.enqueue);
    } else {
      await enqueueAll(jobs, CALLERS, queue.enqueue);
      const progress = doneWhen(jobs);
      const begin = performance.now();
      await queue.work(progress.count);
      await progress.finished;
      ms = performance.now() - begin;
      const { rows } = await results.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${schema}.results`);
      if (Number(rows[0].n) !== jobs) throw new Error(`${rows[0].n} results for ${jobs} jobs`);
    }
    console.log(JSON.stringify({ jobsPerSecond: (jobs / ms) * 1000, ms }));
  } finally {
    await queue.close();
    await results.end();
  }
}

await main();
