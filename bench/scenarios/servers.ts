/**
 * @module bench/scenarios/servers — how each measured system is launched: the taskrt app in its
 * bench variants (through `-o` overrides only) and the baseline servers and worker.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { buildSync } from "esbuild";
import type { ProcessSpec } from "../lib/processes.ts";
import { CONSUMER_CONCURRENCY, CONSUMER_PREFETCH, REPO_ROOT } from "../lib/settings.ts";

export interface TaskrtVariant {
  label: string;
  /** Relative to the repository root. */
  registry: string;
  port: number;
  /** A file path, or ":memory:". */
  dbFile: string;
  queue: "durable" | "memory";
  /** Paused: the task consumer does not start, so queued tasks stay queued. */
  consumers: "running" | "paused";
  /** `app:db`'s writer; the registry's own setting when left out. */
  writer?: "main" | "thread";
  cpuProfileDir?: string;
}

/** The command users install: the compiled CLI (`npm run bench` builds it first). */
export const TASKRT_CLI = "dist/bin/taskrt.js";

/** `taskrt run app/_index.yaml` (or a variant registry) without the tutorial's 100 ms of simulated work, at concurrency 50. */
export function taskrtProcess(variant: TaskrtVariant): ProcessSpec {
  const overrides = [
    `app:gateway:addr=127.0.0.1:${variant.port}`,
    `app:db:file=${variant.dbFile}`,
    `app:task_consumer:concurrency=${CONSUMER_CONCURRENCY}`,
    `app:task_consumer:prefetch=${CONSUMER_PREFETCH}`,
  ];
  if (variant.queue === "memory") overrides.push("app:tasks_queue:driver=app:memory_driver");
  if (variant.consumers === "paused") overrides.push("app:task_consumer:lifecycle.auto_start=false");
  if (variant.writer) overrides.push(`app:db:writer=${variant.writer}`);
  const profile = variant.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${variant.cpuProfileDir}`] : [];
  if (!existsSync(TASKRT_CLI)) throw new Error(`${TASKRT_CLI} is missing: run npm run build first (npm run bench does)`);
  return {
    label: variant.label,
    nodeArgs: [...profile, TASKRT_CLI, "run", variant.registry, ...overrides.flatMap((override) => ["-o", override])],
    env: { APP_WORK_DELAY: "0" },
  };
}

export type BaselineServer = "hono-sqlite" | "hono-array" | "hono-bullmq";

/** A baseline server under tsx, as taskrt's handlers are. */
export function baselineProcess(server: BaselineServer, label: string, port: number, env: Record<string, string> = {}): ProcessSpec {
  return { label, nodeArgs: ["--import", "tsx", `bench/baselines/${server}.ts`], env: { ...env, PORT: String(port) } };
}

/**
 * A baseline server compiled to JavaScript first (packages stay imports, as taskrt's do), run by
 * plain node: the floor for taskrt's compiled start-up without any TypeScript loader in either.
 */
export function compiledBaselineProcess(server: BaselineServer, label: string, port: number): ProcessSpec {
  // Under the repository (bench/tmp is ignored), so its package imports resolve as the sources' do.
  const outfile = path.join(REPO_ROOT, "bench", "tmp", "baselines", `${server}.mjs`);
  buildSync({ entryPoints: [path.join(REPO_ROOT, "bench", "baselines", `${server}.ts`)], outfile, bundle: true, packages: "external", format: "esm", platform: "node", logLevel: "error" });
  return { label, nodeArgs: [outfile], env: { PORT: String(port) } };
}

export function bullmqWorkerProcess(env: { QUEUE_NAME: string; DB_FILE: string; SYNCHRONOUS: string }): ProcessSpec {
  return {
    label: "BullMQ worker",
    nodeArgs: ["--import", "tsx", "bench/baselines/bullmq-worker.ts"],
    env: { ...env, CONCURRENCY: String(CONSUMER_CONCURRENCY) },
  };
}
