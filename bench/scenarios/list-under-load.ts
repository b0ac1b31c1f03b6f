/**
 * @module bench/scenarios/list-under-load — scenario 4: GET /tasks (the default first page, 100
 * tasks) at 50 connections while a 5-connection POST load keeps the consumers busy, so reads
 * share the process and the database with intake and processing.
 *
 * Its baseline says what bounds the figure on this machine: hono + better-sqlite3 (FULL) answering
 * the same page with the app's own statements and JSON (app/task_pages.ts) on the same seeded
 * table, while the same 5-connection POST load INSERTs rows into it (no queue, no consumers).
 */
import { postMany } from "../lib/post-many.ts";
import { KEYS } from "../lib/results.ts";
import { CONNECTIONS, TASK_BODY } from "../lib/settings.ts";
import { readNumbers } from "../lib/sqlite-progress.ts";
import { freshDatabaseFile, type ScenarioContext } from "./context.ts";
import { loadMeasurement, measureServer } from "./measure-server.ts";
import { baselineProcess, taskrtProcess } from "./servers.ts";

const SCENARIO = "4. GET /tasks while tasks are processed";
/** Tasks stored before the reads start, so every page is full. */
const SEEDED_TASKS = 1_000;
const WRITER_CONNECTIONS = 5;

interface Writes {
  posted: number;
  rps: number;
}

export async function runListUnderLoad(context: ScenarioContext): Promise<void> {
  await measureTaskrt(context);
  if (context.cpuProfileDir) return; // a profiling re-run needs only taskrt's own figures
  await measureBaseline(context);
}

async function measureTaskrt(context: ScenarioContext): Promise<void> {
  const dbFile = freshDatabaseFile(context, "list-under-load");
  let writes: Writes = { posted: 0, rps: 0 };
  let completedDuring = 0;
  const countCompleted = (): number => readNumbers(dbFile, "SELECT count(*) AS n FROM tasks WHERE status = 'completed'").n;

  context.log(`${SCENARIO}: taskrt`);
  const run = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (list under load)", port, dbFile, queue: "durable", consumers: "running", cpuProfileDir: context.cpuProfileDir }),
    load: { method: "GET", path: "/tasks" },
    beforeLoad: (baseUrl) => seed(baseUrl),
    during: async (baseUrl) => {
      const before = countCompleted();
      writes = await writeInBackground(context, baseUrl);
      completedDuring = countCompleted() - before;
    },
  });
  const notes = [`meanwhile ${WRITER_CONNECTIONS} connections POSTed ${writes.posted} tasks (${Math.round(writes.rps)}/s) and ${completedDuring} tasks completed`];
  context.results.measurements.push(loadMeasurement(KEYS.listUnderLoad, SCENARIO, "taskrt, GET /tasks (page of 100), durable queue", run, notes));
}

async function measureBaseline(context: ScenarioContext): Promise<void> {
  const dbFile = freshDatabaseFile(context, "list-under-load-baseline");
  let writes: Writes = { posted: 0, rps: 0 };
  context.log(`${SCENARIO}: hono + better-sqlite3`);
  const run = await measureServer(context, {
    launch: (port) => baselineProcess("hono-sqlite", "hono + better-sqlite3 (list under load)", port, { DB_FILE: dbFile, SYNCHRONOUS: "FULL" }),
    load: { method: "GET", path: "/tasks" },
    beforeLoad: (baseUrl) => seed(baseUrl),
    during: async (baseUrl) => {
      writes = await writeInBackground(context, baseUrl);
    },
  });
  const notes = [`meanwhile ${WRITER_CONNECTIONS} connections POSTed ${writes.posted} tasks (${Math.round(writes.rps)}/s), one autocommit INSERT each`];
  context.results.measurements.push(
    loadMeasurement(KEYS.listUnderLoadBaseline, SCENARIO, "(a) hono + better-sqlite3 (FULL), the app's GET /tasks statements and JSON", run, notes),
  );
}

async function seed(baseUrl: string): Promise<void> {
  const seeded = await postMany({ url: `${baseUrl}/tasks`, body: TASK_BODY, count: SEEDED_TASKS, connections: CONNECTIONS });
  if (seeded.accepted !== SEEDED_TASKS) throw new Error(`seeding GET /tasks: accepted ${seeded.accepted} of ${SEEDED_TASKS}: ${seeded.rejections.join("; ")}`);
}

async function writeInBackground(context: ScenarioContext, baseUrl: string): Promise<Writes> {
  const background = await context.tool.run({ url: `${baseUrl}/tasks`, method: "POST", body: TASK_BODY, connections: WRITER_CONNECTIONS, seconds: context.durations.loadSeconds });
  return { posted: background.requests, rps: background.rps };
}

