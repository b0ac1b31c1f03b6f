/**
 * @module bench/scenarios/intake — scenarios 1 and 2: POST /tasks at 50 connections against taskrt
 * on its durable SQLite queue and on its memory queue, and against the baselines they are held to.
 */
import { KEYS } from "../lib/results.ts";
import { TASK_BODY } from "../lib/settings.ts";
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
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (durable)", port, dbFile: freshDatabaseFile(context, "intake-durable"), queue: "durable", consumers: "running", cpuProfileDir: context.cpuProfileDir }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.durableIntake, DURABLE, "taskrt, SQLite queue (FULL), consumers running", running));
  if (context.cpuProfileDir) return; // a profiling re-run needs only taskrt's own figures

  context.log(`${DURABLE}: taskrt, consumers paused`);
  const paused = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (durable, paused)", port, dbFile: freshDatabaseFile(context, "intake-durable-paused"), queue: "durable", consumers: "paused" }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.durableIntakePaused, DURABLE, "taskrt, SQLite queue (FULL), consumers paused", paused));

  for (const synchronous of ["FULL", "NORMAL"] as const) {
    context.log(`${DURABLE}: baseline hono + better-sqlite3, synchronous ${synchronous}`);
    const run = await measureServer(context, {
      launch: (port) => baselineProcess("hono-sqlite", `hono + SQLite (${synchronous})`, port, { DB_FILE: freshDatabaseFile(context, `baseline-sqlite-${synchronous}`), SYNCHRONOUS: synchronous }),
      load: POST_TASK,
    });
    const key = synchronous === "FULL" ? KEYS.sqliteFull : KEYS.sqliteNormal;
    results.measurements.push(loadMeasurement(key, DURABLE, `baseline (a): hono + one INSERT per request (WAL, ${synchronous})`, run));
  }

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
  context.log(`${MEMORY}: taskrt, memory queue, :memory: database`);
  const inMemory = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (memory)", port, dbFile: ":memory:", queue: "memory", consumers: "running", cpuProfileDir: context.cpuProfileDir }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.memoryIntake, MEMORY, "taskrt, memory queue, tasks table in :memory:, consumers running", inMemory));
  if (context.cpuProfileDir) return;

  context.log(`${MEMORY}: taskrt, memory queue, file database`);
  const fileDb = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (memory queue, file db)", port, dbFile: freshDatabaseFile(context, "intake-memory"), queue: "memory", consumers: "running" }),
    load: POST_TASK,
  });
  results.measurements.push(loadMeasurement(KEYS.memoryIntakeFileDb, MEMORY, "taskrt, memory queue, tasks table in a file (FULL), consumers running", fileDb));

  context.log(`${MEMORY}: baseline hono + array`);
  const array = await measureServer(context, { launch: (port) => baselineProcess("hono-array", "hono + array", port), load: POST_TASK });
  results.measurements.push(loadMeasurement(KEYS.honoArray, MEMORY, "baseline (b): hono + in-memory array", array));
}
