/** @module bench/lib/settings — the fixed facts every scenario shares: where things are, what is sent, how hard. */
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: children run with it as their working directory. */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** The one request body every POST of every system carries. */
export const TASK_BODY = JSON.stringify({ action: "uppercase", data: { text: "hello world" } });

/** Concurrent keep-alive connections of every measured load. */
export const CONNECTIONS = 50;

/** Consumer settings of the taskrt bench variant (and the BullMQ worker's concurrency). */
export const CONSUMER_CONCURRENCY = 50;
export const CONSUMER_PREFETCH = 200;

/** How long each phase lasts, for a full run and for a smoke run. */
export interface Durations {
  /** One measured load run. */
  loadSeconds: number;
  /** Unmeasured load before it, so both sides are measured with a warm JIT. */
  warmupSeconds: number;
  /** Tasks queued for the drain scenario. */
  drainTasks: number;
  /** Spawns timed by the start-up scenario (after one untimed spawn). */
  startupSpawns: number;
  /** How long a freshly started server sits idle before its idle RSS is read. */
  idleMs: number;
}

export const FULL_DURATIONS: Durations = { loadSeconds: 10, warmupSeconds: 2, drainTasks: 20_000, startupSpawns: 3, idleMs: 1_000 };
export const QUICK_DURATIONS: Durations = { loadSeconds: 2, warmupSeconds: 1, drainTasks: 2_000, startupSpawns: 1, idleMs: 500 };
