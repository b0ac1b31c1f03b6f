/**
 * @module bench/scenarios/intake — scenarios 1 and 2: POST /tasks at 50 connections against taskrt
 * on its durable SQLite queue and on its memory queue, and against the baselines they are held to.
 */
import { KEYS } from "../lib/results.ts";
import { TASK_BODY } from "../lib/settings.ts";
import fs from "node:fs";
import path from "node:path";
import { freshDatabaseFile, type ScenarioContext } from "./context.ts";
import { loadMeasurement, measureServer, type ServerLoad } from "./measure-server.ts";
import { obliterate } from "./bullmq-queues.ts";
import { baselineProcess, taskrtProcess } from "./servers.ts";

const POST_TASK: ServerLoad = { method: "POST", path: "/tasks", body: TASK_BODY };
const DURABLE = "1. POST /tasks intake, durable queue";
const MEMORY = "2. POST /tasks intake, memory queue";

export async function runDurableIntake(context: ScenarioContext): Promise<void> {
  const { results } = context;
  context.log(`${DURABLE}: taskrt, consumers running`);
  const running = await measureServer(context, {
    launch: (port) =>
      taskrtProcess({ registry: context.registry, label: "taskrt (durable)", port, dbFile: freshDatabaseFile(context, "intake-durable"), queue: "durable", consumers: "running", writer: "main", cpuProfileDir: context.cpuProfileDir }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.durableIntake, DURABLE, "taskrt, SQLite queue (FULL), consumers running", running));
  if (context.cpuProfileDir) return; // a profiling re-run needs only taskrt's own figures

  // The write connection on a writer thread (issue 15's design), same app, same load.
  context.log(`${DURABLE}: taskrt, writer thread, consumers running`);
  const writerThread = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (durable, writer thread)", port, dbFile: freshDatabaseFile(context, "intake-durable-thread"), queue: "durable", consumers: "running", writer: "thread" }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.durableIntakeWriterThread, DURABLE, "taskrt, SQLite queue (FULL), `writer: thread`, consumers running", writerThread));

  context.log(`${DURABLE}: taskrt, consumers paused`);
  const paused = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (durable, paused)", port, dbFile: freshDatabaseFile(context, "intake-durable-paused"), queue: "durable", consumers: "paused" }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.durableIntakePaused, DURABLE, "taskrt, SQLite queue (FULL), consumers paused", paused));

  for (const synchronous of ["FULL", "NORMAL"] as const) await measureSqliteBaseline(context, synchronous);
  // Issue 15 judges durable intake against hono + array too: measured here when scenario 2 is not run.
  if (!context.scenarios.includes("intake-memory")) await measureHonoArray(context);

  const bullmqSystem = "baseline (c): hono + BullMQ queue.add per request";
  if (context.bullmqUnavailable) {
    results.skips.push({ key: KEYS.bullmqIntake, scenario: DURABLE, system: bullmqSystem, reason: context.bullmqUnavailable });
    return;
  }
  context.log(`${DURABLE}: baseline hono + BullMQ`);
  const queueName = `taskrt-bench-intake-${process.pid}`;
  try {
    const run = await measureServer(context, { launch: (port) => baselineProcess("hono-bullmq", "hono + BullMQ", port, { QUEUE_NAME: queueName }), load: POST_TASK });
    results.measurements.push(loadMeasurement(KEYS.bullmqIntake, DURABLE, bullmqSystem, run, ["RSS is the hono process only, not Redis"]));
  } finally {
    await obliterate(queueName);
  }
}

export async function runMemoryIntake(context: ScenarioContext): Promise<void> {
  const { results } = context;
  // A profiling re-run profiles both taskrt variants, each into a folder of its own.
  const profileDir = (variant: string): string | undefined => {
    if (!context.cpuProfileDir) return undefined;
    const folder = path.join(context.cpuProfileDir, variant);
    fs.mkdirSync(folder, { recursive: true });
    return folder;
  };
  context.log(`${MEMORY}: taskrt, memory queue, :memory: database`);
  const inMemory = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (memory)", port, dbFile: ":memory:", queue: "memory", consumers: "running", cpuProfileDir: profileDir("memory-db") }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.memoryIntake, MEMORY, "taskrt, memory queue, tasks table in :memory:, consumers running", inMemory));

  context.log(`${MEMORY}: taskrt, memory queue, file database`);
  const fileDb = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (memory queue, file db)", port, dbFile: freshDatabaseFile(context, "intake-memory"), queue: "memory", consumers: "running", cpuProfileDir: profileDir("file-db") }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.memoryIntakeFileDb, MEMORY, "taskrt, memory queue, tasks table in a file (FULL), consumers running", fileDb));
  if (context.cpuProfileDir) return; // a profiling re-run needs only taskrt's own figures

  await measureHonoArray(context);
  // The file-db row is judged against one INSERT per request (FULL): measured here when scenario 1 is not run.
  if (!results.get(KEYS.sqliteFull)) await measureSqliteBaseline(context, "FULL");
}

async function measureHonoArray(context: ScenarioContext): Promise<void> {
  context.log(`${MEMORY}: baseline hono + array`);
  const array = await measureServer(context, { launch: (port) => baselineProcess("hono-array", "hono + array", port), load: POST_TASK });
  context.results.measurements.push(loadMeasurement(KEYS.honoArray, MEMORY, "baseline (b): hono + in-memory array", array));
}

async function measureSqliteBaseline(context: ScenarioContext, synchronous: "FULL" | "NORMAL"): Promise<void> {
  context.log(`${DURABLE}: baseline hono + better-sqlite3, synchronous ${synchronous}`);
  const run = await measureServer(context, {
    launch: (port) => baselineProcess("hono-sqlite", `hono + SQLite (${synchronous})`, port, { DB_FILE: freshDatabaseFile(context, `baseline-sqlite-${synchronous}`), SYNCHRONOUS: synchronous }),
    load: POST_TASK,
  });
  const key = synchronous === "FULL" ? KEYS.sqliteFull : KEYS.sqliteNormal;
  context.results.measurements.push(loadMeasurement(key, DURABLE, `baseline (a): hono + one INSERT per request (WAL, ${synchronous})`, run));
}
