/**
 * @module bench/scenarios/drain — scenario 3: N tasks already queued, how fast they all become
 * `completed` in the database. taskrt: the tasks are POSTed with the consumer paused, the app is
 * stopped, then started with consumers running. BullMQ: the jobs are added in bulk, then the
 * worker starts. Both are timed from their first completion to their last (processed_at in their
 * own database), so neither side's process start-up counts; the wall time from spawn is noted.
 */
import Database from "better-sqlite3";
import { toTask, type Task } from "../baselines/task-request.ts";
import { postMany } from "../lib/post-many.ts";
import { RunningProcess, freePort, waitForHttp } from "../lib/processes.ts";
import { KEYS, type Measurement, type MeasurementKey } from "../lib/results.ts";
import { CONNECTIONS, CONSUMER_CONCURRENCY, TASK_BODY } from "../lib/settings.ts";
import { readNumbers, waitForCount } from "../lib/sqlite-progress.ts";
import { addTasks, obliterate } from "./bullmq-queues.ts";
import { freshDatabaseFile, type ScenarioContext } from "./context.ts";
import { bullmqWorkerProcess, taskrtProcess } from "./servers.ts";

const DRAIN_TIMEOUT_MS = 180_000;

export async function runDrain(context: ScenarioContext): Promise<void> {
  const count = context.durations.drainTasks;
  const scenario = `3. drain ${count.toLocaleString("en-US")} queued tasks`;
  context.log(`${scenario}: taskrt`);
  context.results.measurements.push(await drainTaskrt(context, scenario, count));
  if (context.cpuProfileDir) return;

  for (const synchronous of ["FULL", "NORMAL"] as const) {
    const key = synchronous === "FULL" ? KEYS.bullmqWorker : KEYS.bullmqWorkerNormal;
    const system = `baseline (d): BullMQ worker, concurrency ${CONSUMER_CONCURRENCY}, INSERT result (WAL, ${synchronous})`;
    if (context.bullmqUnavailable) {
      context.results.skips.push({ key, scenario, system, reason: context.bullmqUnavailable });
      continue;
    }
    context.log(`${scenario}: baseline BullMQ worker, results ${synchronous}`);
    context.results.measurements.push(await drainBullmq(context, { key, scenario, system, synchronous }, count));
  }
}

async function drainTaskrt(context: ScenarioContext, scenario: string, count: number): Promise<Measurement> {
  const dbFile = freshDatabaseFile(context, "drain");
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;

  const filler = new RunningProcess(taskrtProcess({ registry: context.registry, label: "taskrt (filling the queue)", port, dbFile, queue: "durable", consumers: "paused" }));
  try {
    await waitForHttp(filler, `${baseUrl}/tasks?limit=1`);
    const posted = await postMany({ url: `${baseUrl}/tasks`, body: TASK_BODY, count, connections: CONNECTIONS });
    if (posted.accepted !== count) throw filler.failure(`accepted ${posted.accepted} of ${count} tasks: ${posted.rejections.join("; ")}`);
  } finally {
    await filler.stop();
  }
  const queued = readNumbers(dbFile, "SELECT count(*) AS n FROM tasks WHERE status = 'queued'").n;
  if (queued !== count) throw new Error(`taskrt drain: ${queued} tasks queued after filling, expected ${count}`);

  const drainer = new RunningProcess(
    taskrtProcess({ registry: context.registry, label: "taskrt (draining)", port, dbFile, queue: "durable", consumers: "running", cpuProfileDir: context.cpuProfileDir }),
  );
  try {
    const doneAt = await waitForCount({ file: dbFile, countSql: "SELECT count(*) FROM tasks WHERE status = 'completed'", target: count, worker: drainer, timeoutMs: DRAIN_TIMEOUT_MS });
    return drainMeasurement(KEYS.drain, scenario, "taskrt, SQLite queue (FULL), concurrency 50, prefetch 200", {
      file: dbFile,
      spanSql: "SELECT min(processed_at) AS first, max(processed_at) AS last, count(*) AS n FROM tasks WHERE status = 'completed'",
      count,
      wallMs: doneAt - drainer.spawnedAt,
      peakRssMb: drainer.memory().peakRssMb,
    });
  } finally {
    await drainer.stop();
  }
}

interface BullmqDrain {
  key: MeasurementKey;
  scenario: string;
  system: string;
  synchronous: "FULL" | "NORMAL";
}

async function drainBullmq(context: ScenarioContext, drain: BullmqDrain, count: number): Promise<Measurement> {
  const { key, scenario, system, synchronous } = drain;
  const dbFile = freshDatabaseFile(context, `drain-bullmq-${synchronous}`);
  const database = new Database(dbFile);
  database.pragma("journal_mode = WAL");
  database.exec("CREATE TABLE results (id TEXT PRIMARY KEY, result TEXT NOT NULL, processed_at INTEGER NOT NULL)");
  database.close();

  const queueName = `taskrt-bench-drain-${process.pid}`;
  await obliterate(queueName);
  try {
    await addTasks(queueName, Array.from({ length: count }, () => (toTask(JSON.parse(TASK_BODY)) as { task: Task }).task));
    const worker = new RunningProcess(bullmqWorkerProcess({ QUEUE_NAME: queueName, DB_FILE: dbFile, SYNCHRONOUS: synchronous }));
    try {
      const doneAt = await waitForCount({ file: dbFile, countSql: "SELECT count(*) FROM results", target: count, worker, timeoutMs: DRAIN_TIMEOUT_MS });
      return drainMeasurement(key, scenario, system, {
        file: dbFile,
        spanSql: "SELECT min(processed_at) AS first, max(processed_at) AS last, count(*) AS n FROM results",
        count,
        wallMs: doneAt - worker.spawnedAt,
        peakRssMb: worker.memory().peakRssMb,
      });
    } finally {
      await worker.stop();
    }
  } finally {
    await obliterate(queueName);
  }
}

interface DrainFigures {
  file: string;
  /** Returns first, last (ms timestamps of completions) and n. */
  spanSql: string;
  count: number;
  wallMs: number;
  peakRssMb: number;
}

function drainMeasurement(key: MeasurementKey, scenario: string, system: string, figures: DrainFigures): Measurement {
  const { first, last, n } = readNumbers(figures.file, figures.spanSql);
  if (n !== figures.count) throw new Error(`${system}: ${n} completions recorded, expected ${figures.count}`);
  const spanMs = Math.max(1, last - first);
  return {
    key,
    scenario,
    system,
    throughput: { value: (figures.count / spanMs) * 1000, unit: "tasks/s" },
    peakRssMb: figures.peakRssMb,
    notes: [`first to last completion ${(spanMs / 1000).toFixed(2)} s; ${(figures.wallMs / 1000).toFixed(2)} s from process spawn`],
  };
}
