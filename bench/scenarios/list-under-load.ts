/**
 * @module bench/scenarios/list-under-load — scenario 4: GET /tasks (the default first page, 100
 * tasks) at 50 connections while a 5-connection POST load keeps the consumers busy, so reads
 * share the process and the database with intake and processing.
 */
import { postMany } from "../lib/post-many.ts";
import { KEYS } from "../lib/results.ts";
import { CONNECTIONS, TASK_BODY } from "../lib/settings.ts";
import { readNumbers } from "../lib/sqlite-progress.ts";
import { freshDatabaseFile, type ScenarioContext } from "./context.ts";
import { loadMeasurement, measureServer } from "./measure-server.ts";
import { taskrtProcess } from "./servers.ts";

const SCENARIO = "4. GET /tasks while tasks are processed";
/** Tasks stored before the reads start, so every page is full. */
const SEEDED_TASKS = 1_000;
const WRITER_CONNECTIONS = 5;

export async function runListUnderLoad(context: ScenarioContext): Promise<void> {
  const dbFile = freshDatabaseFile(context, "list-under-load");
  let writes = { posted: 0, rps: 0, completedDuring: 0 };
  const countCompleted = (): number => readNumbers(dbFile, "SELECT count(*) AS n FROM tasks WHERE status = 'completed'").n;

  context.log(`${SCENARIO}: taskrt`);
  const run = await measureServer(context, {
    launch: (port) => taskrtProcess({ registry: context.registry, label: "taskrt (list under load)", port, dbFile, queue: "durable", consumers: "running", cpuProfileDir: context.cpuProfileDir }),
    load: { method: "GET", path: "/tasks" },
    beforeLoad: async (baseUrl) => {
      const seeded = await postMany({ url: `${baseUrl}/tasks`, body: TASK_BODY, count: SEEDED_TASKS, connections: CONNECTIONS });
      if (seeded.accepted !== SEEDED_TASKS) throw new Error(`seeding GET /tasks: accepted ${seeded.accepted} of ${SEEDED_TASKS}: ${seeded.rejections.join("; ")}`);
    },
    during: async (baseUrl) => {
      const before = countCompleted();
      const background = await context.tool.run({ url: `${baseUrl}/tasks`, method: "POST", body: TASK_BODY, connections: WRITER_CONNECTIONS, seconds: context.durations.loadSeconds });
      writes = { posted: background.requests, rps: background.rps, completedDuring: countCompleted() - before };
    },
  });
  const notes = [
    `meanwhile ${WRITER_CONNECTIONS} connections POSTed ${writes.posted} tasks (${Math.round(writes.rps)}/s) and ${writes.completedDuring} tasks completed`,
  ];
  context.results.measurements.push(loadMeasurement(KEYS.listUnderLoad, SCENARIO, "taskrt, GET /tasks (page of 100), durable queue", run, notes));
}
