/**
 * @module bench/scenarios/postgres-queue — optional scenario `--only postgres-queue`: taskrt's
 * `queue.driver.postgres` against graphile-worker and pg-boss on the same local PostgreSQL, for
 * intake (one enqueue per call, 50 callers) and drain (workers with concurrency 50, the same work
 * per job: the action, then an INSERT of its result). Each measurement is a child process
 * (bench/baselines/postgres-queues.ts) with a schema of its own, dropped afterwards; the three
 * systems take turns, in rounds, so the machine's load falls on all of them alike. Skipped with the
 * reason when PostgreSQL does not answer. Its table is a section of its own after the report's.
 */
import { spawn } from "node:child_process";
import os from "node:os";
import pg from "pg";
import { LOCAL_POSTGRES, probeTcp } from "../../test/support/services.ts";
import { REPO_ROOT } from "../lib/settings.ts";
import type { ScenarioContext } from "./context.ts";

export const POSTGRES_QUEUE = "postgres-queue";
export const POSTGRES_QUEUE_USAGE = `
  --only postgres-queue    also (or, alone, only) run the optional PostgreSQL queue comparison:
                           queue.driver.postgres vs graphile-worker and pg-boss on the local
                           PostgreSQL; skipped with the reason when it does not answer`;

const SYSTEMS = ["taskrt", "graphile-worker", "pg-boss"] as const;
const MODES = ["intake", "drain"] as const;
const RUN_TIMEOUT_MS = 600_000;

type System = (typeof SYSTEMS)[number];
type Mode = (typeof MODES)[number];

export interface OptionalSelection {
  /** The arguments with the scenario taken out of `--only`. */
  argv: string[];
  requested: boolean;
  /** Named alone in `--only`: no other scenario runs. */
  alone: boolean;
}

/** Takes `postgres-queue` out of every `--only` list. */
export function takePostgresQueueOption(argv: readonly string[]): OptionalSelection {
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
    const others = names.filter((name) => name !== POSTGRES_QUEUE);
    if (others.length < names.length) requested = true;
    if (others.length > 0) {
      othersNamed = true;
      rest.push(argument, others.join(","));
    }
  }
  return { argv: rest, requested, alone: requested && !othersNamed };
}

interface Measurement {
  system: System;
  mode: Mode;
  round: number;
  jobsPerSecond: number;
  loadAverage: number;
}

/** Runs the comparison and returns its Markdown section; a failure is recorded in the results and described in the section. */
export async function runPostgresQueue(context: ScenarioContext): Promise<string> {
  const jobs = Math.max(1000, Math.round(context.durations.drainTasks / 4));
  const rounds = context.durations.loadSeconds >= 10 ? 2 : 1;
  const title = `PostgreSQL queues: queue.driver.postgres vs graphile-worker 0.16 and pg-boss 10 (${jobs.toLocaleString("en-US")} jobs)`;
  if (!(await probeTcp(LOCAL_POSTGRES.host, LOCAL_POSTGRES.port))) {
    const reason = `PostgreSQL is not answering on ${LOCAL_POSTGRES.host}:${LOCAL_POSTGRES.port}`;
    context.log(`${title}: skipped: ${reason}`);
    return section(title, [], `Skipped: ${reason}.`);
  }
  const admin = new pg.Pool({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database, max: 1 });
  const measurements: Measurement[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const mode of MODES) {
        for (const system of SYSTEMS) {
          context.log(`${POSTGRES_QUEUE}: round ${round}, ${system} ${mode} of ${jobs} jobs`);
          const jobsPerSecond = await measure(admin, system, mode, jobs);
          measurements.push({ system, mode, round, jobsPerSecond, loadAverage: os.loadavg()[0] });
        }
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    context.results.failures.push({ scenario: POSTGRES_QUEUE, message });
    context.log(`${POSTGRES_QUEUE} FAILED: ${message}`);
    return section(title, measurements, `Failed: ${message.split("\n")[0]}`);
  } finally {
    await admin.end();
  }
  return section(title, measurements, "");
}

async function measure(admin: pg.Pool, system: System, mode: Mode, jobs: number): Promise<number> {
  const schema = `taskrt_bench_pgq_${process.pid}`;
  const drop = async (): Promise<void> => {
    for (const name of [schema, `${schema}_graphile`, `${schema}_pgboss`]) await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  };
  await drop();
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    const output = await runChild(["--import", "tsx", "bench/baselines/postgres-queues.ts", system, mode, schema, String(jobs)]);
    const line = output.trim().split("\n").reverse().find((candidate) => candidate.startsWith("{\"jobsPerSecond\""));
    if (!line) throw new Error(`${system} ${mode}: no result printed; output ends:\n${output.slice(-1500)}`);
    return (JSON.parse(line) as { jobsPerSecond: number }).jobsPerSecond;
  } finally {
    await drop();
  }
}

function runChild(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${args.slice(3, 5).join(" ")} exited with ${signal ?? code}; output ends:\n${output.slice(-1500)}`));
    });
  });
}

/** One row per system and mode: each round's jobs/s, and taskrt ÷ that system in the same round. */
function section(title: string, measurements: readonly Measurement[], remark: string): string {
  const lines = [`## ${title}`, ""];
  if (remark) lines.push(remark, "");
  if (measurements.length > 0) {
    lines.push("| measurement | system | jobs/s per round | taskrt ÷ it, per round | load average (1 min) per round |", "|---|---|---:|---:|---:|");
    for (const mode of MODES) {
      for (const system of SYSTEMS) {
        const own = measurements.filter((row) => row.mode === mode && row.system === system);
        if (own.length === 0) continue;
        const ratios = own.map((row) => {
          const ours = measurements.find((candidate) => candidate.mode === mode && candidate.system === "taskrt" && candidate.round === row.round);
          return system === "taskrt" || !ours ? "" : `${(ours.jobsPerSecond / row.jobsPerSecond).toFixed(2)}×`;
        });
        lines.push(
          `| ${mode === "intake" ? "intake: one enqueue per call, 50 callers" : "drain: concurrency 50, action + INSERT result"} | ${system} | ${own.map((row) => Math.round(row.jobsPerSecond).toLocaleString("en-US")).join(" / ")} | ${ratios.filter(Boolean).join(" / ")} | ${own.map((row) => row.loadAverage.toFixed(1)).join(" / ")} |`,
        );
      }
    }
    lines.push(
      "",
      "Each system in a child process of its own, with a pool of 10 connections for the queue and another 10 for the handlers' INSERTs, on the same PostgreSQL (synchronous_commit on). taskrt: the driver alone (no HTTP), publishes and acks group-committed, claims with SKIP LOCKED, prefetch 50. graphile-worker: `addJob` per call; `run` with concurrency 50 (LISTEN/NOTIFY). pg-boss: `send` per call; one `work` with batchSize 50 (its jobs worked at once) and its shortest polling interval, 0.5 s: a pg-boss worker takes at most one batch per interval.",
    );
  }
  return `${lines.join("\n")}\n`;
}
