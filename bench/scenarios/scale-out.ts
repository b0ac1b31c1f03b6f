/**
 * @module bench/scenarios/scale-out — optional scenario `--only scale-out`: one taskrt process
 * against two, both running `examples/scale-out/_index.yaml` on the local PostgreSQL and RabbitMQ,
 * for POST /tasks intake and for the drain of N queued tasks. Skipped with the reason when either
 * server does not answer. Its table is a section of its own after the report's.
 *
 * - Intake: the processes run with consumers on (as users run them); the load tool's 50
 *   connections are split evenly across their ports (one load process per port, at the same
 *   time); throughput is the sum, latencies the worse of the two.
 * - Drain: N tasks are POSTed to one process whose task consumer is paused, which is then stopped;
 *   then one or two processes with consumers running are spawned together and timed from the
 *   first completion to the last (`processed_at` in PostgreSQL).
 *
 * Every measurement gets a PostgreSQL schema and queue names of its own, dropped and deleted
 * afterwards (a retry's delay queue, if one was made, expires on its own a minute later).
 * SCALE_OUT_REGISTRY measures a variant of the registry (it must take the same overrides).
 */
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { RABBITMQ_HOST, RABBITMQ_PORT, RABBITMQ_URL, withRawChannel } from "../../runtime/drivers/queue/amqp-test-support.ts";
import { LOCAL_POSTGRES, probeTcp } from "../../test/support/services.ts";
import type { LoadResult } from "../lib/load-tool.ts";
import type { BenchOptions } from "../lib/options.ts";
import { postMany } from "../lib/post-many.ts";
import { RunningProcess, freePort, waitForHttp, type ProcessSpec } from "../lib/processes.ts";
import { cpuNote } from "../lib/report.ts";
import { CONNECTIONS, CONSUMER_CONCURRENCY, CONSUMER_PREFETCH, REPO_ROOT, TASK_BODY } from "../lib/settings.ts";
import { TASKRT_CLI } from "./servers.ts";
import type { ScenarioContext } from "./context.ts";

export const SCALE_OUT = "scale-out";
export const SCALE_OUT_USAGE = `
  --only scale-out         also (or, alone, only) run the optional scale-out scenario: one taskrt
                           process vs two on the local PostgreSQL + RabbitMQ (examples/scale-out);
                           skipped with the reason when either does not answer`;

const REGISTRY = process.env.SCALE_OUT_REGISTRY ?? "examples/scale-out/_index.yaml";
const DRAIN_TIMEOUT_MS = 180_000;
const SERVICES_ENV = {
  PGHOST: LOCAL_POSTGRES.host,
  PGPORT: String(LOCAL_POSTGRES.port),
  PGDATABASE: LOCAL_POSTGRES.database,
  PGUSER: LOCAL_POSTGRES.user,
  AMQP_URL: RABBITMQ_URL,
  APP_WORK_DELAY: "0",
};

export interface ScaleOutSelection {
  /** The arguments with `scale-out` taken out of `--only`, for parseBenchOptions. */
  argv: string[];
  requested: boolean;
  /** `--only scale-out` and nothing else: none of the other scenarios run. */
  alone: boolean;
  outGiven: boolean;
}

/** Takes `scale-out` out of every `--only` list (the other scenarios are parsed as before). */
export function takeScaleOutOption(argv: readonly string[]): ScaleOutSelection {
  const rest: string[] = [];
  let requested = false;
  let othersNamed = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    const value = argv[index + 1];
    if (argument !== "--only" || value === undefined) {
      rest.push(argument);
      continue;
    }
    index++;
    const names = value.split(",").map((name) => name.trim());
    const others = names.filter((name) => name !== SCALE_OUT);
    if (others.length < names.length) requested = true;
    if (others.length > 0) {
      othersNamed = true;
      rest.push(argument, others.join(","));
    }
  }
  return { argv: rest, requested, alone: requested && !othersNamed, outGiven: argv.includes("--out") };
}

/** With `--only scale-out` alone: no other scenario, and a partial run never replaces bench/RESULTS.md. */
export function applyScaleOutSelection(options: BenchOptions, selection: ScaleOutSelection): BenchOptions {
  if (!selection.alone) return options;
  return { ...options, scenarios: [], out: selection.outGiven ? options.out : path.join(REPO_ROOT, "bench", "tmp", "RESULTS.partial.md") };
}

interface Row {
  measurement: string;
  processes: number;
  throughput: number;
  unit: "req/s" | "tasks/s";
  p50Ms?: number;
  p99Ms?: number;
  /** Largest peak RSS among the processes. */
  peakRssMb: number;
  notes: string[];
}

/** Runs the scenario and returns its Markdown section; a failure is recorded in the results and described in the section. */
export async function runScaleOut(context: ScenarioContext): Promise<string> {
  const title = `scale-out: one process vs two (PostgreSQL + RabbitMQ, \`${REGISTRY}\`)`;
  const missing = await unavailableServices();
  if (missing) {
    context.log(`${title}: skipped: ${missing}`);
    return section(title, [], `Skipped: ${missing}.`);
  }
  const database = new pg.Pool({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database, max: 2 });
  const rows: Row[] = [];
  try {
    for (const processes of [1, 2]) {
      context.log(`${title}: intake, ${processes} process${processes === 1 ? "" : "es"}`);
      rows.push(await withIsolation(database, `intake_${processes}`, (names) => measureIntake(context, names, processes)));
    }
    for (const processes of [1, 2]) {
      context.log(`${title}: drain ${context.durations.drainTasks.toLocaleString("en-US")} tasks, ${processes} process${processes === 1 ? "" : "es"}`);
      rows.push(await withIsolation(database, `drain_${processes}`, (names) => measureDrain(context, database, names, processes)));
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    context.results.failures.push({ scenario: SCALE_OUT, message });
    context.log(`${SCALE_OUT} FAILED: ${message}`);
    return section(title, rows, `Failed: ${message.split("\n")[0]}`);
  } finally {
    await database.end();
  }
  return section(title, rows, "");
}

/** The reason the scenario cannot run, or undefined. */
async function unavailableServices(): Promise<string | undefined> {
  const down: string[] = [];
  if (!(await probeTcp(LOCAL_POSTGRES.host, LOCAL_POSTGRES.port))) down.push(`PostgreSQL is not answering on ${LOCAL_POSTGRES.host}:${LOCAL_POSTGRES.port}`);
  if (!(await probeTcp(RABBITMQ_HOST, RABBITMQ_PORT))) down.push(`RabbitMQ is not answering on ${RABBITMQ_HOST}:${RABBITMQ_PORT}`);
  return down.length > 0 ? down.join("; ") : undefined;
}

interface Isolation {
  schema: string;
  tasksQueue: string;
  deadQueue: string;
}

/** A fresh schema and queue names for one measurement, removed afterwards whatever happened. */
async function withIsolation<T>(database: pg.Pool, label: string, work: (names: Isolation) => Promise<T>): Promise<T> {
  const prefix = `taskrt_bench_${process.pid}_${label}`;
  const names = { schema: prefix, tasksQueue: `${prefix}_tasks`, deadQueue: `${prefix}_dead_tasks` };
  const queues = [names.tasksQueue, `${names.tasksQueue}.dead`, names.deadQueue, `${names.deadQueue}.dead`];
  const clean = async (): Promise<void> => {
    await database.query(`DROP SCHEMA IF EXISTS ${names.schema} CASCADE`);
    await withRawChannel(async (channel) => {
      for (const queue of queues) await channel.deleteQueue(queue);
    });
  };
  await clean();
  await database.query(`CREATE SCHEMA ${names.schema}`);
  try {
    return await work(names);
  } finally {
    await clean();
  }
}

function scaleOutProcess(label: string, port: number, names: Isolation, consumers: "running" | "paused"): ProcessSpec {
  const overrides = [
    `app:gateway:addr=127.0.0.1:${port}`,
    `app:db:options.search_path=${names.schema}`,
    `app:tasks_queue:queue_name=${names.tasksQueue}`,
    `app:dead_tasks:queue_name=${names.deadQueue}`,
    `app:task_consumer:concurrency=${CONSUMER_CONCURRENCY}`,
    `app:task_consumer:prefetch=${CONSUMER_PREFETCH}`,
  ];
  if (consumers === "paused") overrides.push("app:task_consumer:lifecycle.auto_start=false");
  return { label, nodeArgs: [TASKRT_CLI, "run", REGISTRY, ...overrides.flatMap((override) => ["-o", override])], env: SERVICES_ENV };
}

/** Spawns `count` processes at once and waits for every port; stops them all if one fails to come up. */
async function startProcesses(label: string, names: Isolation, count: number, consumers: "running" | "paused"): Promise<{ processes: RunningProcess[]; urls: string[]; readyMs: number[] }> {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const processes = ports.map((port, index) => new RunningProcess(scaleOutProcess(`${label} ${index + 1}`, port, names, consumers)));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  try {
    const readyMs = await Promise.all(processes.map((child, index) => waitForHttp(child, `${urls[index]}/tasks?limit=1`)));
    return { processes, urls, readyMs };
  } catch (error) {
    await stopAll(processes);
    throw error;
  }
}

async function stopAll(processes: RunningProcess[]): Promise<void> {
  await Promise.all(processes.map((child) => child.stop()));
}

async function measureIntake(context: ScenarioContext, names: Isolation, count: number): Promise<Row> {
  const { processes, urls } = await startProcesses("taskrt (scale-out intake)", names, count, "running");
  try {
    const perProcess = Math.floor(CONNECTIONS / count);
    const load = (seconds: number): Promise<LoadResult[]> =>
      Promise.all(urls.map((url) => context.tool.run({ url: `${url}/tasks`, method: "POST", body: TASK_BODY, connections: perProcess, seconds })));
    await load(context.durations.warmupSeconds);
    const serverCpu = (): number => processes.reduce((total, child) => total + child.cpu().userSeconds + child.cpu().systemSeconds, 0);
    const toolBefore = context.tool.cpuSecondsSoFar();
    const serverBefore = serverCpu();
    const started = performance.now();
    const results = await load(context.durations.loadSeconds);
    const wallSeconds = (performance.now() - started) / 1000;
    const gone = processes.find((child) => child.exited);
    if (gone) throw gone.failure("exited during the load");
    const cpu = {
      loadGenerator: context.tool.name,
      loadGeneratorCores: (context.tool.cpuSecondsSoFar() - toolBefore) / wallSeconds,
      serverCores: (serverCpu() - serverBefore) / wallSeconds,
    };
    const notes = [`${perProcess} connections per process`, cpuNote(cpu, os.availableParallelism(), count > 1 ? "the servers together" : "the server")];
    const non2xx = results.reduce((total, result) => total + result.non2xx, 0);
    const socketErrors = results.reduce((total, result) => total + result.socketErrors, 0);
    if (non2xx > 0) notes.push(`${non2xx} responses not 2xx`);
    if (socketErrors > 0) notes.push(`${socketErrors} socket errors`);
    if (count > 1) notes.push(`per process ${results.map((result) => Math.round(result.rps).toLocaleString("en-US")).join(" + ")} req/s`);
    return {
      measurement: "POST /tasks intake, consumers running",
      processes: count,
      throughput: results.reduce((total, result) => total + result.rps, 0),
      unit: "req/s",
      p50Ms: Math.max(...results.map((result) => result.p50Ms)),
      p99Ms: Math.max(...results.map((result) => result.p99Ms)),
      peakRssMb: Math.max(...processes.map((child) => child.memory().peakRssMb)),
      notes,
    };
  } finally {
    await stopAll(processes);
  }
}

async function measureDrain(context: ScenarioContext, database: pg.Pool, names: Isolation, count: number): Promise<Row> {
  const tasks = context.durations.drainTasks;
  const filler = await startProcesses("taskrt (scale-out, filling the queue)", names, 1, "paused");
  try {
    const posted = await postMany({ url: `${filler.urls[0]}/tasks`, body: TASK_BODY, count: tasks, connections: CONNECTIONS });
    if (posted.accepted !== tasks) throw filler.processes[0].failure(`accepted ${posted.accepted} of ${tasks} tasks: ${posted.rejections.join("; ")}`);
  } finally {
    await stopAll(filler.processes);
  }

  const spawnedAt = performance.now();
  const drainers = await startProcesses("taskrt (scale-out, draining)", names, count, "running");
  try {
    await waitForCompleted(database, names.schema, tasks, drainers.processes);
    const doneAt = performance.now();
    const { rows } = await database.query<{ first: string; last: string; n: string }>(
      `SELECT min(processed_at) AS first, max(processed_at) AS last, count(*) AS n FROM ${names.schema}.tasks WHERE status = 'completed'`,
    );
    const { first, last, n } = rows[0];
    if (Number(n) !== tasks) throw new Error(`${Number(n)} completions recorded, expected ${tasks}`);
    const spanMs = Math.max(1, Number(last) - Number(first));
    const notes = [`first to last completion ${(spanMs / 1000).toFixed(2)} s; ${((doneAt - spawnedAt) / 1000).toFixed(2)} s from spawn`];
    if (count > 1) notes.push(`ports answered ${Math.round(Math.max(...drainers.readyMs) - Math.min(...drainers.readyMs))} ms apart`);
    return {
      measurement: `drain ${tasks.toLocaleString("en-US")} queued tasks`,
      processes: count,
      throughput: (tasks / spanMs) * 1000,
      unit: "tasks/s",
      peakRssMb: Math.max(...drainers.processes.map((child) => child.memory().peakRssMb)),
      notes,
    };
  } finally {
    await stopAll(drainers.processes);
  }
}

async function waitForCompleted(database: pg.Pool, schema: string, target: number, workers: RunningProcess[]): Promise<void> {
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const { rows } = await database.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.tasks WHERE status = 'completed'`);
    const done = Number(rows[0].n);
    if (done >= target) return;
    const gone = workers.find((worker) => worker.exited);
    if (gone) throw gone.failure(`exited with ${done} of ${target} tasks completed`);
    if (performance.now() > deadline) throw workers[0].failure(`${done} of ${target} tasks completed after ${DRAIN_TIMEOUT_MS / 1000} s`);
    await sleep(20);
  }
}

/** The Markdown section: one row per measurement, and two processes ÷ one. */
function section(title: string, rows: readonly Row[], remark: string): string {
  const lines = [`## ${title}`, ""];
  if (remark) lines.push(remark, "");
  if (rows.length > 0) {
    lines.push("| measurement | processes | throughput | × one process | p50 | p99 | peak RSS (largest) | notes |", "|---|---:|---:|---:|---:|---:|---:|---|");
    for (const row of rows) {
      const single = rows.find((candidate) => candidate.measurement === row.measurement && candidate.processes === 1);
      const ratio = single && row.processes > 1 ? `${(row.throughput / single.throughput).toFixed(2)}×` : "";
      lines.push(
        `| ${row.measurement} | ${row.processes} | ${Math.round(row.throughput).toLocaleString("en-US")} ${row.unit} | ${ratio} | ${milliseconds(row.p50Ms)} | ${milliseconds(row.p99Ms)} | ${Math.round(row.peakRssMb)} MB | ${row.notes.join("; ").replaceAll("|", "\\|")} |`,
      );
    }
    lines.push(
      "",
      "PostgreSQL, RabbitMQ, the load tool and every taskrt process share this machine's cores: a second process adds CPU only where the first left some idle. On separate machines the processes do not compete for it.",
    );
  }
  return `${lines.join("\n")}\n`;
}

function milliseconds(value: number | undefined): string {
  if (value === undefined) return "—";
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}
