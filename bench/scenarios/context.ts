/** @module bench/scenarios/context — what every scenario is handed: durations, load generator, scratch space, results. */
import fs from "node:fs";
import path from "node:path";
import type { LoadTool } from "../lib/load-tool.ts";
import type { ScenarioName } from "../lib/options.ts";
import type { BenchResults } from "../lib/results.ts";
import type { Durations } from "../lib/settings.ts";

export interface ScenarioContext {
  durations: Durations;
  /** The registry taskrt runs, relative to the repository root. */
  registry: string;
  tool: LoadTool;
  /** Scratch space of this run (databases, scripts, profiles). */
  tmpDir: string;
  results: BenchResults;
  /** The scenarios of this run: one judged against another's baseline measures it when that one is not run. */
  scenarios: readonly ScenarioName[];
  /** Why BullMQ rows cannot run (no Redis, bullmq not installed), or undefined when they can. */
  bullmqUnavailable: string | undefined;
  /** When set, taskrt children run under `node --cpu-prof` writing into this folder. */
  cpuProfileDir: string | undefined;
  log(line: string): void;
}

/** A fresh path for a SQLite database in the scratch space, with any earlier files of that name removed. */
export function freshDatabaseFile(context: ScenarioContext, name: string): string {
  const file = path.join(context.tmpDir, `${name}.db`);
  for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(file + suffix, { force: true });
  return file;
}
